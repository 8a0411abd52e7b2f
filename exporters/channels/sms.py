"""SMS gateways behind one interface, ``send(phone, text, key=None)``: SMSAPI.pl, SMS.ru, TurboSMS, a log.

Each class knows its provider's request and answer; the base URL is a
setting so a gateway can be pointed at a proxy or at a test receiver.
``key`` is the message's delivery key: SMSAPI deduplicates on it (``idx``
with ``check_idx``), the others carry no such field, so after a crash
between send and commit they may repeat an SMS (the outbox never loses one).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import requests

from exporters.channels import Outcome

log = logging.getLogger(__name__)
TIMEOUT = 15.0


def _digits(phone: str) -> str:
    return "".join(ch for ch in phone if ch.isdigit())


def _post(url: str, http: requests.Session | None = None, **kwargs) -> requests.Response | Outcome:
    try:
        return (http or requests).post(url, timeout=TIMEOUT, allow_redirects=False, **kwargs)
    except requests.RequestException as exc:
        return Outcome(False, detail=f"{exc.__class__.__name__}: {exc}"[:500])


def _json(response: requests.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


@dataclass
class SmsApiGateway:
    """SMSAPI.pl: ``POST /sms.do`` with a bearer token, form fields, ``format=json``."""

    token: str
    sender: str = ""
    base_url: str = "https://api.smsapi.pl"
    http: requests.Session | None = field(default=None, repr=False, compare=False)

    def send(self, phone: str, text: str, key: str | None = None) -> Outcome:
        data = {"to": _digits(phone), "message": text, "format": "json", "encoding": "utf-8"}
        if self.sender:
            data["from"] = self.sender
        if key:
            data.update(idx=key, check_idx="1")
        response = _post(f"{self.base_url.rstrip('/')}/sms.do", self.http, data=data,
                         headers={"Authorization": f"Bearer {self.token}"})
        if isinstance(response, Outcome):
            return response
        body = _json(response)
        if response.ok and body.get("list") and "error" not in body:
            return Outcome(True, response.status_code, f"id {body['list'][0].get('id')}")
        detail = f"SMSAPI error {body.get('error')}: {body.get('message')}" if body else response.text[:300]
        return Outcome(False, response.status_code, detail, retry=response.status_code >= 500 or not body)


@dataclass
class SmsRuGateway:
    """SMS.ru: ``POST /sms/send`` with ``api_id``, ``to``, ``msg`` and ``json=1``."""

    api_id: str
    sender: str = ""
    base_url: str = "https://sms.ru"
    http: requests.Session | None = field(default=None, repr=False, compare=False)

    def send(self, phone: str, text: str, key: str | None = None) -> Outcome:
        number = _digits(phone)
        data = {"api_id": self.api_id, "to": number, "msg": text, "json": "1"}
        if self.sender:
            data["from"] = self.sender
        response = _post(f"{self.base_url.rstrip('/')}/sms/send", self.http, data=data)
        if isinstance(response, Outcome):
            return response
        body = _json(response)
        one = (body.get("sms") or {}).get(number) or {}
        if body.get("status") == "OK" and one.get("status") == "OK":
            return Outcome(True, response.status_code, f"id {one.get('sms_id')}")
        detail = f"SMS.ru {one.get('status_code') or body.get('status_code')}: " \
                 f"{one.get('status_text') or body.get('status_text')}"
        return Outcome(False, response.status_code, detail, retry=response.status_code >= 500 or not body)


@dataclass
class TurboSmsGateway:
    """TurboSMS: ``POST /message/send.json`` with a bearer token and a JSON body."""

    token: str
    sender: str = "MAGAZIN"
    base_url: str = "https://api.turbosms.ua"
    http: requests.Session | None = field(default=None, repr=False, compare=False)

    def send(self, phone: str, text: str, key: str | None = None) -> Outcome:
        payload = {"recipients": [_digits(phone)], "sms": {"sender": self.sender, "text": text}}
        response = _post(f"{self.base_url.rstrip('/')}/message/send.json", self.http, json=payload,
                         headers={"Authorization": f"Bearer {self.token}"})
        if isinstance(response, Outcome):
            return response
        body = _json(response)
        status = str(body.get("response_status", ""))
        if response.ok and (status == "OK" or status.startswith("SUCCESS")):
            return Outcome(True, response.status_code, status)
        return Outcome(False, response.status_code, f"TurboSMS {body.get('response_code')}: {status}",
                       retry=response.status_code >= 500 or not body)


@dataclass
class LogGateway:
    """The demo gateway: writes the SMS to the log (and keeps it, for a look in a shell)."""

    sent: list[tuple[str, str]] = field(default_factory=list)

    def send(self, phone: str, text: str, key: str | None = None) -> Outcome:
        log.info("SMS to %s (%s): %s", phone, key, text)
        self.sent.append((phone, text))
        return Outcome(True, detail="logged")


GATEWAYS = {"smsapi": SmsApiGateway, "smsru": SmsRuGateway, "turbosms": TurboSmsGateway, "log": LogGateway}


def gateway(settings: dict, http: requests.Session | None = None):
    """The gateway named by ``settings['gateway']`` with its token, sender and base URL; ``http``: a session
    whose connections the sends reuse (a worker's batch), else each send opens its own."""
    name = (settings.get("gateway") or "log").lower()
    if name not in GATEWAYS:
        raise ValueError(f"unknown SMS gateway {name!r}; use one of {', '.join(GATEWAYS)}")
    if name == "log":
        return LogGateway()
    options = {"sender": settings.get("sender") or "", "http": http}
    if settings.get("url"):
        options["base_url"] = settings["url"]
    if name == "smsru":
        return SmsRuGateway(api_id=settings.get("token") or "", **options)
    if name == "turbosms" and not options["sender"]:
        options.pop("sender")
    return GATEWAYS[name](token=settings.get("token") or "", **options)
