"""Idempotent writes: a retry gets the first answer, a different request under the
same key gets 409, and the answer is stored in the same transaction as the work.
The key is not looked up before the work: its unique record refuses a second
answer at the end, and the work of a retry rolls back (`idempotent`).

A replay is the first answer byte for byte: the JSON is stored as its text (a
JSON string in the column, since PostgreSQL's JSONB would reorder the keys),
and the view's XML root is named by ``formats.xml_document`` before this
decorator runs, so the XML form of a replay is the same document too.
"""
from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable

from flask import Response, g, make_response, request
from sqlalchemy import bindparam, insert, select

from engine import clock
from engine.models import IdempotencyRecord
from engine.models.prepared import Prepared
from server.errors import ApiError
from server.extensions import db

HEADER = "Idempotency-Key"


def _fingerprint() -> str:
    body = request.get_json(silent=True)
    canonical = json.dumps(body, sort_keys=True, default=str) if body is not None else \
        request.get_data(as_text=True)
    return hashlib.sha256(f"{request.method} {request.path}\n{canonical}".encode()).hexdigest()


def _replay(record, fingerprint: str) -> Response:
    if record.request_hash != fingerprint:
        raise ApiError(409, "idempotency_conflict",
                       f"the key {record.key!r} was already used for a different request")
    # Records written before the answer was kept as text hold the parsed object.
    body = record.response if isinstance(record.response, str) else json.dumps(record.response)
    response = make_response(body, record.status_code)
    response.mimetype = "application/json"
    response.headers["Idempotent-Replayed"] = "true"
    return response


_RECORDS = IdempotencyRecord.__table__
# Built once, on the table: the record's columns, not an object nothing changes.
_FIND = select(_RECORDS.c.key, _RECORDS.c.request_hash, _RECORDS.c.status_code, _RECORDS.c.response).where(
    _RECORDS.c.client == bindparam("client"), _RECORDS.c.key == bindparam("key"))


# Run on the driver's cursor: no execution context or result for a row nothing reads back.
_RECORD = Prepared(insert(_RECORDS).values({name: bindparam(name, type_=_RECORDS.c[name].type) for name in (
    "client", "key", "request_hash", "status_code", "response", "created_at")}))


def _find(session, client: str, key: str):
    """The stored answer under (client, key): a row of key, request_hash, status_code, response."""
    return session.execute(_FIND, {"client": client, "key": key}).one_or_none()


def transactional(view: Callable) -> Callable:
    """Commit the request's work once, after the view succeeded."""
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        session = db.session()
        try:
            result = view(*args, **kwargs)
            session.commit()
            return result
        except Exception:
            session.rollback()
            raise
    return wrapper


def read_only(view: Callable) -> Callable:
    """A view that only reads runs its statements outside a transaction (autocommit): no BEGIN and
    no ROLLBACK round trip around them. Each statement sees what was committed when it started;
    put it outside ``require`` so the key's lookup runs the same way."""
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        session = db.session()
        if not session.in_transaction():
            session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        return view(*args, **kwargs)
    return wrapper


def idempotent(natural_key: Callable[..., str | None] | None = None) -> Callable:
    """Make a write view idempotent on the ``Idempotency-Key`` header or, failing
    that, on ``natural_key(view kwargs, json body)`` (an order id, a redemption id).
    Must wrap the serialising response decorator (so it sees the final answer)."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            session = db.session()
            body = request.get_json(silent=True) or {}
            key = request.headers.get(HEADER) or (
                natural_key(kwargs, body if isinstance(body, dict) else {}) if natural_key else None)
            if not key:
                return transactional(view)(*args, **kwargs)
            if len(key) > 200:
                raise ApiError(400, "bad_request", f"{HEADER} is longer than 200 characters")
            client = g.api_key.name
            fingerprint = _fingerprint()
            # No lookup first: retries are rare, and the record's unique key tells them anyway. The view
            # runs and its work commits with the record; when the key is taken (the record's INSERT
            # fails, or the view did: a retry of what succeeded need not succeed again, its points are
            # spent), the work rolls back and the stored answer is replayed. A fresh write saves a round
            # trip; a retry costs its view's work, undone.
            try:
                response = make_response(view(*args, **kwargs))
                # An error answered without raising is not stored, and a stored answer wins over it.
                record = _find(session, client, key) if response.status_code >= 400 else None
                if record is None:
                    if response.status_code < 400:
                        # A Core INSERT, built once: no unit-of-work flush for a row nothing reads back.
                        _RECORD.rows(session, {
                            "client": client, "key": key, "request_hash": fingerprint,
                            "status_code": response.status_code, "response": response.get_data(as_text=True),
                            "created_at": clock.now()})
                    session.commit()
                    return response
            except Exception:
                # The view failed, or the record's INSERT met the key (answered before, or a concurrent
                # twin committed first): with a stored answer, answer as it did.
                session.rollback()
                record = _find(session, client, key)
                if record is None:
                    raise
            session.rollback()
            return _replay(record, fingerprint)
        return wrapper
    return decorator
