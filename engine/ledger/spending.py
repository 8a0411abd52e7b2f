"""A plain spend (a redemption): `posting.debit` without preferred lots or debt, in fewer statements.

`debit` asks whether the key was used, sums the available points, reads the open lots, inserts
the entry, its allocations and the lots' new remainders: six statements. `spend` reads the first
`MAX_TAKES` + 1 open lots in spending order once (when they are all, their sum is the available
points; when they do not cover the spend and there are more, `debit` takes it), and on PostgreSQL
writes the entry, its allocations and the lots' remainders in one statement of data-modifying CTEs: the entry's
``INSERT … ON CONFLICT (idempotency_key) DO NOTHING RETURNING id`` feeds the other two, so a
used key writes nothing (then the first entry answers, as in `debit`). The rows are `debit`'s,
column for column (`tests/integration/test_spend_equivalence.py` compares them); elsewhere
`spend` is `debit`.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy import bindparam, exists, insert, literal, select, true, union_all, update
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from engine.ledger import posting, rows
from engine.models import Account, Allocation, LedgerEntry, Lot
from engine.models.base import filled
from engine.models.bulk import is_postgres
from engine.models.prepared import Prepared

ZERO = Decimal(0)
# Lots one statement takes at most: each is two bound parameters and a cached statement shape; a spend
# across more lots (a wholesale account's thousands of small ones) goes through `debit` instead.
MAX_TAKES = 64
_ALLOCATIONS, _LOTS = Allocation.__table__, Lot.__table__


def spend(session: Session, account: Account, *, kind: str, amount: Decimal, key: str, actor: str,
          now: datetime, **entry_fields) -> LedgerEntry:
    """`posting.debit(session, account, kind=…, amount=…, key=…, actor=…, now=…)`: take ``amount``
    available points, soonest-expiring first, or raise `InsufficientPoints`. The account must be locked."""
    if not is_postgres(session) or account.debt > 0:  # debt is settled first: the general path
        return posting.debit(session, account, kind=kind, amount=amount, key=key, actor=actor, now=now,
                             **entry_fields)
    if amount <= 0:
        raise ValueError("a debit takes a positive amount")
    # The first lots in spending order: enough for a spend one statement takes (a wholesale account's
    # other thousands are not read).
    lots = posting._open_lots(session, account.id, now, available_only=True, limit=MAX_TAKES + 1)
    takes, wanted = [], amount
    for lot in lots:  # `posting._take`'s walk
        if wanted <= 0:
            break
        take = min(lot.remaining, wanted)
        if take > 0:
            takes.append((lot, take))
            wanted -= take
    if wanted > 0 and len(lots) <= MAX_TAKES:  # every open lot was read: their sum is what is available
        free = sum((lot.remaining for lot in lots), ZERO)  # `available_points`, the debt being 0
        existing = posting.find_entry(session, key)  # a used key answers before the balance does
        if existing is not None:
            return posting._replay(existing, account, kind, -amount)
        raise posting.InsufficientPoints(amount, free)
    if wanted > 0 or len(takes) > MAX_TAKES:  # more lots than one statement takes, or not all read
        return posting.debit(session, account, kind=kind, amount=amount, key=key, actor=actor, now=now,
                             **entry_fields)
    row = rows.entry_row(account_id=account.id, kind=kind, amount=-amount, key=key, actor=actor, now=now,
                         **entry_fields)
    params = {f"e_{c}": value for c, value in row.items()}
    params["created_at"] = row["created_at"]
    for i, (lot, take) in enumerate(takes):
        params[f"t{i}_lot"], params[f"t{i}_amount"] = lot.id, take
    entry_id = _statement(tuple(row), len(takes)).scalar(session, params)
    if entry_id is None:
        return posting._replay(posting.find_entry(session, key), account, kind, -amount)
    posting._lots_changed(session)
    for lot, take in takes:  # the session's lots as the database now holds them (no UPDATE to flush)
        set_committed_value(lot, "remaining", lot.remaining - take)
    entry = filled(LedgerEntry, {"id": entry_id, **row})
    make_transient_to_detached(entry)  # as if loaded: callers read it back without a query
    session.add(entry)
    return entry


_STATEMENTS: dict[tuple, Prepared] = {}


def _statement(columns: Sequence[str], take_count: int) -> Prepared:
    """The entry, its ``take_count`` allocations and the lots' new remainders, one statement per shape (run
    on the driver's cursor, `Prepared`)."""
    key = (tuple(columns), take_count)
    stmt = _STATEMENTS.get(key)
    if stmt is not None:
        return stmt
    entry = rows._entry_statement(True, tuple(columns), 0).cte("new_entry")
    parts = [select(literal(i).label("ord"), bindparam(f"t{i}_lot", type_=_LOTS.c.id.type).label("lot_id"),
                    bindparam(f"t{i}_amount", type_=_ALLOCATIONS.c.amount.type).label("amount"))
             for i in range(take_count)]
    takes = (union_all(*parts) if take_count > 1 else parts[0]).cte("takes")
    # Ordered as `debit` adds them, so the allocations' ids follow the lots' order there too.
    allocations = insert(_ALLOCATIONS).from_select(
        ["lot_id", "entry_id", "amount", "kind", "created_at"],
        select(takes.c.lot_id, entry.c.id, takes.c.amount, literal("spend"),
               bindparam("created_at", type_=_ALLOCATIONS.c.created_at.type))
        .select_from(takes.join(entry, true())).order_by(takes.c.ord)).cte("new_allocations")
    spent = (update(_LOTS).where(_LOTS.c.id == takes.c.lot_id, exists(select(entry.c.id)))
             .values(remaining=_LOTS.c.remaining - takes.c.amount).cte("spent_lots"))
    stmt = _STATEMENTS[key] = Prepared(select(entry.c.id).add_cte(allocations).add_cte(spent))
    return stmt
