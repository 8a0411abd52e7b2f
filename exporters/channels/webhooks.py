"""Webhooks signed the Standard Webhooks way, sent with a 15 s timeout behind an SSRF guard.

The signature is ``v1,<base64 HMAC-SHA256>`` of ``{webhook-id}.{webhook-timestamp}.{body}``
with the base64 key after ``whsec_``; during a rotation every current secret
signs, space-separated, and a receiver accepts any one it knows. The guard
refuses URLs whose host resolves to a private, loopback, link-local or
reserved address unless the operator allowed that address or network
(``WEBHOOK_ALLOW_PRIVATE``); redirects are not followed, so a public URL
cannot bounce a delivery inward.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import socket
import time
from urllib.parse import urlsplit

import requests

from exporters.channels import Outcome

TIMEOUT = 15.0
TOLERANCE = 300  # seconds a receiver should accept a timestamp off its own clock


class UnsafeUrl(ValueError):
    """A URL the guard refuses; the message names the address."""


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix("whsec_"))


def sign(secret: str, msg_id: str, timestamp: int, body: bytes | str) -> str:
    payload = body.encode() if isinstance(body, str) else body
    digest = hmac.new(_key(secret), f"{msg_id}.{timestamp}.".encode() + payload, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(secret: str, headers, body: bytes | str, *, now: int | None = None) -> bool:
    """The receiver's check: a fresh timestamp and one matching ``v1`` signature."""
    msg_id, stamp = headers.get("webhook-id"), headers.get("webhook-timestamp")
    if not msg_id or not stamp or not stamp.isdigit():
        return False
    if abs((now if now is not None else int(time.time())) - int(stamp)) > TOLERANCE:
        return False
    expected = sign(secret, msg_id, int(stamp), body).split(",", 1)[1]
    return any(hmac.compare_digest(sig.split(",", 1)[1], expected)
               for sig in headers.get("webhook-signature", "").split() if sig.startswith("v1,"))


def _allowed(address, allow: tuple[str, ...]) -> bool:
    return any(address in ipaddress.ip_network(item, strict=False) for item in allow)


def guard(url: str, allow: tuple[str, ...] = ()) -> None:
    """Refuse a URL that is not http(s) or whose host resolves to a non-public address."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeUrl(f"{url!r} is not an http(s) URL with a host")
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80),
                                   type=socket.SOCK_STREAM)
    except OSError as exc:
        raise UnsafeUrl(f"the host {parts.hostname!r} does not resolve: {exc}") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        if not address.is_global and not _allowed(address, allow):
            raise UnsafeUrl(f"{parts.hostname} resolves to {address}, a private or loopback address; "
                            "the operator can allow it with WEBHOOK_ALLOW_PRIVATE")


def headers_for(msg_id: str, secrets: list[str], body: bytes, timestamp: int | None = None) -> dict:
    stamp = int(time.time()) if timestamp is None else timestamp
    return {"content-type": "application/json", "webhook-id": msg_id, "webhook-timestamp": str(stamp),
            "webhook-signature": " ".join(sign(s, msg_id, stamp, body) for s in secrets),
            "user-agent": "loyalty-server-webhooks/1"}


def send(url: str, body: bytes, *, msg_id: str, secrets: list[str], allow: tuple[str, ...] = (),
         http: requests.Session | None = None) -> Outcome:
    """One delivery: the same ``msg_id`` on every retry, a fresh timestamp and signature each time."""
    try:
        guard(url, allow)
    except UnsafeUrl as exc:
        return Outcome(False, detail=str(exc), retry=False)
    try:
        response = (http or requests).post(url, data=body, headers=headers_for(msg_id, secrets, body),
                                 timeout=TIMEOUT, allow_redirects=False)
    except requests.RequestException as exc:
        return Outcome(False, detail=f"{exc.__class__.__name__}: {exc}"[:500])
    if 200 <= response.status_code < 300:
        return Outcome(True, response.status_code)
    return Outcome(False, response.status_code, f"HTTP {response.status_code}: {response.text[:200]}",
                   gone=response.status_code == 410)
