"""Shared helpers for the benchmarks: a scratch PostgreSQL database and an app on it."""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

ADMIN_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")


def database_url(name: str) -> str:
    """The SQLAlchemy URL of database ``name`` next to BENCH_DATABASE_URL."""
    return _base().rsplit("/", 1)[0] + "/" + name


def _base() -> str:
    return ADMIN_URL.replace("postgresql://", "postgresql+psycopg://", 1)


def scratch_database(name: str) -> str:
    """(Re)create database ``name`` next to BENCH_DATABASE_URL; return its SQLAlchemy URL."""
    import sqlalchemy as sa
    admin = sa.create_engine(_base(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                             "WHERE datname = :n AND pid <> pg_backend_pid()"), {"n": name})
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return database_url(name)


def make_app(url: str):
    os.environ.setdefault("LOYALTY_INSTANCE", "/tmp/loyalty-bench")
    from server.app import create_app
    from server.extensions import upgrade
    app = create_app({"DATABASE_URL": url, "REDIS_URL": None, "SECRET_KEY": "bench",
                      "SECRET_KEY_IS_EPHEMERAL": False})
    upgrade(app)
    return app


def publish_accrual(app, document: dict) -> None:
    """Store and publish ``document`` as the accrual policy, in force since 2020."""
    from datetime import UTC, datetime

    from engine import policies
    from server.extensions import db
    with app.app_context():
        session = db.session()
        row = policies.save_draft(session, "accrual", document, author="bench")
        policies.publish(session, "accrual", by="bench", version=row.version,
                         effective_from=datetime(2020, 1, 1, tzinfo=UTC))
        session.commit()


def publish_defaults(session, names=("accrual", "settings")) -> None:
    """Publish the program's default policies ``names`` in force since 2020 (not committed)."""
    from datetime import UTC, datetime

    import rules
    from engine import policies
    for name, document in rules.default_policies().items():
        if name in names:
            policies.save_draft(session, name, document, author="bench")
            policies.publish(session, name, by="bench", effective_from=datetime(2020, 1, 1, tzinfo=UTC))


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


class Timer:
    """Wall seconds (``seconds``) and this process's CPU seconds (``cpu``) of the block."""

    def __enter__(self):
        self.start, self.cpu_start = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start
        self.cpu = time.process_time() - self.cpu_start
