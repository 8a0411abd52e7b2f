"""The nightly jobs: through a real RQ worker on Redis, and idempotent for their day."""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select

from engine import clock, members
from engine.documents import orders
from engine.domain import LineDoc, PurchaseDoc
from engine.models import JobRun, LedgerEntry
from tests.conftest import ACCRUAL_BASIC, T0

ROOT = Path(__file__).resolve().parents[2]


def _member_with_old_points(app):
    from server.extensions import db
    with app.app_context():
        session = db.session()
        member = members.create(session, {"name": "Old points"}, now=T0)
        # Placed and fulfilled 400 days ago: the 12-month lifetime is over.
        long_ago = clock.now() - timedelta(days=400)
        orders.record_purchase(session, PurchaseDoc(
            source="shop", external_id="OLD", document_type="order", member_ref=member.loyalty_id,
            placed_at=long_ago, currency="PLN", status="fulfilled",
            lines=(LineDoc(1, "A", Decimal(1), Decimal(100), Decimal(100)),)),
            actor="test", now=long_ago)
        session.commit()


def test_daily_jobs_run_on_a_real_rq_worker(pg_app, redis_url, publish):
    publish(ACCRUAL_BASIC)
    _member_with_old_points(pg_app)
    from redis import Redis

    from server import jobs
    from server.app import create_app
    from server.extensions import db
    Redis.from_url(redis_url).flushdb()
    queued_app = create_app({"TESTING": True, "DATABASE_URL": pg_app.config["DATABASE_URL"],
                             "REDIS_URL": redis_url, "SECRET_KEY": "t"})
    with queued_app.app_context():
        job = jobs.enqueue(jobs.run_daily, queue="default")
        assert job.get_status() == "queued"  # not run inline: a worker must take it
    env = {**os.environ, "DATABASE_URL": pg_app.config["DATABASE_URL"], "REDIS_URL": redis_url,
           "LOYALTY_INSTANCE": "/tmp/loyalty-worker-test"}
    worker = subprocess.run([str(Path(sys.executable).with_name("loyalty")), "worker",
                             "--burst", "-q", "default"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert worker.returncode == 0, worker.stdout + worker.stderr
    with pg_app.app_context():
        session = db.session()
        runs = {r.job: r for r in session.execute(select(JobRun)).scalars()}
        assert set(runs) == {"mature", "tiers", "birthdays", "expire", "warn", "summaries"}
        assert runs["expire"].stats["lots"] == 1
        expiry = session.execute(select(LedgerEntry).where(LedgerEntry.kind == "expiry")).scalar_one()
        assert expiry.amount == -10


def test_a_second_run_the_same_day_changes_nothing(app, publish):
    publish(ACCRUAL_BASIC)
    _member_with_old_points(app)
    runner = CliRunner()
    with app.app_context():
        first = runner.invoke(app.cli, ["daily"], catch_exceptions=False)
        second = runner.invoke(app.cli, ["daily"], catch_exceptions=False)
        check = runner.invoke(app.cli, ["check"])
    assert '"lots": 1' in first.output
    assert second.output.count("already ran today") == 6
    assert check.exit_code == 0 and "every invariant holds" in check.output
