"""`loyalty tiers`: recalculate every member's tier (the nightly step), and its subcommands to pin or
invite a member into a tier and to import historical turnover."""
from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click
from flask.cli import with_appcontext

from engine import clock
from server.cli_common import echo_json as _echo
from server.cli_common import session as _session


@click.group("tiers", invoke_without_command=True)
@click.pass_context
@with_appcontext
def tiers_group(ctx):
    """Recalculate every member's tier (without a subcommand)."""
    if ctx.invoked_subcommand is not None:
        return
    from engine.engagement import tiers
    session = _session()
    stats = tiers.recalculate(session, clock.now())
    session.commit()
    _echo(stats)


@tiers_group.command("pin")
@click.argument("member")
@click.argument("tier")
@click.option("--until", "until", help="ISO date or time (UTC) the pin ends; required unless invitation-only")
@click.option("--note", default="")
@with_appcontext
def pin(member, tier, until, note):
    """Pin MEMBER to TIER (negotiated, until a date) or invite them into an invitation-only TIER;
    TIER "" removes the pin and the tier."""
    from engine import members
    from engine.engagement import tiers
    ends = None
    if until:
        try:
            ends = datetime.fromisoformat(until)
        except ValueError as exc:
            raise click.BadParameter(f"{until!r} is not an ISO date or time", param_hint="--until") from exc
        ends = ends.replace(tzinfo=UTC) if ends.tzinfo is None else ends
    session = _session()
    try:
        person = members.get(session, member)
        tiers.assign(session, person, tier, until=ends, actor="cli", note=note, now=clock.now())
    except (members.UnknownMember, tiers.TierError) as exc:
        raise click.ClickException(str(exc)) from exc
    session.commit()
    _echo(tiers.summary(session, person, clock.now()))


@tiers_group.command("turnover")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def turnover(path):
    """Import historical turnover from a CSV file (member, period, amount)."""
    from engine import policies
    from importers import tier_turnover
    from importers.textio import TextFileError
    session = _session()
    now = clock.now()
    try:
        run, created = tier_turnover.import_file(session, path.read_bytes(), filename=path.name, actor="cli",
                                                 now=now, tz=policies.settings(session, now).tz)
    except TextFileError as exc:
        raise click.ClickException(str(exc)) from exc
    session.commit()
    _echo({"import_run": run.id, "already_imported": not created, "rows_read": run.rows_read,
           "applied": run.applied, "duplicates": run.duplicates, "quarantined": run.quarantined})
