"""Background jobs: RQ on Redis, or inline in the calling process without Redis.

Jobs take ids and plain values, never ORM objects; each runs in a fresh app
context with its own session and commits once. Enqueue only after the
caller's commit, so a worker never looks for rows that are not there yet.
"""
from __future__ import annotations

import logging
from datetime import datetime

from flask import current_app

from engine import clock
from engine.engagement import tiers
from engine.ledger import daily
from server.extensions import db, rq

log = logging.getLogger(__name__)


def enqueue(job, *args, queue: str = "default", job_id: str | None = None, **kwargs):
    """Run ``job`` on a worker, or right here (in a fresh app context) without Redis."""
    app = current_app._get_current_object()
    if app.config["JOBS_INLINE"]:
        with app.app_context():
            return job(*args, **kwargs)
    options = {"job_id": job_id} if job_id else {}
    return rq.get_queue(queue).enqueue(job, *args, **kwargs, **options)


def run_daily(at: str | None = None, force: bool = False) -> dict:
    """The nightly sequence: mature → tiers → expire (warn and digest follow with
    notifications). Each step runs once per program day."""
    session = db.session()
    now = datetime.fromisoformat(at) if at else clock.now()
    steps = {"mature": daily.mature, "tiers": tiers.recalculate, "expire": daily.expire}
    report = {}
    for name, step in steps.items():
        stats = daily.run_once(session, name, step, now, force=force)
        session.commit()
        report[name] = "already ran today" if stats is None else stats
        log.info("daily %s: %s", name, report[name])
    return report
