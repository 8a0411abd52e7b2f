"""The schedule `loyalty cron` runs (RQ's built-in cron): import poll and nightly jobs."""
from __future__ import annotations

from flask import Flask

from server.extensions import rq


def register(app: Flask) -> None:
    from server import jobs
    rq.cron_register(jobs.run_daily, app.config["DAILY_JOBS_CRON"], queue="default")
    poll = _import_poll()
    if poll is not None and app.config.get("IMPORT_SOURCES"):
        rq.cron_register(poll, app.config["IMPORT_POLL_CRON"], queue="imports")


def _import_poll():
    try:
        from importers.jobs import poll_sources
    except ImportError:  # the importers are optional in a slimmed deployment
        return None
    return poll_sources
