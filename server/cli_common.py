"""What every `loyalty` command group shares: the app context's session and JSON output."""
from __future__ import annotations

import json

import click


def session():
    from server.extensions import db
    return db.session()


def echo_json(data) -> None:
    click.echo(json.dumps(data, indent=2, default=str, ensure_ascii=False))
