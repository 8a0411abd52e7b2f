"""The ledger's rows: one builder for entries and lots, written one by one or in bulk.

Both paths — a single document's posting (`posting.credit`/`debit`) and a
planned chunk of invoices (`write_batch`) — build their rows here, with the
columns of the model tables and the defaults in one place, so they cannot
drift apart. `write_batch` uses COPY on PostgreSQL and executemany elsewhere.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy import bindparam, insert, literal, select, union_all
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from engine.models import LedgerEntry, Lot
from engine.models.base import UTCDateTime
from engine.models.bulk import JsonText, copy_rows, is_postgres, reserve_ids
from engine.models.prepared import Prepared

ENTRY_TABLE = LedgerEntry.__table__
LOT_TABLE = Lot.__table__
ENTRY_COLUMNS = tuple(column.name for column in ENTRY_TABLE.columns)
# A lot's id comes from its sequence; matured_at and warned_at are set by later steps.
LOT_COLUMNS = tuple(column.name for column in LOT_TABLE.columns
                    if column.name not in ("id", "matured_at", "warned_at"))


def entry_row(*, account_id: int, kind: str, amount: Decimal, key: str, actor: str, now: datetime,
              effective_at: datetime | None = None, entry_id: int | None = None, member_id: int | None = None,
              beneficiary_member_id: int | None = None, document_id: int | None = None,
              redemption_id: int | None = None, policy_version_id: int | None = None,
              reason: str | None = None, trace=None) -> dict:
    """Every column of one ledger entry (``entry_id`` None: the sequence gives it)."""
    row = {"id": entry_id, "account_id": account_id, "kind": kind, "amount": amount, "idempotency_key": key,
           "actor": actor, "member_id": member_id, "beneficiary_member_id": beneficiary_member_id,
           "document_id": document_id, "redemption_id": redemption_id, "policy_version_id": policy_version_id,
           "reason": reason, "trace": trace, "created_at": now,
           "effective_at": now if effective_at is None else effective_at}
    if entry_id is None:
        del row["id"]
    return row


def entry_columns(*, now: datetime, **values) -> dict:
    """`entry_row` with SQL expressions for values, for entries written by INSERT … SELECT.

    Columns left None are left out (NULL); ``now`` becomes a bound UTC timestamp.
    """
    row = entry_row(now=literal(now, UTCDateTime), **values)
    return {name: value for name, value in row.items() if value is not None}


def lot_row(*, account_id: int, entry_id: int | None, amount: Decimal, available_at: datetime,
            expires_at: datetime | None) -> dict:
    """Every column of a new lot: it starts full."""
    return {"account_id": account_id, "entry_id": entry_id, "amount": amount, "remaining": amount,
            "available_at": available_at, "expires_at": expires_at}


def _plain(row: dict) -> dict:
    trace = row.get("trace")
    return {**row, "trace": json.loads(trace)} if isinstance(trace, JsonText) else row


def write_batch(session: Session, entries: Sequence[dict], lots: Sequence[dict]) -> None:
    """Write entries (with their reserved ids) and then their lots: COPY on PostgreSQL, executemany elsewhere."""
    if not entries:
        return
    if is_postgres(session):
        copy_rows(session, ENTRY_TABLE.name, ENTRY_COLUMNS, ([row[c] for c in ENTRY_COLUMNS] for row in entries))
        copy_rows(session, LOT_TABLE.name, LOT_COLUMNS, ([row[c] for c in LOT_COLUMNS] for row in lots))
    else:
        session.execute(insert(ENTRY_TABLE), [_plain(row) for row in entries])
        if lots:
            session.execute(insert(LOT_TABLE), list(lots))


def insert_entry(session: Session, row: dict, lots: Sequence[dict] = ()) -> int | None:
    """Insert one entry and its ``lots`` (`lot_row`s without ``entry_id``); the entry's id, or None when
    its idempotency key is taken (then nothing is written). One statement on PostgreSQL (the lots are
    inserted from the entry's RETURNING), two elsewhere."""
    postgres = is_postgres(session)
    columns = tuple(row)
    params = {f"e_{c}": value for c, value in row.items()}
    if postgres and lots:
        for i, lot in enumerate(lots):
            params.update((f"l{i}_{c}", lot[c]) for c in _LOT_VALUES)
        return _prepared(columns, len(lots)).scalar(session, params)
    entry_id = session.execute(_entry_statement(postgres, columns, 0), params).scalar_one_or_none()
    if entry_id is not None and lots:
        session.execute(insert(LOT_TABLE), [{**lot, "entry_id": entry_id} for lot in lots])
    return entry_id


_LOT_VALUES = tuple(c for c in LOT_COLUMNS if c != "entry_id")
_STATEMENTS: dict[tuple, object] = {}
_PREPARED: dict[tuple, Prepared] = {}


def _prepared(columns: tuple[str, ...], lot_count: int) -> Prepared:
    """`_entry_statement` on PostgreSQL, run on the driver's cursor (`Prepared`)."""
    key = (columns, lot_count)
    prepared = _PREPARED.get(key)
    if prepared is None:
        prepared = _PREPARED[key] = Prepared(_entry_statement(True, columns, lot_count))
    return prepared


def _entry_statement(postgres: bool, columns: tuple[str, ...], lot_count: int):
    """The INSERT of an entry with these columns (and, on PostgreSQL, of ``lot_count`` lots from its
    RETURNING), built once per shape with bound parameters: every order runs one, and building it
    from the values each time cost more than executing it."""
    key = (postgres, columns, lot_count)
    stmt = _STATEMENTS.get(key)
    if stmt is None:
        values = {c: bindparam(f"e_{c}", type_=ENTRY_TABLE.c[c].type) for c in columns}
        stmt = ((pg_insert if postgres else sqlite_insert)(ENTRY_TABLE).values(values)
                .on_conflict_do_nothing(index_elements=["idempotency_key"]).returning(ENTRY_TABLE.c.id))
        if lot_count:
            entry = stmt.cte("new_entry")
            rows_ = [select(entry.c.id, *(bindparam(f"l{i}_{c}", type_=LOT_TABLE.c[c].type) for c in _LOT_VALUES))
                     for i in range(lot_count)]
            new_lots = insert(LOT_TABLE).from_select(["entry_id", *_LOT_VALUES], union_all(*rows_)
                                                     if lot_count > 1 else rows_[0]).cte("new_lots")
            stmt = select(entry.c.id).add_cte(new_lots)
        _STATEMENTS[key] = stmt
    return stmt


def reserve_entry_ids(session: Session, count: int) -> list[int]:
    """Ids for entries planned before they are written (their lots point at them)."""
    return reserve_ids(session, ENTRY_TABLE.name, count)

