"""`loyalty onec …`: the merges by phone from the command line (list, undo)."""
from __future__ import annotations

import json

import click
from flask.cli import AppGroup
from sqlalchemy import select

from engine import clock
from engine.members import merges, undo
from engine.models import MemberMerge
from server.extensions import db
from server.onec.api import merge_out

# An AppGroup runs each command in an app context, as a blueprint's own CLI group would.
onec_group = AppGroup("onec", help="The 1C exchange: merges of members by phone (list, undo).")


def _echo(data) -> None:
    click.echo(json.dumps(data, indent=2, default=str, ensure_ascii=False))


@onec_group.command("merges")
@click.option("--state", type=click.Choice(["active", "undone", "all"]), default="active")
@click.option("--limit", default=50, show_default=True)
def list_merges(state, limit):
    """Merges of members by phone, newest first."""
    session = db.session()
    stmt = select(MemberMerge).order_by(MemberMerge.id.desc()).limit(limit)
    if state != "all":
        stmt = stmt.where(MemberMerge.undone_at.is_(None) if state == "active"
                          else MemberMerge.undone_at.is_not(None))
    _echo([merge_out(session, m) for m in session.execute(stmt).scalars()])


@onec_group.command("undo-merge")
@click.argument("merge_id", type=int)
def undo_merge(merge_id):
    """Undo merge MERGE_ID: the card or member stands alone again, its points move back."""
    session = db.session()
    try:
        merge = undo.undo_merge(session, merge_id, actor="cli", now=clock.now())
    except merges.MergeError as exc:
        raise click.ClickException(str(exc)) from None
    session.commit()
    _echo(merge_out(session, merge))
