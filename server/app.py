"""The application factory."""
from __future__ import annotations

import logging
import os
from pathlib import Path

from flask import Flask, current_app, redirect, url_for
from werkzeug.routing import IntegerConverter

import admin_ui
from server import api, cli, errors, extensions, formats, jobs, metrics
from server import config as config_module


def create_app(config: dict | None = None) -> Flask:
    app = Flask("loyalty", instance_path=os.environ.get(
        "LOYALTY_INSTANCE", str(Path.cwd() / "instance")),
        static_folder=str(Path(__file__).parent / "static"), static_url_path="/static")
    app.url_map.converters["int"] = _RowId
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.update(config_module.from_env(Path(app.instance_path)))
    if config:
        app.config.update(config)
        if "REDIS_URL" in config and "JOBS_INLINE" not in config:
            app.config["JOBS_INLINE"] = not config["REDIS_URL"]
    if app.config["SECRET_KEY_IS_EPHEMERAL"] and not app.testing:
        logging.getLogger(__name__).warning(
            "SECRET_KEY is not set: sessions will not survive a restart")

    formats.init_app(app)
    extensions.init_app(app)  # the database, migrations, the API layer and RQ
    errors.init_app(app)  # after the API extension, whose own error handler this replaces
    metrics.init_app(app)

    api.register(app)
    admin_ui.init_app(app)  # binds login_manager, csrf and babel from server.extensions
    cli.register(app)
    jobs.init_outbox(app)
    app.add_url_rule("/", "home", _home)
    return app


class _RowId(IntegerConverter):
    """``<int:…>`` in every route (API and admin UI): at most 18 digits, so every id it matches fits a
    64-bit column; a longer number matches no route (404) instead of overflowing the database driver."""

    regex = r"\d{1,18}"


def _home():
    """People who open the server's address land on the admin UI, or on the API docs
    while there is none."""
    if "admin" in current_app.blueprints:
        return redirect(url_for("admin.dashboard"))
    return redirect(url_for("api-docs.openapi_swagger_ui"))
