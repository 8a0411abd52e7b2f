"""Alembic environment under Flask-Migrate: the metadata of engine.models, the app's engine."""
from alembic import context
from flask import current_app

from engine.models import Base

config = context.config
target_metadata = Base.metadata
migrate = current_app.extensions["migrate"]


# Tables that only migrations know: the ledger check's scratch tables (0005), not models.
UNMODELLED = {"ledger_dirty", "ledger_check_queue", "ledger_deltas"}


def _include(obj, name, type_, reflected, compare_to) -> bool:
    return not (type_ == "table" and reflected and name in UNMODELLED)


def _options(dialect_name: str) -> dict:
    # Flask-Migrate's configure_args (compare_type, ...), then batch mode only where
    # ALTER TABLE needs it: SQLite.
    options = dict(migrate.configure_args)
    options["render_as_batch"] = dialect_name == "sqlite"
    options["include_object"] = _include
    return options


def run_migrations_offline() -> None:
    """`loyalty db upgrade --sql`: print the SQL instead of running it."""
    engine = migrate.db.engine
    context.configure(url=engine.url.render_as_string(hide_password=False), target_metadata=target_metadata,
                      literal_binds=True, **_options(engine.dialect.name))
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    with migrate.db.engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata,
                          **_options(connection.dialect.name))
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
