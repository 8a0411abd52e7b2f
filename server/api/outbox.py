"""The outbox over HTTP: messages with their attempts, message templates, webhook subscriptions (CRUD).

``GET /api/v1/outbox/messages`` lists every notification and webhook
delivery with its state (queued, sent, failed, gave_up) and attempts;
``PUT /api/v1/outbox/templates/<trigger>/<channel>/<language>`` saves a new
template version, refused (422) when it uses a variable the trigger does not
document; ``/api/v1/webhooks`` creates, lists, changes, rotates and deletes
subscriptions. A subscription's secret is shown when it is created or rotated.
"""
from __future__ import annotations

from flask import current_app, g, request
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from engine import clock, outbox
from engine.models import OutboxMessage, WebhookSubscription
from exporters import messages
from exporters.channels import webhooks as webhook_channel
from server.api.bounds import Text
from server.auth import require
from server.errors import ApiError
from server.extensions import db
from server.formats import xml_root
from server.idempotency import transactional

MAX_ID = 2**62  # ids are 64-bit (SQLite refuses larger numbers outright)
blp = Blueprint("outbox", __name__, url_prefix="/api/v1",
                description="Notifications and webhooks: messages, attempts, templates, subscriptions")


TEMPLATE = 10_000  # characters of a message template: an e-mail, not a book
EVENT_TYPES = 50  # event types per subscription


class TemplateIn(Schema):
    body = Text(TEMPLATE, required=True)
    subject = Text(load_default="")


class SubscriptionIn(Schema):
    name = Text(64, required=True)
    url = Text(2000, required=True)
    event_types = fields.List(Text(40), required=True, validate=validate.Length(max=EVENT_TYPES))
    secret = Text(100)


class SubscriptionPatch(Schema):
    url = Text(2000)
    event_types = fields.List(Text(40), validate=validate.Length(max=EVENT_TYPES))
    active = fields.Boolean()


def _attempt(a) -> dict:
    return {"number": a.number, "started_at": a.started_at.isoformat(), "outcome": a.outcome,
            "finished_at": a.finished_at.isoformat() if a.finished_at else None,
            "status_code": a.status_code, "detail": a.detail}


def _message(m: OutboxMessage) -> dict:
    return {"id": m.id, "trigger": m.trigger, "channel": m.channel, "state": m.state, "recipient": m.recipient,
            "member_id": m.member_id, "subscription_id": m.subscription_id, "language": m.language,
            "delivery_key": m.delivery_key, "attempts": [_attempt(a) for a in m.attempt_rows],
            "next_attempt_at": m.next_attempt_at.isoformat() if m.state in ("queued", "failed") else None,
            "last_error": m.last_error, "created_at": m.created_at.isoformat(),
            "sent_at": m.sent_at.isoformat() if m.sent_at else None, "variables": m.variables}


def _subscription(s: WebhookSubscription, *, secret: bool = False) -> dict:
    out = {"id": s.id, "name": s.name, "url": s.url, "event_types": s.event_types, "active": s.active,
           "disabled_reason": s.disabled_reason, "created_at": s.created_at.isoformat(),
           "rotating_secrets": len(s.previous_secrets or [])}
    if secret:
        out["secret"] = s.secret
    return out


@blp.route("/outbox/messages", methods=["GET"])
@require("outbox:read")
def list_messages():
    """Newest first; ``?state=``, ``?channel=``, ``?member_id=``, ``?subscription_id=``, ``?limit=`` (≤ 500)."""
    xml_root("messages")
    stmt = select(OutboxMessage).order_by(OutboxMessage.id.desc())
    for name in ("state", "channel", "trigger"):
        if request.args.get(name):
            stmt = stmt.where(getattr(OutboxMessage, name) == request.args[name])
    for name in ("member_id", "subscription_id"):
        value = request.args.get(name, type=int)
        if value is not None:
            stmt = stmt.where(getattr(OutboxMessage, name) == (value if 0 < value <= MAX_ID else 0))
    limit = min(max(request.args.get("limit", 50, type=int), 1), 500)
    return {"messages": [_message(m) for m in db.session().execute(stmt.limit(limit)).scalars()]}


@blp.route("/outbox/messages/<int:message_id>", methods=["GET"])
@require("outbox:read")
def get_message(message_id: int):
    xml_root("message")
    message = db.session().get(OutboxMessage, message_id) if 0 < message_id <= MAX_ID else None
    if message is None:
        raise ApiError(404, "not_found", f"there is no outbox message {message_id}")
    return _message(message)


