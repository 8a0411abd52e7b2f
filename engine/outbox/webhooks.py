"""Webhook subscriptions: per integration and event types, with a ``whsec_`` secret that can be rotated.

A URL is checked for its shape here (http or https, a host); whether its
address is private or loopback is the channel's check
(``exporters.channels.webhooks.guard``), done on save and again before each
send, since DNS can change in between.
"""
from __future__ import annotations

import base64
import binascii
import secrets
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from engine.models import WebhookSubscription
from engine.outbox.triggers import EVENT_TYPES

MAX_PREVIOUS_SECRETS = 3


class SubscriptionError(ValueError):
    """A subscription that cannot be saved, with a message an integrator can act on."""


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def check_secret(secret: str) -> str:
    """``whsec_`` and the base64 of 24 to 64 random bytes (what the Standard Webhooks libraries accept)."""
    try:
        key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if not secret.startswith("whsec_") or not 24 <= len(key) <= 64:
        raise SubscriptionError("a secret must be whsec_ and the base64 of 24 to 64 bytes; "
                                "leave it out to get a new one")
    return secret


def check_url(url: str) -> str:
    if len(url or "") > 2000:
        raise SubscriptionError("a URL may be at most 2000 characters long")
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SubscriptionError(f"{url!r} is not an http(s) URL with a host")
    return url


def check_events(event_types) -> list[str]:
    if not event_types or not isinstance(event_types, list | tuple):
        raise SubscriptionError(f"name at least one event type: {', '.join(EVENT_TYPES)} (or *)")
    unknown = [e for e in event_types if e != "*" and e not in EVENT_TYPES]
    if unknown:
        raise SubscriptionError(f"unknown event types {', '.join(map(str, unknown))}; known: {', '.join(EVENT_TYPES)}")
    return list(dict.fromkeys(event_types))


def create_subscription(session: Session, *, name: str, url: str, event_types, now: datetime,
                        secret: str | None = None) -> WebhookSubscription:
    if not name or len(name) > 64:
        raise SubscriptionError("a subscription needs a name of at most 64 characters")
    if secret is not None:
        check_secret(secret)
    row = WebhookSubscription(name=name, url=check_url(url), event_types=check_events(event_types),
                              secret=secret or new_secret(), previous_secrets=[], active=True, created_at=now)
    session.add(row)
    session.flush()
    return row


def rotate_secret(subscription: WebhookSubscription) -> str:
    """A new secret; the old one keeps signing too (several signatures) until the next rotations."""
    previous = [subscription.secret, *(subscription.previous_secrets or [])][:MAX_PREVIOUS_SECRETS]
    subscription.previous_secrets = previous
    subscription.secret = new_secret()
    return subscription.secret
