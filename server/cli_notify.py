"""`loyalty notify` (registered by server.cli): the monthly digest by hand, and due deliveries.

    loyalty notify digest [--month YYYY-MM]     one message per consented member (once per month)
    loyalty notify deliver                      send what is due now (retries; without Redis, inline)
"""
from __future__ import annotations

import json

import click
from flask.cli import with_appcontext

from engine import outbox


@click.group("notify")
def notify_group():
    """Notifications: the monthly digest, due deliveries."""


@notify_group.command("digest")
@click.option("--month", help="YYYY-MM; default: the month before this one (program time zone)")
@with_appcontext
def digest(month):
    """Write the month's digest for every member who consented to e-mail or SMS (run twice: sent once)."""
    from server.jobs import run_digest
    try:
        report = run_digest(month)
    except outbox.DigestError as exc:
        raise click.BadParameter(str(exc), param_hint="--month") from None
    click.echo(json.dumps(report, ensure_ascii=False))


@notify_group.command("deliver")
@with_appcontext
def deliver():
    """Send (or queue, with Redis) every message that is due: retries after their delay, lost claims."""
    from server.jobs import deliver_due
    click.echo(json.dumps(deliver_due()))
