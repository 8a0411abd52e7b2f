"""API keys: one per integration, with scopes, stored as SHA-256, shown once."""
from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import g, request
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine import clock
from engine.models import ApiKey
from server.errors import ApiError
from server.extensions import db

SCOPES = {
    "members:read": "read members, balances and history",
    "members:write": "enrol and edit members",
    "orders:write": "send orders, statuses and returns; ask for quotes",
    "redemptions:write": "spend points and cancel redemptions",
    "adjustments:write": "manual corrections and bonuses",
    "events:write": "member events",
    "policies:read": "read rule documents and settings",
    "policies:write": "edit, simulate and publish rule documents and settings",
    "imports:read": "see import runs",
    "imports:write": "upload ERP files",
    "exchange:1c": "the 1C exchange protocol",
    "outbox:read": "see notifications, webhook deliveries and subscriptions",
    "webhooks:write": "manage webhook subscriptions and message templates",
    "promo:write": "generate, import, list, export and deactivate promo-code batches",
    "rewards:read": "see the reward catalog",
    "rewards:write": "edit rewards (points price, stock), move reward orders on, export them for shipping",
    "tiers:write": "pin and invite members into tiers; import historical turnover",
}
KIND_SCOPES = {
    "shop": ("members:read", "members:write", "orders:write", "redemptions:write",
             "events:write", "rewards:read"),
    "pos": ("members:read", "orders:write", "redemptions:write", "rewards:read"),
    "erp": ("members:read", "imports:read", "imports:write", "orders:write"),
    "onec": ("exchange:1c", "members:read"),
    "admin": tuple(SCOPES),
}


class KeyError_(ValueError):
    pass


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(session: Session, name: str, kind: str,
               scopes: list[str] | None = None) -> tuple[ApiKey, str]:
    """Create an integration key; returns (row, the key in clear — show it once)."""
    if kind not in KIND_SCOPES:
        raise KeyError_(f"unknown integration kind {kind!r}; use one of {', '.join(KIND_SCOPES)}")
    chosen = list(scopes) if scopes else list(KIND_SCOPES[kind])
    unknown = [s for s in chosen if s not in SCOPES]
    if unknown:
        raise KeyError_(f"unknown scopes {', '.join(unknown)}; known: {', '.join(SCOPES)}")
    if session.execute(select(ApiKey.id).where(ApiKey.name == name)).first():
        raise KeyError_(f"an integration called {name!r} already exists")
    prefix = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    plain = f"lk_{prefix}_{secret}"
    row = ApiKey(name=name, kind=kind, prefix=prefix, key_hash=_hash(plain),
                 scopes=" ".join(chosen), created_at=clock.now())
    session.add(row)
    session.flush()
    return row, plain


def revoke_key(session: Session, key_id: int) -> ApiKey:
    """Revoke a key: the next request (or 1C ``checkauth``) with it is refused. Revoking twice changes nothing."""
    row = session.get(ApiKey, key_id)
    if row is None:
        raise KeyError_(f"there is no API key {key_id}")
    if row.revoked_at is None:
        row.revoked_at = clock.now()
        session.flush()
    forget_keys()  # refused at once here; other processes within KEY_TTL
    return row


@dataclass(frozen=True)
class KeyInfo:
    """What a request needs of its key, detached from any session (it is cached across requests)."""

    id: int
    name: str
    kind: str
    scope_set: frozenset[str]
    last_used_at: datetime | None


def authenticate(session: Session, token: str) -> KeyInfo | None:
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != "lk":
        return None
    now = clock.now()
    digest = _hash(token)
    cached = _KEYS.get(digest)
    if cached is not None and now - cached[1] < KEY_TTL:
        key = cached[0]
    else:
        row = session.execute(select(ApiKey).where(ApiKey.prefix == parts[1])).scalar_one_or_none()
        if row is None or row.revoked_at is not None or not hmac.compare_digest(row.key_hash, digest):
            _KEYS.pop(digest, None)
            return None
        key = KeyInfo(row.id, row.name, row.kind, row.scope_set, row.last_used_at)
        if len(_KEYS) >= 1000:  # keys are few; a flood of other tokens never gets here (they fail above)
            _KEYS.clear()
        _KEYS[digest] = (key, now)
    # A read's transaction is rolled back, so the row's stamp alone cannot throttle: remember in the
    # process when this key was last stamped, or every GET would lock the key's row until it ends.
    stamped = _STAMPED.get(key.id)
    if (key.last_used_at is None or now - key.last_used_at > STAMP_EVERY) and \
            (stamped is None or now - stamped > STAMP_EVERY):
        # Sent with the request's own transaction (writes commit).
        session.execute(update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=now))
        _STAMPED[key.id] = now
    return key


def forget_keys() -> None:
    """Drop this process's cached keys (after a key is revoked or changed here)."""
    _KEYS.clear()


STAMP_EVERY = timedelta(minutes=5)
# A verified key is trusted for KEY_TTL without a query: a revoked key stops working on every
# node within that time (and at once in the process that calls `forget_keys`).
KEY_TTL = timedelta(seconds=5)
_STAMPED: dict[int, object] = {}  # key id → when this process last stamped it
_KEYS: dict[str, tuple[KeyInfo, datetime]] = {}  # SHA-256 of the token → (key, when it was read)


def current_key() -> KeyInfo:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "unauthorized",
                       "send an API key as 'Authorization: Bearer <key>'")
    key = authenticate(db.session(), token.strip())
    if key is None:
        raise ApiError(401, "unauthorized", "the API key is unknown or revoked")
    return key


def require(scope: str):
    """Decorator: the request needs a valid key holding ``scope``."""
    if scope not in SCOPES:
        raise RuntimeError(f"undeclared scope {scope}")

    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            key = current_key()
            if scope not in key.scope_set:
                raise ApiError(403, "forbidden",
                               f"the key of {key.name!r} lacks the scope {scope!r}")
            g.api_key = key
            g.actor = f"api:{key.name}"
            return view(*args, **kwargs)
        return wrapper
    return decorator
