"""Writing documents: one new document with its lines in one statement, and a chunk at a time (which are
already stored, and COPY of new ones with their lines).

The text rows are written by hand for speed (a million lines per import);
their column lists are checked against the model tables by the tests.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import JSON, bindparam, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.types import TypeDecorator

from engine.models import Document, DocumentLine
from engine.models.bulk import NULL, batches, copy_text, esc, is_postgres, needs_escape, one_of, run
from engine.models.prepared import Prepared

DOCUMENT_COLUMNS = ("id", "source", "external_id", "document_type", "number", "member_id", "account_id", "channel",
                    "store", "currency", "placed_at", "status", "total", "shipping_total", "content_hash", "earned",
                    "absorbed", "accrued_at", "policy_version_id", "member_snapshot", "created_at", "updated_at")
LINE_COLUMNS = ("document_id", "line_no", "sku", "name", "product_group", "brand", "quantity", "unit_price",
                "line_total", "is_promo", "points_per_unit", "returned_quantity", "returned_total", "points", "tags")


def existing_documents(session: Session, source: str, keys: Iterable[str]) -> dict[str, tuple[str, str]]:
    """external_id → (content_hash, status) of the documents already stored."""
    out: dict[str, tuple[str, str]] = {}
    for part in batches(keys):
        stmt = select(Document.external_id, Document.content_hash, Document.status).where(
            Document.source == source, one_of(session, Document.external_id, part))
        out.update({row.external_id: (row.content_hash, row.status) for row in run(session, stmt)})
    return out


def _n(value) -> str:
    return NULL if value is None else str(value)


def _documents(rows, source: str, now: str) -> Iterable[str]:
    for doc_id, key, number, member_id, account_id, currency, placed_at, status, total, fingerprint, earned, \
            accrued_at, version_id, snapshot in rows:
        texts = key + number + currency
        if needs_escape(texts):
            key, number, currency = esc(key), esc(number), esc(currency)
        yield (f"{doc_id}\t{source}\t{key}\tinvoice\t{number}\t{member_id}\t{account_id}\terp\t\t{currency}\t"
               f"{placed_at.isoformat()}\t{status}\t{total}\t0\t{fingerprint}\t{earned}\t0\t"
               f"{NULL if accrued_at is None else now}\t{_n(version_id)}\t{NULL if snapshot is None else esc(snapshot)}"
               f"\t{now}\t{now}\n")


def write_documents(session: Session, documents: list, lines: list, *, source: str, now: datetime) -> None:
    """COPY new ERP invoices (rows as `engine.accrual.batch` plans them) and then their lines (COPY text in
    `LINE_COLUMNS` order, which the planner writes as it goes: one string per line, no row tuple between)."""
    if documents:
        moment = now.isoformat()
        copy_text(session, "documents", DOCUMENT_COLUMNS, _documents(documents, esc(source), moment))
        copy_text(session, "document_lines", LINE_COLUMNS, lines)


_DOCUMENTS, _LINES = Document.__table__, DocumentLine.__table__
_DOCUMENT_VALUES = tuple(c.name for c in _DOCUMENTS.columns if c.name != "id")
_LINE_VALUES = tuple(c.name for c in _LINES.columns if c.name not in ("id", "document_id"))


def _sql_type(column) -> str:
    """The column's type without its length or precision: the INSERT itself checks the value against
    them, as it does for a single row (a VARCHAR(64) in the record would cut a longer text)."""
    if isinstance(column.type, JSON):
        return "TEXT"  # the JSON's text, cast below: a JSON null stays JSON null, as the ORM writes it
    return column.type.compile(dialect=postgresql.dialect()).split("(")[0]


# The document's INSERT, and its lines' from its RETURNING and one JSON array of the lines: one round trip,
# and one short statement for any number of lines (psycopg parses a statement over 4 KB again on every
# call, and binds an array element by element).
_NEW = Prepared(text(
    f"WITH new_document AS (INSERT INTO documents ({', '.join(_DOCUMENT_VALUES)}) "
    f"VALUES ({', '.join(f':d_{c}' for c in _DOCUMENT_VALUES)}) RETURNING id) "
    f"INSERT INTO document_lines (document_id, {', '.join(_LINE_VALUES)}) "
    "SELECT new_document.id, "
    + ", ".join(f"CAST(u.{c} AS JSONB)" if isinstance(_LINES.c[c].type, JSON) else f"u.{c}" for c in _LINE_VALUES)
    + " FROM new_document, jsonb_to_recordset(CAST(:lines AS JSONB)) AS u("
    + ", ".join(f"{c} {_sql_type(_LINES.c[c])}" for c in _LINE_VALUES)
    + ") RETURNING document_lines.document_id, document_lines.id, document_lines.line_no"
).bindparams(*(bindparam(f"d_{c}", type_=_DOCUMENTS.c[c].type) for c in _DOCUMENT_VALUES)))
_JSON_LINE_COLUMNS = frozenset(c for c in _LINE_VALUES if isinstance(_LINES.c[c].type, JSON))
# Exact decimals: bound as their type binds them (4 places at most), written as their exact text.
_BOUND_LINE_COLUMNS = tuple((c, _LINES.c[c].type) for c in _LINE_VALUES if isinstance(_LINES.c[c].type, TypeDecorator))


def _values(row, table, names: tuple[str, ...]) -> dict:
    """The columns of a new object, with the columns' defaults applied and set on it (it will pass for
    a loaded one, so what it holds must be what the database holds)."""
    held = row.__dict__  # what the constructor set; reading it skips the attributes' instrumentation
    out = {}
    for name in names:
        value = held.get(name)
        if value is None:
            default = table.c[name].default
            if default is not None:
                value = default.arg if default.is_scalar else default.arg(None)
                setattr(row, name, value)
        out[name] = value
    return out


def _lines_json(session: Session, rows: list[dict]) -> str:
    """The lines as one JSON array: numbers as their exact text (bound as the column type binds them),
    JSON columns as their JSON text."""
    dialect = session.get_bind().dialect
    for row in rows:
        for name, column_type in _BOUND_LINE_COLUMNS:
            value = row[name]
            if value is not None:
                row[name] = str(column_type.process_bind_param(value, dialect))
        for name in _JSON_LINE_COLUMNS:
            row[name] = json.dumps(row[name])  # None: JSON null, as the ORM writes it
    return json.dumps(rows)


def insert_document(session: Session, document: Document) -> None:
    """Write a new document (not in the session yet) with its lines and add them to the session as if
    loaded: on PostgreSQL one statement instead of the unit of work's two, and no flush bookkeeping.
    Call it once the document is complete (a change after it is an UPDATE). A stored one: nothing."""
    if document.id is not None:
        return
    lines = list(document.lines)
    if not lines or not is_postgres(session):
        session.add(document)
        session.flush()
        return
    params = {f"d_{c}": value for c, value in _values(document, _DOCUMENTS, _DOCUMENT_VALUES).items()}
    params["lines"] = _lines_json(session, [_values(line, _LINES, _LINE_VALUES) for line in lines])
    ids = {}
    for document_id, line_id, line_no in _NEW.rows(session, params):
        document.id, ids[line_no] = document_id, line_id
    for line in lines:
        line.id, line.document_id = ids[line.line_no], document.id
        make_transient_to_detached(line)
    make_transient_to_detached(document)
    session.add(document)  # the lines come along (save-update cascade), all of them clean
