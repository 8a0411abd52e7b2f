"""Our commands of the `loyalty` CLI (demo, check, nightly steps, worker, cron, users, keys, policies);
the factory registers them, `server.console` is the entry point."""
from __future__ import annotations

import json
import os
from decimal import Decimal
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from engine import clock
from engine.engagement import birthdays as engagement_birthdays
from engine.ledger import daily
from server.cli_common import echo_json as _echo_json
from server.cli_common import session as _session


def register(app: Flask) -> None:
    # `loyalty db upgrade|downgrade|revision|...` comes from Flask-Migrate (bound in extensions).
    for command in (seed_demo, demo, check, mature, birthdays, expire, daily_cmd, worker, cron):
        app.cli.add_command(command)
    app.cli.add_command(users)
    app.cli.add_command(keys)
    app.cli.add_command(policies_group)
    from server.cli_imports import import_group
    app.cli.add_command(import_group)
    from server.cli_promo import promo_group
    app.cli.add_command(promo_group)
    from server.cli_notify import notify_group
    app.cli.add_command(notify_group)
    from server.cli_rewards import rewards_group
    app.cli.add_command(rewards_group)
    from server.cli_tiers import tiers_group
    app.cli.add_command(tiers_group)


@click.group()
def users():
    """Admin UI users."""


@users.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice(["admin", "marketer", "viewer"]), default="admin")
@click.password_option()
@with_appcontext
def users_create(email, role, password):
    """Create an admin UI user."""
    from werkzeug.security import generate_password_hash

    from engine.models import User
    session = _session()
    session.add(User(email=email.lower(), password_hash=generate_password_hash(password), role=role))
    session.commit()
    click.echo(f"user {email} ({role}) created")


@click.group()
def keys():
    """Integration API keys."""


@keys.command("create")
@click.argument("name")
@click.option("--kind", type=click.Choice(["shop", "pos", "erp", "onec", "admin"]), default="shop")
@click.option("--scopes", default="", help="space- or comma-separated; default: the kind's")
@with_appcontext
def keys_create(name, kind, scopes):
    """Create a key for an integration and print it once (only its hash is kept)."""
    from server.auth import KeyError_, create_key
    session = _session()
    try:
        row, plain = create_key(session, name, kind, scopes.replace(",", " ").split() or None)
    except KeyError_ as exc:
        raise click.ClickException(str(exc)) from None
    session.commit()
    click.echo(plain)
    click.echo(f"# {name} ({kind}): {row.scopes}", err=True)


@click.group("policies")
def policies_group():
    """Rule documents and program settings."""


@policies_group.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--publish", "publish_now", is_flag=True, help="publish it right away")
@click.option("--comment", default="")
@with_appcontext
def policies_load(file, publish_now, comment):
    """Store a policy document (JSON) as a new draft, validated first."""
    import rules
    from engine import policies
    from server.formats import nested_deeper_than, too_deep_message
    try:
        text = file.read_text(encoding="utf-8")
        if nested_deeper_than(text):  # before json.loads, which would recurse into it
            raise ValueError(too_deep_message())
        document = json.loads(text, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"{file} is not valid JSON: {exc}") from None
    name = document.get("policy") if isinstance(document, dict) else None
    if not name:
        raise click.ClickException(f'{file} must be an object with a "policy" name') from None
    session = _session()
    try:
        row = policies.save_draft(session, name, document, author="cli", comment=comment)
        if publish_now:
            policies.publish(session, name, by="cli", version=row.version)
    except rules.RuleValidationError as exc:
        for message in exc.errors:
            click.echo(f"  {message.path}: {message.message}", err=True)
        raise click.ClickException(f"{file}: {exc.problem_count} problem(s); nothing was stored") from None
    except policies.UnknownPolicy as exc:
        raise click.ClickException(str(exc)) from None
    session.commit()
    click.echo(f"{name} v{row.version} stored as {row.status}")


