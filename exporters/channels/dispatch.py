"""From a claimed outbox message to one send: render it, pick its channel, return the outcome.

Reads templates and the subscription's secrets, writes nothing: the worker
has committed the claim before this runs and records the outcome after.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from http.cookiejar import DefaultCookiePolicy
from urllib.parse import urlsplit

import requests
from sqlalchemy.orm import Session

from engine.models import WebhookSubscription
from engine.outbox import Claim
from exporters import messages
from exporters.channels import Outcome, email, sms, webhooks

__all__ = ["Channels", "Outcome", "from_config", "send"]


class _BatchHttp(requests.Session):
    """A session that reads the environment's proxy and CA settings once per host for its batch: requests
    reads them on every send otherwise, a fifth of a send's cost."""

    def __init__(self):
        super().__init__()
        self._settings: dict[str, dict] = {}

    def merge_environment_settings(self, url, proxies, stream, verify, cert):
        if proxies or verify is not None or cert is not None:
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        parts = urlsplit(url)
        key = f"{parts.scheme}://{parts.netloc}"
        if key not in self._settings:
            self._settings[key] = super().merge_environment_settings(url, proxies, None, verify, cert)
        return {**self._settings[key], "stream": self.stream if stream is None else stream}


@dataclass
class Channels:
    """The configured senders (``from_config``); `close` when the batch is done (its HTTP connections)."""

    sms: object = field(default_factory=sms.LogGateway)
    email: email.SmtpSender | None = None
    webhook_allow: tuple[str, ...] = ()
    http: requests.Session | None = None
    mail: email.SmtpSession | None = field(default=None, repr=False)

    def close(self) -> None:
        if self.http is not None:
            self.http.close()
        if self.mail is not None:
            self.mail.close()


def from_config(config: dict) -> Channels:
    """Channels from the app's settings (``SMS``, ``SMTP``, ``WEBHOOK_ALLOW_PRIVATE``; see server.config)."""
    smtp = config.get("SMTP") or {}
    sender = None
    if smtp.get("host"):
        sender = email.SmtpSender(host=smtp["host"], port=int(smtp.get("port") or 587),
                                  security=smtp.get("security") or "starttls", user=smtp.get("user") or "",
                                  password=smtp.get("password") or "",
                                  sender=smtp.get("sender") or "loyalty@localhost",
                                  verify_tls=smtp.get("verify_tls", True))
    http = _BatchHttp()  # one keep-alive connection per host for a worker's whole batch
    http.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))  # no receiver's cookie reaches another
    return Channels(sms=sms.gateway(config.get("SMS") or {}, http=http), email=sender,
                    webhook_allow=tuple(config.get("WEBHOOK_ALLOW_PRIVATE") or ()), http=http)


def send(session: Session, claim: Claim, channels: Channels) -> Outcome:
    if claim.channel == "webhook":
        subscription = session.get(WebhookSubscription, claim.subscription_id)
        body = json.dumps(claim.variables, separators=(",", ":"), ensure_ascii=False).encode()
        keys = [subscription.secret, *(subscription.previous_secrets or [])]
        return webhooks.send(claim.recipient, body, msg_id=claim.delivery_key, secrets=keys,
                             allow=channels.webhook_allow, http=channels.http)
    try:
        subject, body = messages.render(session, claim.trigger, claim.channel, claim.language, claim.variables)
    except Exception as exc:  # a template that cannot render now will not render on a retry either
        return Outcome(False, detail=f"the template did not render: {exc}", retry=False)
    if claim.channel == "sms":
        return channels.sms.send(claim.recipient, body, key=claim.delivery_key)
    if claim.channel == "email":
        if channels.email is None:
            return Outcome(False, detail="SMTP is not configured (SMTP_HOST)")
        if channels.mail is None:  # one connection for the rest of the batch
            channels.mail = email.SmtpSession(channels.email)
        return channels.mail.send(claim.recipient, subject, body, delivery_key=claim.delivery_key)
    return Outcome(False, detail=f"unknown channel {claim.channel!r}", retry=False)
