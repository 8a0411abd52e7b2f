"""Pooled connections: pinged at checkout only after sitting idle, and replaced when the ping fails."""
from __future__ import annotations

import sqlalchemy as sa

from server.pool import ping_when_idle
from tests.conftest import scratch_database


def test_a_connection_back_from_a_request_is_not_pinged_and_an_idle_dead_one_is_replaced():
    with scratch_database("loyalty_pool") as url:
        admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        engine = sa.create_engine(url, pool_size=1, max_overflow=0)
        pings: list[str] = []
        real_ping = engine.dialect.do_ping
        engine.dialect.do_ping = lambda conn: pings.append("ping") or real_ping(conn)
        ping_when_idle(engine, idle=60)
        try:
            with engine.connect() as conn:  # a new connection: pinged once
                pid = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
            with engine.connect() as conn:  # back a moment ago: no ping, the same backend
                assert conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one() == pid
            assert pings == ["ping"]
            with admin.connect() as conn:  # the server drops it while it sits in the pool
                conn.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": pid})
            engine.pool._pool.queue[0].info.clear()  # as if idle for longer than `idle`
            with engine.connect() as conn:  # the ping fails, the pool reconnects: the request works
                assert conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one() != pid
            assert pings == ["ping", "ping", "ping"]
        finally:
            engine.dispose()
            admin.dispose()
