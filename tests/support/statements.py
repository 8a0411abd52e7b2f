"""Count the SQL statements a block of code sends (the statement budgets of the hot API paths)."""
from __future__ import annotations

import contextlib

from sqlalchemy import event


@contextlib.contextmanager
def counted(app):
    """Yield the list that collects, in order, every statement the app's engine sends inside the block."""
    from server.extensions import db
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        if not statements or statements[-1] != statement:  # SQLite sends an executemany row by row
            statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)
