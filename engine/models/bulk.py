"""Rows and keys in bulk: PostgreSQL COPY in text format, UPDATE from arrays, sequence ids, IN-lists as arrays.

psycopg 3's ``cursor.copy`` takes the text; building it here (rather than
``write_row`` per value) lets hot tables use one f-string per row and skip
escaping when a value holds no backslash, tab or line break, which is nearly
always. `copy_rows` is the general form every other table uses.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy import ARRAY, JSON, any_, bindparam, func, insert, select, text, update
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator

NULL = "\\N"
BATCH = 5000  # keys per IN-list
_BLOCK = 1 << 20  # characters per write: big enough to amortise, small enough to stay flat


class JsonText(str):
    """JSON already serialised (COPY passes it through; other writers parse it back)."""


def needs_escape(value: str) -> bool:
    return "\\" in value or "\t" in value or "\n" in value or "\r" in value


def esc(value: str) -> str:
    """Escape a text value for COPY's text format."""
    if needs_escape(value):
        return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return value


def cell(value) -> str:
    """One value of any type the engine writes, as COPY text."""
    if value is None:
        return NULL
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, str):
        return esc(value)
    if isinstance(value, (int, Decimal)):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (dict, list)):
        return esc(json.dumps(value, ensure_ascii=False, separators=(",", ":")))
    return esc(str(value))


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def driver_cursor(session: Session):
    """A psycopg cursor on the session's connection (same transaction as the ORM)."""
    return session.connection().connection.driver_connection.cursor()


def copy_text(session: Session, table: str, columns: Sequence[str], lines: Iterable[str]) -> int:
    """COPY pre-formatted lines (each ending in a newline) into ``table``; returns how many."""
    count = 0
    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    with driver_cursor(session) as cursor, cursor.copy(statement) as copy:
        block, size = [], 0
        for line in lines:
            block.append(line)
            size += len(line)
            count += 1
            if size >= _BLOCK:
                copy.write("".join(block))
                block, size = [], 0
        if block:
            copy.write("".join(block))
    return count


def copy_rows(session: Session, table: str, columns: Sequence[str], rows: Iterable[Sequence]) -> int:
    """COPY rows of Python values (any type `cell` knows), in ``columns`` order."""
    return copy_text(session, table, columns, ("\t".join(map(cell, row)) + "\n" for row in rows))


def batches(values: Iterable) -> Iterable[list]:
    """``values`` in lists of at most `BATCH` (so an IN-list or array parameter stays bounded)."""
    values = list(values)
    for start in range(0, len(values), BATCH):
        yield values[start:start + BATCH]


def one_of(session: Session, column, values: list):
    """``column IN values``: one array parameter on PostgreSQL (thousands of keys stay one bind)."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
    return column.in_(values)


def run(session: Session, statement):
    """Core execution on the session's connection (no ORM row machinery for plain column rows)."""
    return session.connection().execute(statement)


def reserve_ids(session: Session, table: str, count: int) -> list[int]:
    """``count`` fresh primary keys from the table's sequence (PostgreSQL)."""
    if count <= 0:
        return []
    rows = session.execute(text(f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) "
                                "FROM generate_series(1, :n)"), {"n": count})
    return [row[0] for row in rows]


def new_ids(session: Session, table, count: int) -> list[int]:
    """``count`` primary keys for rows of ``table`` planned before they are written: from its sequence
    on PostgreSQL; on SQLite the ids the next inserts get (its writers are serialised, and this one
    holds the lock, so nobody takes them in between)."""
    if is_postgres(session):
        return reserve_ids(session, table.name, count)
    if count <= 0:
        return []
    last = session.connection().execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()
    return list(range(last + 1, last + 1 + count))


def _bound(table, name: str, values: list, dialect) -> list:
    """Values as the column's type binds them (an Amount quantised as the ORM would)."""
    column_type = table.c[name].type
    if isinstance(column_type, TypeDecorator):
        return [column_type.process_bind_param(value, dialect) for value in values]
    if isinstance(column_type, JSON):  # COPY and unnest take a JSON document as its text
        return [None if value is None else json.dumps(value) for value in values]
    return values


def insert_rows(session: Session, table, rows: list[dict]) -> None:
    """INSERT rows that share their keys: COPY on PostgreSQL, executemany elsewhere."""
    if not rows:
        return
    if not is_postgres(session):
        session.connection().execute(insert(table), rows)
        return
    names = list(rows[0])
    dialect = session.get_bind().dialect
    columns = [_bound(table, name, [row[name] for row in rows], dialect) for name in names]
    copy_rows(session, table.name, names, zip(*columns, strict=True))


def update_rows(session: Session, table, rows: list[dict], key: str = "id") -> None:
    """Set each row's columns where ``key`` matches: one ``UPDATE … FROM unnest(arrays)`` on PostgreSQL (one
    statement, so statement triggers fire once), executemany elsewhere. The rows share their keys."""
    if not rows:
        return
    names = list(rows[0])
    if not is_postgres(session):
        stmt = update(table).where(table.c[key] == bindparam(f"p_{key}")).values(
            {name: bindparam(f"p_{name}") for name in names if name != key})
        session.connection().execute(stmt, [{f"p_{name}": row[name] for name in names} for row in rows])
        return
    dialect = session.get_bind().dialect
    arrays = [_bound(table, name, [row[name] for row in rows], dialect) for name in names]
    casts = ", ".join(f"%s::{table.c[name].type.compile(dialect=dialect)}[]" for name in names)
    sets = ", ".join(f"{name} = v.{name}" for name in names if name != key)
    with driver_cursor(session) as cursor:
        cursor.execute(f"UPDATE {table.name} AS t SET {sets} FROM unnest({casts}) AS v({', '.join(names)}) "
                       f"WHERE t.{key} = v.{key}", arrays)
