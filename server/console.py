"""The `loyalty` console script: Flask's CLI around the app factory, which registers our commands."""
from __future__ import annotations

import sys

import click
from flask.cli import FlaskGroup

from server.app import create_app


def _create_app(*_args, **_kwargs):
    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=True, add_version_option=False)
def main():
    """Loyalty server: run `loyalty demo` to try it, `loyalty --help` for everything."""


if __name__ == "__main__":
    sys.exit(main())
