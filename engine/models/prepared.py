"""Hot statements compiled once and run on the driver's cursor of the session's connection (PostgreSQL).

An order runs four statements. Through ``Session.execute`` each one paid more CPU in SQLAlchemy than
in the driver: the compile-cache lookup, an execution context, autobegin bookkeeping and result
metadata built anew from the cursor's description for every result (a ``text()`` or RETURNING
statement's metadata is not cached). A `Prepared` statement is a SQLAlchemy construct compiled once
per dialect; each run converts its parameters with the bind processors SQLAlchemy itself would use
(an ``Amount`` quantised, a JSONB value wrapped as the dialect wraps it), executes it on the session's
connection — the same transaction as the ORM — and returns the rows as plain tuples, their values
converted by the selected columns' result processors (a ``UTCDateTime`` in UTC, as a query gives it).
`loaded` turns a row's columns into the session's persistent object, as a query's ORM loading would.

What the shortcut keeps: the session's autoflush (pending objects are flushed first, as
``Session.execute`` would); ``ConnectionEvents.before_cursor_execute``/``after_cursor_execute``
listeners see the statement (statement budgets, SQL logging), with no execution context; a driver
error comes out as SQLAlchemy's (``IntegrityError`` …), and a lost connection is invalidated as
SQLAlchemy invalidates it. Elsewhere than PostgreSQL the construct runs through SQLAlchemy as before.

What it skips: ``SessionEvents.do_orm_execute``. `engine.config_stamp` listens there for writes to the
stamped configuration tables, so a statement on one of them (`REFUSED`) is refused.
"""
from __future__ import annotations

from collections.abc import Mapping
from functools import cache

from psycopg.pq import ExecStatus
from sqlalchemy import exc, inspect
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from engine.models.base import filled

TUPLES_OK = ExecStatus.TUPLES_OK
# Tables whose writes a session listener must see (`engine.config_stamp` adds its own).
REFUSED: set = set()


class Prepared:
    """One SQLAlchemy statement, compiled once per dialect, run as `rows`/`scalar`."""

    __slots__ = ("statement", "_compiled", "_results")

    def __init__(self, statement) -> None:
        self.statement = statement
        self._compiled: dict[str, tuple] = {}
        self._results: dict[str, tuple | None] = {}  # per dialect: the result columns' processors, if any

    def _result_processors(self, dialect, description) -> tuple | None:
        """The selected columns' result processors (by the driver's type codes), None when none converts."""
        columns = getattr(self.statement, "selected_columns", None)
        if columns is None or len(columns) != len(description):
            return None
        processors = tuple(column.type.dialect_impl(dialect).result_processor(dialect, field.type_code)
                           for column, field in zip(columns, description))
        return processors if any(p is not None for p in processors) else None

    def _for(self, dialect) -> tuple:
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            self._refuse_watched()
            form = self.statement.compile(dialect=dialect)
            if form.positional or getattr(form, "escaped_bind_names", None):
                raise TypeError("a Prepared statement needs named parameters with plain names")
            processors = tuple((name, bind.type.dialect_impl(dialect).bind_processor(dialect))
                               for name, bind in form.binds.items())
            # Values the statement carries (a ``literal()``), under the caller's parameters.
            carried = {name: bind.effective_value for name, bind in form.binds.items()
                       if not bind.required and bind.callable is None}
            compiled = self._compiled[dialect.name] = (form.string, processors, carried)
        return compiled

    def _refuse_watched(self) -> None:
        table = getattr(self.statement, "table", None)
        if table is not None and table in REFUSED:
            raise ValueError(f"{table.name} is written through the session, not a Prepared statement")

    def rows(self, session: Session, params: Mapping) -> list[tuple]:
        """Run with ``params`` (by bind name) in the session's transaction; the result's rows."""
        if session.autoflush:
            session.flush()
        connection = session.connection()
        dialect = connection.dialect
        if dialect.name != "postgresql":
            self._refuse_watched()
            result = connection.execute(self.statement, dict(params))
            return [tuple(row) for row in result] if result.returns_rows else []
        sql, processors, carried = self._for(dialect)
        values = {**carried, **params} if carried else params
        bound = {name: values[name] if process is None else process(values[name]) for name, process in processors}
        dispatch = connection.dispatch
        raw = connection.connection  # the pool's DBAPI connection of this transaction
        cursor = raw.cursor()
        try:
            for listener in dispatch.before_cursor_execute:
                listener(connection, cursor, sql, bound, None, False)
            cursor.execute(sql, bound)
            result = cursor.pgresult  # its status, not `description`, which builds a column object per field
            rows = cursor.fetchall() if result is not None and result.status == TUPLES_OK else []
            if rows:
                if dialect.name not in self._results:
                    self._results[dialect.name] = self._result_processors(dialect, cursor.description)
                convert = self._results[dialect.name]
                if convert is not None:
                    rows = [tuple(value if process is None or value is None else process(value)
                                  for process, value in zip(convert, row)) for row in rows]
            for listener in dispatch.after_cursor_execute:
                listener(connection, cursor, sql, bound, None, False)
        except dialect.loaded_dbapi.Error as error:
            if dialect.is_disconnect(error, raw, cursor):
                connection.invalidate(error)
            raise exc.DBAPIError.instance(sql, bound, error, dialect.loaded_dbapi.Error,
                                          connection_invalidated=connection.invalidated) from error
        finally:
            cursor.close()
        return rows

    def scalar(self, session: Session, params: Mapping):
        """The first column of the first row, or None when there is no row."""
        rows = self.rows(session, params)
        return rows[0][0] if rows else None


def loaded(session: Session, cls, values: dict, *, refresh: bool = False):
    """The session's persistent ``cls`` object for a row's column ``values`` (by attribute name, every
    column), as a query's ORM loading gives it: the session's own when it holds that identity (its
    unloaded attributes filled in from the row; with ``refresh`` all of them, as ``populate_existing``),
    else a new object, clean, added to the session as if loaded."""
    mapper = inspect(cls)
    identity = mapper.identity_key_from_primary_key([values[name] for name in _primary_names(mapper)])
    obj = session.identity_map.get(identity)
    if obj is None:
        obj = filled(cls, values)
        make_transient_to_detached(obj)  # clean, as loaded: nothing to flush
        session.add(obj)
        return obj
    state = inspect(obj)
    for name in (values if refresh else state.unloaded & values.keys()):
        set_committed_value(obj, name, values[name])
    return obj


@cache
def _primary_names(mapper) -> tuple:
    """The attribute names of ``mapper``'s primary key, in its order."""
    return tuple(mapper.get_property_by_column(column).key for column in mapper.primary_key)