@policies_group.command("publish")
@click.argument("policy")
@click.option("--version", type=int)
@with_appcontext
def policies_publish(policy, version):
    """Publish the newest draft (or --version) of POLICY."""
    from engine import policies
    session = _session()
    try:
        row = policies.publish(session, policy, by="cli", version=version)
    except (policies.UnknownPolicy, policies.NothingToPublish) as exc:
        raise click.ClickException(str(exc)) from None
    session.commit()
    click.echo(f"{policy} v{row.version} published")


@click.command("check")
@with_appcontext
def check():
    """Verify every ledger invariant; exit non-zero on any violation."""
    from engine.ledger.check import check as run_check
    violations = run_check(_session())
    for violation in violations:
        click.echo(str(violation), err=True)
    if violations:
        raise SystemExit(1)
    click.echo("ledger OK: every invariant holds")


def _nightly_step(job: str, step, help_text: str):
    """A CLI command running one nightly step once for the program day."""
    @click.command(job, help=help_text)
    @click.option("--force", is_flag=True, help="run again even if it ran today")
    @with_appcontext
    def command(force):
        session = _session()
        stats = daily.run_once(session, job, step, clock.now(), force=force)
        if stats is None:
            click.echo(f"{job} already ran today (use --force)")
            return
        session.commit()
        _echo_json(stats)
    return command


mature = _nightly_step("mature", daily.mature, "Make pending points whose holding period ended available.")
expire = _nightly_step("expire", daily.expire, "Expire lots past their date.")
birthdays = _nightly_step("birthdays", engagement_birthdays.award,
                          "Award the birthday policy to today's birthdays (program time zone).")


@click.command("daily")
@click.option("--force", is_flag=True)
@with_appcontext
def daily_cmd(force):
    """Run the nightly sequence now (mature → tiers → birthdays → expire → warn)."""
    from server.jobs import run_daily
    _echo_json(run_daily(force=force))


@click.command("worker")
@click.option("--queues", "-q", multiple=True, help="default: all")
@click.option("--burst", is_flag=True, help="quit when the queues are empty")
@with_appcontext
def worker(queues, burst):
    """Run an RQ worker (each job in a fresh app context)."""
    if not current_app.config.get("REDIS_URL"):
        raise click.ClickException("REDIS_URL is not set: without Redis, jobs run inline") from None
    os.environ.setdefault("FLASK_APP", "server.app:create_app")
    from server.extensions import rq
    rq.make_worker(list(queues) or None).work(burst=burst)


@click.command("cron")
@with_appcontext
def cron():
    """Run the RQ cron scheduler (daily import poll and nightly jobs)."""
    if not current_app.config.get("REDIS_URL"):
        raise click.ClickException("REDIS_URL is not set: the scheduler needs Redis") from None
    from server import schedule
    schedule.register(current_app)
    from server.extensions import rq
    rq.make_cron_scheduler().start()


@click.command("seed-demo")
@with_appcontext
def seed_demo():
    """Load the default program and demo members and orders (once)."""
    from server import demo as demo_data
    report = demo_data.seed(_session(), upload_folder=current_app.config["UPLOAD_FOLDER"])
    _echo_json(report)


@click.command("demo")
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=5000, type=int)
@with_appcontext
def demo(host, port):
    """Migrate, seed the demo program and data, print the logins, and serve."""
    from server import demo as demo_data
    from server.extensions import upgrade
    upgrade(current_app)
    click.echo("Loading the demo program and 90 days of history (once; about a minute)…")
    report = demo_data.seed(_session(), base_url=f"http://{host}:{port}",
                            upload_folder=current_app.config["UPLOAD_FOLDER"])
    click.echo("")
    click.echo("Loyalty server demo")
    click.echo(f"  API:      http://{host}:{port}/api/v1   (docs: /api/v1/docs)")
    for line in report.get("logins", []):
        click.echo(f"  {line}")
    click.echo("")
    from werkzeug.serving import run_simple
    run_simple(host, port, current_app._get_current_object(), threaded=True)
