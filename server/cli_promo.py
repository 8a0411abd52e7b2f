"""`loyalty promo` (registered by server.cli): generate, import and export promo-code batches.

    loyalty promo generate --batch NAME --pattern MAL-####-???? --count N [--points P] [--valid-from T] [--expires T]
    loyalty promo import FILE [--batch NAME] [--points P] [--valid-from T] [--expires T]
    loyalty promo export BATCH FILE            loyalty promo list            loyalty promo deactivate BATCH
"""
from __future__ import annotations

import time
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

import click
from flask.cli import with_appcontext

from engine import clock
from engine.engagement import promo_codes
from server.extensions import db

ACTOR = "cli"


class _Instant(click.ParamType):
    """An ISO date or time; without a zone it is UTC (a date is its midnight)."""

    name = "time"

    def convert(self, value, param, ctx):
        if isinstance(value, datetime):
            return value
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            self.fail(f"{value!r} is not an ISO date or time such as 2026-12-31 or 2026-12-31T23:59+01:00",
                      param, ctx)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class _Points(click.ParamType):
    name = "points"

    def convert(self, value, param, ctx):
        try:
            points = Decimal(str(value))
        except InvalidOperation:
            self.fail(f"{value!r} is not a number of points", param, ctx)
        if not points.is_finite() or points <= 0:
            self.fail("points must be a positive number", param, ctx)
        return points


def _window(func):
    func = click.option("--expires", "valid_until", type=_Instant(), help="valid until (exclusive)")(func)
    func = click.option("--valid-from", type=_Instant(), help="not valid before")(func)
    return click.option("--points", type=_Points(), help="points per code; left out: the event policy decides")(func)


@click.group("promo")
def promo_group():
    """Promo-code batches: generate, import, export, list, deactivate."""


def _run(work):
    session = db.session()
    try:
        result = work(session)
    except promo_codes.PromoError as exc:
        session.rollback()
        raise click.ClickException(str(exc)) from None
    session.commit()
    return result


@promo_group.command("generate")
@click.option("--batch", "name", required=True, help="the batch's name")
@click.option("--pattern", required=True, help="# digit, ? letter, * either; a check character is appended")
@click.option("--count", type=click.IntRange(1, promo_codes.MAX_COUNT), required=True)
@_window
@with_appcontext
def generate(name, pattern, count, points, valid_from, valid_until):
    """Generate a batch of single-use codes from a pattern."""
    started = time.perf_counter()
    batch = _run(lambda s: promo_codes.generate(s, name, pattern, count, points=points, valid_from=valid_from,
                                                valid_until=valid_until, actor=ACTOR, now=clock.now()))
    click.echo(f"batch {batch.name} (id {batch.id}): {batch.code_count:,} codes in "
               f"{time.perf_counter() - started:.1f} s")


@promo_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--batch", "name", help="the batch's name (default: the file's name)")
@_window
@with_appcontext
def import_(file, name, points, valid_from, valid_until):
    """Import codes printed elsewhere from a CSV (a `code` column, or the first column)."""
    with file.open(encoding="utf-8-sig", newline="") as stream:
        batch = _run(lambda s: promo_codes.import_codes(
            s, name or file.stem, promo_codes.read_csv(stream), points=points, valid_from=valid_from,
            valid_until=valid_until, actor=ACTOR, now=clock.now()))
    click.echo(f"batch {batch.name} (id {batch.id}): {batch.code_count:,} codes imported")


@promo_group.command("export")
@click.argument("batch")
@click.argument("file", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@with_appcontext
def export(batch, file):
    """Write a batch's codes as CSV for the printer (BATCH is its name or id)."""
    session = db.session()
    try:
        row = promo_codes.get_batch(session, batch)
    except promo_codes.PromoError as exc:
        raise click.ClickException(str(exc)) from None
    with file.open("w", encoding="utf-8", newline="") as out:
        out.writelines(promo_codes.export_csv(session, row))
    click.echo(f"{row.code_count:,} codes of {row.name} written to {file}")


@promo_group.command("list")
@with_appcontext
def list_():
    """Every batch with its counts."""
    for batch, used in promo_codes.batches(db.session()):
        state = "active" if batch.active else "deactivated"
        points = batch.points if batch.points is not None else "event policy"
        click.echo(f"{batch.id}\t{batch.name}\t{batch.pattern or 'imported'}\t{batch.code_count} codes\t"
                   f"{used} used\t{points} points\t{state}")


@promo_group.command("deactivate")
@click.argument("batch")
@with_appcontext
def deactivate(batch):
    """Withdraw a batch: its unused codes are refused from now on."""
    row = _run(lambda s: promo_codes.deactivate(s, promo_codes.get_batch(s, batch), now=clock.now()))
    click.echo(f"batch {row.name} deactivated")
