"""Extensions created without an app and bound in the factory: the database, migrations, OpenAPI, RQ,
and the admin UI's sessions (Flask-Login), CSRF (Flask-WTF) and translations (Flask-Babel)."""
from __future__ import annotations

from pathlib import Path

import flask_migrate
from flask import Flask, current_app
from flask_babel import Babel
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_rq import RQ
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from engine.models.base import Base
from server.pool import ping_when_idle

MIGRATIONS = Path(__file__).parent / "migrations"

# The engine's own declarative base: models stay plain SQLAlchemy in engine/ and
# only the delivery layer knows db.session (one per app context, removed at teardown).
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
migrate = Migrate()
api = Api()
rq = RQ()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()


class SessionFactory:
    """The app's engine with a sessionmaker of its own, for code outside an app context's session.

    The import pipeline and its forked workers take one of these (importers.sap_b1.pipeline.Database):
    after a fork the child calls ``engine.dispose(close=False)`` and opens fresh connections.
    """

    def __init__(self, engine):
        self.engine = engine
        self.new_session: sessionmaker[Session] = sessionmaker(bind=engine, expire_on_commit=False)


def session_factory(app: Flask | None = None) -> SessionFactory:
    """The app's SessionFactory (the current app's when none is given)."""
    return (app or current_app).extensions["database"]


def _sqlite_pragmas(dbapi_connection, _record):
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _engine_options(url: str) -> dict:
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 30}}
    return {}  # pinged when idle instead of on every checkout: `server.pool`


def _init_database(app: Flask) -> None:
    url = app.config["DATABASE_URL"]
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    options = _engine_options(url)
    options.update(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    db.init_app(app)
    # Flask-SQLAlchemy builds the Engine here; an Engine opens no connection until it is
    # used, so an RQ parent or a CLI command that never queries forks with none.
    with app.app_context():
        engine = db.engine
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    elif not options.get("pool_pre_ping"):
        ping_when_idle(engine)
    # importers/jobs.py and importers/cli.py read this key until they move into server/.
    app.extensions["database"] = SessionFactory(engine)
    # env.py chooses batch mode per dialect (SQLite needs it, PostgreSQL does not).
    migrate.init_app(app, db, directory=str(MIGRATIONS), render_as_batch=False)


def upgrade(app: Flask, revision: str = "heads") -> None:
    """Bring the app's database schema up to date (tests, the demo, benchmarks)."""
    with app.app_context():
        flask_migrate.upgrade(revision=revision)


def init_app(app: Flask) -> None:
    _init_database(app)
    api.init_app(app, spec_kwargs={"components": {"securitySchemes": {
        "bearer": {"type": "http", "scheme": "bearer",
                   "description": "An integration key created with `loyalty keys create`"}}},
        "security": [{"bearer": []}]})
    # flask-rq reads RQ_CONNECTION; without Redis the queues exist but jobs run inline.
    app.config.setdefault("RQ_CONNECTION", app.config.get("REDIS_URL") or "redis://127.0.0.1:6379/0")
    # Whether jobs run inline is our decision (JOBS_INLINE), not flask-rq's testing default.
    app.config.setdefault("RQ_ASYNC", True)
    rq.init_app(app)
