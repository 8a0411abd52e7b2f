"""The schedule `loyalty cron` runs (RQ's built-in cron).

Import poll, nightly jobs, the monthly digest, delivery retries, failed pictures.
"""
from __future__ import annotations

from flask import Flask

from server.extensions import rq


def register(app: Flask) -> None:
    from server import jobs
    rq.cron_register(jobs.run_daily, app.config["DAILY_JOBS_CRON"], queue="default")
    rq.cron_register(jobs.run_digest, app.config.get("DIGEST_CRON", "0 6 1 * *"), queue="default")
    rq.cron_register(jobs.deliver_due, app.config.get("OUTBOX_CRON", "* * * * *"), queue=jobs.OUTBOX)
    # A supplier's server that was down may be back: its pictures are tried again once a day.
    rq.cron_register(jobs.queue_pictures, app.config.get("PICTURE_RETRY_CRON", "45 4 * * *"), queue="default",
                     kwargs={"retry_failed": True})
    if app.config.get("IMPORT_SOURCES"):
        rq.cron_register(jobs.poll_sources, app.config["IMPORT_POLL_CRON"], queue=jobs.IMPORTS)