@blp.route("/outbox/templates/<trigger>/<channel>/<language>", methods=["PUT"])
@require("webhooks:write")
@transactional
@blp.arguments(TemplateIn)
def put_template(data, trigger, channel, language):
    """Save a new version; a syntax error or an undocumented variable is refused and nothing is stored."""
    xml_root("template")
    try:
        row = messages.save(db.session(), trigger=trigger, channel=channel, language=language,
                            body=data["body"], subject=data["subject"], author=g.actor, now=clock.now())
    except messages.TemplateError as exc:
        raise ApiError(422, "invalid_template", str(exc), {"variables": outbox.TRIGGERS.get(trigger, {})}) from None
    return {"trigger": row.trigger, "channel": row.channel, "language": row.language, "version": row.version,
            "subject": row.subject, "body": row.body}, 201


def _guard(url: str) -> None:
    try:
        webhook_channel.guard(url, tuple(current_app.config.get("WEBHOOK_ALLOW_PRIVATE") or ()))
    except webhook_channel.UnsafeUrl as exc:
        raise ApiError(422, "unsafe_url", str(exc)) from None


def _get_subscription(subscription_id: int) -> WebhookSubscription:
    row = db.session().get(WebhookSubscription, subscription_id) if 0 < subscription_id <= MAX_ID else None
    if row is None:
        raise ApiError(404, "not_found", f"there is no webhook subscription {subscription_id}")
    return row


@blp.route("/webhooks", methods=["GET"])
@require("outbox:read")
def list_subscriptions():
    xml_root("webhooks")
    rows = db.session().execute(select(WebhookSubscription).order_by(WebhookSubscription.id)).scalars()
    return {"webhooks": [_subscription(s) for s in rows], "event_types": list(outbox.EVENT_TYPES)}


@blp.route("/webhooks", methods=["POST"])
@require("webhooks:write")
@transactional
@blp.arguments(SubscriptionIn)
def create_subscription(data):
    """Subscribe a URL to event types; the answer carries the ``whsec_`` secret."""
    xml_root("webhook")
    _guard(data["url"])
    try:
        row = outbox.create_subscription(db.session(), name=data["name"], url=data["url"],
                                         event_types=data["event_types"], secret=data.get("secret"),
                                         now=clock.now())
    except outbox.SubscriptionError as exc:
        raise ApiError(422, "invalid_subscription", str(exc)) from None
    return _subscription(row, secret=True), 201


@blp.route("/webhooks/<int:subscription_id>", methods=["GET"])
@require("outbox:read")
def get_subscription(subscription_id: int):
    xml_root("webhook")
    return _subscription(_get_subscription(subscription_id))


@blp.route("/webhooks/<int:subscription_id>", methods=["PATCH"])
@require("webhooks:write")
@transactional
@blp.arguments(SubscriptionPatch)
def patch_subscription(data, subscription_id: int):
    """Change the URL or event types, or switch it on again after a 410 disabled it."""
    xml_root("webhook")
    row = _get_subscription(subscription_id)
    try:
        if "url" in data:
            _guard(data["url"])
            row.url = outbox.webhooks.check_url(data["url"])
        if "event_types" in data:
            row.event_types = outbox.webhooks.check_events(data["event_types"])
    except outbox.SubscriptionError as exc:
        raise ApiError(422, "invalid_subscription", str(exc)) from None
    if "active" in data:
        row.active = data["active"]
        row.disabled_reason = None if data["active"] else f"switched off by {g.actor}"
    return _subscription(row)


@blp.route("/webhooks/<int:subscription_id>/rotate", methods=["POST"])
@require("webhooks:write")
@transactional
def rotate(subscription_id: int):
    """A new secret; deliveries are signed with the old ones too until they age out of the list."""
    xml_root("webhook")
    row = _get_subscription(subscription_id)
    outbox.rotate_secret(row)
    return _subscription(row, secret=True)


@blp.route("/webhooks/<int:subscription_id>", methods=["DELETE"])
@require("webhooks:write")
@transactional
def delete_subscription(subscription_id: int):
    """Switched off for good and hidden from new events; its deliveries stay listed."""
    row = _get_subscription(subscription_id)
    row.active, row.disabled_reason = False, f"deleted by {g.actor}"
    return "", 204
