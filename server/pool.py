"""Pooled PostgreSQL connections are pinged at checkout only when they sat idle, not on every request.

SQLAlchemy's ``pool_pre_ping`` costs a round trip (``SELECT 1``) per checkout, which is one more per
request than the work itself. A connection handed back less than ``IDLE_PING_SECONDS`` ago is taken
as alive; one idle for longer (or new to this listener) is pinged, and a failed ping makes the pool
replace it (``DisconnectionError``), as ``pool_pre_ping`` would. A database restart within those
seconds fails the request that meets the dead connection, and SQLAlchemy then renews the pool.
"""
from __future__ import annotations

import time

from sqlalchemy import event, exc
from sqlalchemy.engine import Engine

IDLE_PING_SECONDS = 10.0
_RETURNED = "loyalty.returned_at"


def ping_when_idle(engine: Engine, idle: float = IDLE_PING_SECONDS) -> None:
    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection, record, _proxy) -> None:
        returned = record.info.get(_RETURNED)
        if returned is not None and time.monotonic() - returned < idle:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:  # any failure: the pool retries with a new connection
            raise exc.DisconnectionError(f"a pooled connection failed its ping: {error}") from error

    @event.listens_for(engine, "checkin")
    def _checkin(_dbapi_connection, record) -> None:
        record.info[_RETURNED] = time.monotonic()
