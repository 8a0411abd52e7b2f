"""Messages: templates per trigger, channel and language (edit with versions, preview, a test to me),
the outbox with each message's state and attempts, webhook subscriptions with deliveries and rotation."""
from __future__ import annotations

import uuid

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from admin_ui import bp
from admin_ui.auth import WRITERS, role_required
from engine import clock, outbox
from engine.models import WebhookSubscription
from engine.models.outbox import MESSAGE_STATES
from engine.outbox import views
from exporters import messages
from server.extensions import db


class TemplateForm(FlaskForm):
    subject = StringField(_l("Subject (e-mail only)"), validators=[Length(max=500)])
    body = TextAreaField(_l("Text"), validators=[DataRequired(), Length(max=10_000)])


class TestForm(FlaskForm):
    phone = StringField(_l("Your phone number (for a test SMS)"), validators=[Optional(), Length(max=20)])


def trigger_names() -> dict[str, str]:
    return {"points.credited": _("Points credited"), "points.expiring": _("Points about to expire"),
            "digest.monthly": _("Monthly digest"), "mission.completed": _("Mission completed"),
            "tier.changed": _("Tier changed"), "reward_order.status_changed": _("Reward order status")}


def _names() -> dict:
    states = {"queued": _("queued"), "sent": _("sent"), "failed": _("failed"), "gave_up": _("gave up")}
    channels = {"sms": _("SMS"), "email": _("e-mail"), "webhook": _("webhook")}
    return {"trigger_names": trigger_names(), "state_names": states, "channel_names": channels}


def refusal(exc: messages.TemplateError) -> str:
    """Why a template was refused, in the reader's language."""
    part = _("subject") if exc.part == "subject" else _("text")
    if exc.unknown:
        return _("The %(part)s uses %(names)s, which this message does not provide; you can use: %(allowed)s.",
                 part=part, names=", ".join(exc.unknown), allowed=", ".join(exc.allowed))
    if exc.line is not None:
        return _("The %(part)s has a mistake on line %(line)d: %(detail)s", part=part, line=exc.line,
                 detail=str(exc).rpartition(": ")[2])
    if "empty" in str(exc):
        return _("Write the text of the message.")
    return _("The template does not render: %(detail)s", detail=str(exc).rpartition(": ")[2])


def _key(trigger: str, channel: str, language: str) -> tuple[str, str, str]:
    if trigger not in outbox.TRIGGERS or channel not in messages.CHANNELS or language not in messages.LANGUAGES:
        abort(404)
    return trigger, channel, language


@bp.get("/messages", endpoint="messages")
@login_required
def templates_list():
    return render_template("admin/messages/templates.html", triggers=outbox.TRIGGERS, channels=messages.CHANNELS,
                           languages=messages.LANGUAGES, stored=views.template_versions(db.session()), **_names())


def _editor(key, form: TemplateForm | None = None, error: str | None = None, status: int = 200):
    session = db.session()
    subject, body = messages.source(session, *key)
    form = form or TemplateForm(formdata=None, subject=subject, body=body)
    return render_template("admin/messages/edit.html", trigger=key[0], channel=key[1], language=key[2],
                           form=form, error=error,
                           variables=outbox.TRIGGERS[key[0]], versions=views.versions(session, *key),
                           test_form=TestForm(formdata=None), can_write=current_user.role in WRITERS,
                           **_names()), status


@bp.get("/messages/templates/<trigger>/<channel>/<language>", endpoint="message_template")
@login_required
def template_edit(trigger: str, channel: str, language: str):
    return _editor(_key(trigger, channel, language))


@bp.post("/messages/templates/<trigger>/<channel>/<language>")
@role_required(*WRITERS)
def template_save(trigger: str, channel: str, language: str):
    key = _key(trigger, channel, language)
    form = TemplateForm()
    if not form.validate():
        return _editor(key, form, _("Write the text of the message."), 422)
    session = db.session()
    try:
        row = messages.save(session, trigger=trigger, channel=channel, language=language, body=form.body.data,
                            subject=form.subject.data or "", author=current_user.email, now=clock.now())
    except messages.TemplateError as exc:
        session.rollback()
        return _editor(key, form, _("Not saved. %(reason)s", reason=refusal(exc)), 422)
    session.commit()
    flash(_("Saved as version %(version)d; new messages use it from now on.", version=row.version))
    return redirect(url_for("admin.message_template", trigger=trigger, channel=channel, language=language))


@bp.post("/messages/templates/<trigger>/<channel>/<language>/preview", endpoint="message_preview")
@login_required
def template_preview(trigger: str, channel: str, language: str):
    """The draft in the editor rendered with sample values, or why it would be refused (htmx partial)."""
    key = _key(trigger, channel, language)
    try:
        subject, body = messages.preview(*key, request.form.get("body", ""), request.form.get("subject", ""))
    except messages.TemplateError as exc:
        return render_template("admin/messages/_preview.html", error=refusal(exc)), 422
    return render_template("admin/messages/_preview.html", subject=subject, body=body, channel=channel)


@bp.post("/messages/templates/<trigger>/<channel>/<language>/test", endpoint="message_test")
@role_required(*WRITERS)
def template_test(trigger: str, channel: str, language: str):
    """The stored template, with sample values, to the signed-in user through the real channel (the outbox)."""
    _key(trigger, channel, language)
    form = TestForm()
    recipient = current_user.email if channel == "email" else (form.phone.data or "").strip()
    if channel == "sms" and (not form.validate() or len("".join(c for c in recipient if c.isdigit())) < 7):
        flash(_("Give a phone number to send the test SMS to."), "error")
        return redirect(url_for("admin.message_template", trigger=trigger, channel=channel, language=language))
    session = db.session()
    message = outbox.enqueue(session, trigger=trigger, channel=channel, cause_key=f"test:{uuid.uuid4().hex}",
                             recipient=recipient, variables=messages.samples(trigger), now=clock.now(),
                             language=language)
    session.commit()  # delivered right after the commit (inline) or by a worker
    flash(_("A test message went to %(recipient)s: see it in the outbox (message %(id)d).",
            recipient=recipient, id=message.id))
    return redirect(url_for("admin.message_template", trigger=trigger, channel=channel, language=language))


@bp.get("/messages/outbox", endpoint="outbox")
@login_required
def outbox_list():
    state = request.args.get("state") if request.args.get("state") in MESSAGE_STATES else None
    channel = request.args.get("channel") if request.args.get("channel") in ("sms", "email", "webhook") else None
    session = db.session()
    return render_template("admin/messages/outbox.html", rows=views.messages(session, state=state, channel=channel),
                           counts=views.state_counts(session), state=state, channel=channel, **_names())


@bp.get("/messages/webhooks", endpoint="webhooks")
@login_required
def webhooks_list():
    return render_template("admin/messages/webhooks.html", subscriptions=views.subscriptions(db.session()),
                           new_secret=None, **_names())


@bp.post("/messages/webhooks/<int:subscription_id>/rotate", endpoint="webhook_rotate")
@role_required("admin")
def webhook_rotate(subscription_id: int):
    session = db.session()
    subscription = session.get(WebhookSubscription, subscription_id) if subscription_id < 2**62 else None
    if subscription is None:
        abort(404)
    secret = outbox.rotate_secret(subscription)
    session.commit()
    # The secret is shown this once (the API does the same); the old ones keep signing beside it.
    return render_template("admin/messages/webhooks.html", subscriptions=views.subscriptions(session),
                           new_secret=(subscription, secret), **_names())
