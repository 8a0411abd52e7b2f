"""`loyalty rewards` (registered by server.cli): the catalog, stock, pictures and the shipping export.

    loyalty rewards list [--all]                 loyalty rewards set SKU [--points P] [--stock N | --no-stock]
    loyalty rewards export FILE [--status S]…    loyalty rewards status ORDER_ID STATUS [--note TEXT]
    loyalty rewards pictures [--retry-failed]    (fetch pending pictures now, or queue them on a worker)
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import Path

import click
from flask.cli import with_appcontext

from engine import clock
from engine.engagement import reward_orders, rewards
from server.extensions import db

ACTOR = "cli"


def _fail(exc: Exception):
    raise click.ClickException(str(exc)) from None


@click.group("rewards")
def rewards_group():
    """Rewards and reward orders."""


@rewards_group.command("list")
@click.option("--all", "everything", is_flag=True, help="withdrawn rewards too")
@with_appcontext
def list_rewards(everything):
    """The catalog: SKU, points price, stock, picture state, name."""
    rows, _total = rewards.catalog(db.session(), per_page=100_000, include_inactive=everything)
    for reward, picture in rows:
        stock = "-" if reward.stock is None else reward.stock
        state = picture.state if picture is not None else "no picture"
        flag = "" if reward.active else "\twithdrawn"
        click.echo(f"{reward.sku}\t{reward.points_price} points\tstock {stock}\t{state}\t{reward.name}{flag}")


@rewards_group.command("set")
@click.argument("sku")
@click.option("--points", help="points price set by hand (the daily file keeps it)")
@click.option("--stock", type=click.IntRange(0, rewards.MAX_STOCK))
@click.option("--no-stock", is_flag=True, help="stop counting the stock")
@click.option("--active/--inactive", default=None)
@with_appcontext
def set_reward(sku, points, stock, no_stock, active):
    """Change a reward's points price, stock or active flag."""
    session = db.session()
    try:
        price = Decimal(points) if points is not None else None
        if price is not None and not price.is_finite():
            raise InvalidOperation
    except InvalidOperation:
        raise click.BadParameter(f"{points!r} is not a number of points", param_hint="--points") from None
    try:
        reward = rewards.update(session, rewards.get(session, sku), now=clock.now(), points_price=price,
                                stock=stock, clear_stock=no_stock, active=active)
    except rewards.RewardError as exc:
        _fail(exc)
    session.commit()
    click.echo(f"{reward.sku}: {reward.points_price} points, stock {'-' if reward.stock is None else reward.stock}, "
               f"{'active' if reward.active else 'withdrawn'}")


@rewards_group.command("export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--status", "statuses", multiple=True, type=click.Choice(reward_orders.STATUSES),
              help="only orders in this status (repeatable); default: all")
@with_appcontext
def export(file, statuses):
    """Write the reward orders as CSV for whoever ships them (one row per item; '-' for stdout)."""
    text = "".join(reward_orders.export_csv(db.session(), tuple(statuses)))
    if str(file) == "-":
        click.echo(text, nl=False)
        return
    file.write_text(text, encoding="utf-8")
    click.echo(f"{max(text.count(chr(10)) - 1, 0)} rows written to {file}")


@rewards_group.command("status")
@click.argument("order_id")
@click.argument("status", type=click.Choice(reward_orders.STATUSES[1:]))
@click.option("--note", default="")
@with_appcontext
def status(order_id, status, note):
    """Move a reward order on (cancelled refunds the points and puts the stock back)."""
    session = db.session()
    try:
        order, changed = reward_orders.change_status(session, order_id, status, actor=ACTOR, now=clock.now(),
                                                     note=note)
    except rewards.RewardError as exc:
        _fail(exc)
    session.commit()
    click.echo(f"reward order {order.external_id}: {order.status}" + ("" if changed else " (unchanged)"))


@rewards_group.command("pictures")
@click.option("--retry-failed", is_flag=True, help="try the pictures that failed again")
@with_appcontext
def pictures(retry_failed):
    """Fetch the pending reward pictures (inline without Redis, else queued for a worker)."""
    from server import jobs
    click.echo(f"{jobs.queue_pictures(retry_failed=retry_failed)} pictures queued")
