"""The database binding: one SQLAlchemy engine per app, one session per app context."""
from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy import create_engine, event
from sqlalchemy.orm import Session, sessionmaker


def _sqlite_pragmas(dbapi_connection, _record):
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_engine(url: str, **options):
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30}, **options)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, **options)


class Database:
    def __init__(self, url: str):
        self.url = url
        self._engine = None
        self._factory = None

    @property
    def engine(self):
        # Created lazily: an RQ parent or a CLI that never touches the database
        # opens no connection (and a forked child never inherits one).
        if self._engine is None:
            self._engine = make_engine(self.url)
            self._factory = sessionmaker(bind=self._engine, expire_on_commit=False)
        return self._engine

    def new_session(self) -> Session:
        self.engine  # noqa: B018 - ensure the factory exists
        return self._factory()

    def dispose(self):
        if self._engine is not None:
            self._engine.dispose()


def init_app(app: Flask) -> Database:
    database = Database(app.config["DATABASE_URL"])
    app.extensions["database"] = database

    @app.teardown_appcontext
    def _close(_exc):
        session = g.pop("db_session", None)
        if session is not None:
            session.rollback()
            session.close()

    return database


def session() -> Session:
    """This app context's session (requests, jobs and CLI commands each get one)."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["database"].new_session()
    return g.db_session
