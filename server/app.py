"""The application factory."""
from __future__ import annotations

import logging
import os
from pathlib import Path

from flask import Flask

from server import config as config_module


def create_app(config: dict | None = None) -> Flask:
    app = Flask("loyalty", instance_path=os.environ.get(
        "LOYALTY_INSTANCE", str(Path.cwd() / "instance")))
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.update(config_module.from_env(Path(app.instance_path)))
    if config:
        app.config.update(config)
        if "REDIS_URL" in config and "JOBS_INLINE" not in config:
            app.config["JOBS_INLINE"] = not config["REDIS_URL"]
    if app.config["SECRET_KEY_IS_EPHEMERAL"] and not app.testing:
        logging.getLogger(__name__).warning(
            "SECRET_KEY is not set: sessions will not survive a restart")

    from server import errors, extensions, formats, metrics
    formats.init_app(app)
    extensions.init_app(app)  # the database, migrations, the API layer and RQ
    errors.init_app(app)  # after the API extension, whose own error handler this replaces
    metrics.init_app(app)

    from server.api import register
    register(app)
    from server import cli, jobs
    cli.register(app)
    jobs.init_outbox(app)
    return app
