"""The database binding: Flask-SQLAlchemy sessions per app context, SQLite pragmas, `loyalty db` commands."""
from __future__ import annotations

import sqlalchemy as sa

from server.app import create_app
from server.extensions import db, session_factory


def _fresh_app(tmp_path, monkeypatch, url: str | None = None):
    monkeypatch.setenv("LOYALTY_INSTANCE", str(tmp_path / "instance"))
    return create_app({"TESTING": True, "DATABASE_URL": url or f"sqlite:///{tmp_path / 'fresh.db'}",
                       "REDIS_URL": None, "SECRET_KEY": "t", "SECRET_KEY_IS_EPHEMERAL": False})


def test_an_app_that_never_queries_opens_no_connection(tmp_path, monkeypatch, pg_url):
    """An RQ parent forks its work horses: a connection opened before the fork would be shared."""
    sqlite_app = _fresh_app(tmp_path, monkeypatch)
    result = sqlite_app.test_cli_runner().invoke(args=["db", "--help"])
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "fresh.db").exists()  # SQLite creates the file at the first connect
    pg_app = _fresh_app(tmp_path, monkeypatch, pg_url)
    pool = session_factory(pg_app).engine.pool
    assert (pool.checkedin(), pool.checkedout()) == (0, 0)


def test_sqlite_connections_get_the_pragmas(tmp_path, monkeypatch):
    app = _fresh_app(tmp_path, monkeypatch)
    with app.app_context():
        pragmas = {name: db.session.execute(sa.text(f"PRAGMA {name}")).scalar()
                   for name in ("foreign_keys", "journal_mode", "busy_timeout")}
    assert pragmas == {"foreign_keys": 1, "journal_mode": "wal", "busy_timeout": 30000}


def test_each_app_context_has_its_own_session_and_teardown_ends_it(app):
    with app.app_context():
        outer = db.session()
        outer.execute(sa.text("SELECT 1"))
        with app.app_context():  # what an inline job gets
            assert db.session() is not outer
        assert db.session() is outer
        assert outer.in_transaction()
    assert not outer.in_transaction()
    assert outer.expire_on_commit is False


def test_db_commands_migrate_a_fresh_sqlite_file_up_and_down(tmp_path, monkeypatch):
    app = _fresh_app(tmp_path, monkeypatch)
    cli = app.test_cli_runner()

    def revision() -> str:
        with app.app_context():
            return db.session.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one()

    assert cli.invoke(args=["db", "upgrade"]).exit_code == 0
    head = revision()
    with app.app_context():
        tables = set(sa.inspect(db.engine).get_table_names())
    assert {"accounts", "ledger_entries", "lots", "members"} <= tables
    # The models and the migrations describe the same schema.
    check = cli.invoke(args=["db", "check"])
    assert check.exit_code == 0, check.output
    assert cli.invoke(args=["db", "downgrade"]).exit_code == 0
    assert revision() != head
    assert cli.invoke(args=["db", "upgrade"]).exit_code == 0
    assert revision() == head
