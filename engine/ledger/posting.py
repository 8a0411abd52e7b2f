"""Posting to the ledger: credits that create lots, debits that consume them, debt, expiry, balances."""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import and_, bindparam, func, insert, or_, select, update
from sqlalchemy.orm import Session, make_transient_to_detached

from engine.ledger import rows
from engine.ledger.balances import unexpired
from engine.models import Account, Allocation, LedgerEntry, Lot
from engine.models.base import filled

ZERO = Decimal(0)


class LedgerError(Exception):
    code = "ledger_error"


class InsufficientPoints(LedgerError):
    code = "insufficient_points"

    def __init__(self, requested: Decimal, available: Decimal):
        super().__init__(f"{requested} points requested but only {available} available")
        self.requested = requested
        self.available = available


class IdempotencyConflict(LedgerError):
    code = "idempotency_conflict"


@dataclass(frozen=True)
class LotSpec:
    """A lot to create with a positive entry."""

    amount: Decimal
    available_at: datetime
    expires_at: datetime | None


def find_entry(session: Session, key: str) -> LedgerEntry | None:
    return session.execute(
        select(LedgerEntry).where(LedgerEntry.idempotency_key == key)).scalar_one_or_none()


def _replay(existing: LedgerEntry, account: Account, kind: str, amount: Decimal) -> LedgerEntry:
    if existing.account_id != account.id or existing.kind != kind or existing.amount != amount:
        raise IdempotencyConflict(
            f"idempotency key {existing.idempotency_key!r} was already used for a "
            f"{existing.kind} of {existing.amount} on account {existing.account_id}")
    return existing


def _new_lots(session: Session) -> dict | None:
    """Document id → [(amount, available_at)] of the lots this transaction's credits made; None once
    a lot was spent or settled in it (then the lots are read from the database)."""
    transaction = session.get_transaction()
    held = session.info.get("ledger_new_lots")
    if held is None or held[0] is not transaction:
        held = session.info["ledger_new_lots"] = (transaction, {})
    return held[1]


def _lots_changed(session: Session) -> None:
    session.info["ledger_new_lots"] = (session.get_transaction(), None)


def credit(session: Session, account: Account, *, kind: str, key: str, actor: str,
           lots: Sequence[LotSpec], now: datetime, **entry_fields) -> LedgerEntry:
    """Post a positive entry creating ``lots``. The account must be locked."""
    amount = sum((spec.amount for spec in lots), ZERO)
    if amount <= 0 or any(spec.amount <= 0 for spec in lots):
        raise ValueError("a credit needs positive lots")
    # One statement: the insert itself tells whether the key was used (then the first entry answers).
    row = rows.entry_row(account_id=account.id, kind=kind, amount=amount, key=key, actor=actor, now=now,
                         **entry_fields)
    entry_id = rows.insert_entry(session, row, [
        rows.lot_row(account_id=account.id, entry_id=None, amount=spec.amount, available_at=spec.available_at,
                     expires_at=spec.expires_at) for spec in lots])
    if entry_id is None:
        return _replay(find_entry(session, key), account, kind, amount)
    entry = filled(LedgerEntry, {"id": entry_id, **row})
    make_transient_to_detached(entry)  # as if loaded: callers read it back without a query
    session.add(entry)
    made = _new_lots(session) if entry_fields.get("document_id") is not None else None
    if made is not None:
        made.setdefault(entry_fields["document_id"], []).extend((spec.amount, spec.available_at) for spec in lots)
    settle_debt(session, account, now)
    return entry


def _add_entry(session: Session, row: dict) -> LedgerEntry:
    """The entry of ``row`` as an object of this session (callers read it back), flushed for its id."""
    entry = LedgerEntry(**row)
    session.add(entry)
    session.flush()
    return entry


# The first lots a spend or a debt payment reads: most take from a few, and a wholesale account holds
# tens of thousands of open lots (reading them all cost a redemption 2 s at 100,000).
FIRST_LOTS = 65


def _open_lots(session: Session, account_id: int, now: datetime, *, available_only: bool,
               lot_ids: Iterable[int] | None = None, limit: int | None = None) -> list[Lot]:
    """Open lots in spending order: soonest-expiring first (never-expiring last), then the oldest."""
    conditions = [unexpired(account_id, now)]
    if available_only:
        conditions.append(Lot.available_at <= now)
    if lot_ids is not None:
        conditions.append(Lot.id.in_(list(lot_ids)))
    # NULLS LAST rather than `expires_at IS NULL` first: the open-lots index on (account, expires_at)
    # yields this order, so a limited read stops after its rows instead of sorting the account's lots.
    stmt = (select(Lot).where(and_(*conditions))
            .order_by(Lot.expires_at.asc().nulls_last(), Lot.available_at, Lot.id))
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(session.execute(stmt).scalars())


def _walk_open_lots(session: Session, account_id: int, now: datetime) -> Iterator[Lot]:
    """The available lots in spending order, the first `FIRST_LOTS` read first and the rest only when
    the walk goes past them. The account is locked, so nobody else changes its lots in between; what
    the walk took meanwhile is flushed by the second read, whose lots already seen are skipped (they
    came first in the order, so the unseen ones follow them in the same order)."""
    first = _open_lots(session, account_id, now, available_only=True, limit=FIRST_LOTS)
    yield from first
    if len(first) < FIRST_LOTS:
        return
    seen = {lot.id for lot in first}
    for lot in _open_lots(session, account_id, now, available_only=True):
        if lot.id not in seen:
            yield lot


def _take(session: Session, entry: LedgerEntry, lots: Iterable[Lot], wanted: Decimal,
          kind: str = "spend") -> Decimal:
    """Consume up to ``wanted`` from ``lots`` in order; return what is still wanted."""
    _lots_changed(session)
    for lot in lots:
        if wanted <= 0:
            break
        take = min(lot.remaining, wanted)
        if take <= 0:
            continue
        lot.remaining -= take
        wanted -= take
        session.add(Allocation(lot_id=lot.id, entry_id=entry.id, amount=take, kind=kind,
                               created_at=entry.created_at))
    return wanted


def available_points(session: Session, account: Account, now: datetime) -> Decimal:
    total = session.execute(
        select(func.coalesce(func.sum(Lot.remaining), 0)).where(
            Lot.account_id == account.id, Lot.remaining > 0, Lot.available_at <= now,
            or_(Lot.expires_at.is_(None), Lot.expires_at > now))).scalar_one()
    return Decimal(total) - account.debt


def debit(session: Session, account: Account, *, kind: str, amount: Decimal, key: str,
          actor: str, now: datetime, allow_debt: bool = False,
          prefer_lot_ids: Sequence[int] = (), **entry_fields) -> LedgerEntry:
    """Post a negative entry taking ``amount`` points. The account must be locked.

    Takes first from ``prefer_lot_ids`` (a document's own lots, pending or
    not: a reversal takes back exactly what the order earned), then from
    available lots soonest-expiring first. What is left becomes debt when
    ``allow_debt``; otherwise nothing is posted and `InsufficientPoints` is
    raised.
    """
    if amount <= 0:
        raise ValueError("a debit takes a positive amount")
    existing = find_entry(session, key)
    if existing is not None:
        return _replay(existing, account, kind, -amount)
    settle_debt(session, account, now)
    own = _open_lots(session, account.id, now, available_only=False,
                     lot_ids=prefer_lot_ids) if prefer_lot_ids else []
    own_total = sum((lot.remaining for lot in own), ZERO)
    if not allow_debt:
        free = available_points(session, account, now)
        own_pending = sum((lot.remaining for lot in own if lot.available_at > now), ZERO)
        if free + own_pending < amount:
            raise InsufficientPoints(amount, free + own_pending)
    entry = _add_entry(session, rows.entry_row(account_id=account.id, kind=kind, amount=-amount, key=key,
                                               actor=actor, now=now, **entry_fields))
    wanted = _take(session, entry, own, amount) if own_total else amount
    if wanted > 0:
        preferred = set(prefer_lot_ids)
        others = (lot for lot in _walk_open_lots(session, account.id, now) if lot.id not in preferred)
        wanted = _take(session, entry, others, wanted)
    if wanted > 0:
        account.debt += wanted
    session.flush()
    return entry


def settle_debt(session: Session, account: Account, now: datetime) -> Decimal:
    """Pay the account's debt from its available lots; return what was paid."""
    if account.debt <= 0:
        return ZERO
    _lots_changed(session)
    paid = ZERO
    for lot in _walk_open_lots(session, account.id, now):
        if account.debt <= 0:
            break
        take = min(lot.remaining, account.debt)
        lot.remaining -= take
        account.debt -= take
        paid += take
        session.add(Allocation(lot_id=lot.id, entry_id=lot.entry_id, amount=take, kind="debt",
                               created_at=now))
    session.flush()
    return paid


def settle_debts(session: Session, debts: dict[int, Decimal], now: datetime) -> Decimal:
    """`settle_debt` for many locked accounts at once ({account id: debt}): one read, three writes."""
    debts = {account_id: debt for account_id, debt in debts.items() if debt > 0}
    if not debts:
        return ZERO
    open_lots = session.connection().execute(
        select(Lot.id, Lot.account_id, Lot.entry_id, Lot.remaining).where(
            Lot.account_id.in_(sorted(debts)), Lot.remaining > 0, Lot.available_at <= now,
            or_(Lot.expires_at.is_(None), Lot.expires_at > now))
        .order_by(Lot.account_id, Lot.expires_at.is_(None), Lot.expires_at, Lot.available_at, Lot.id))
    owed = dict(debts)
    takes = []
    for lot_id, account_id, entry_id, remaining in open_lots:
        take = min(remaining, owed[account_id])
        if take > 0:  # the same walk as `settle_debt`: soonest-expiring first
            owed[account_id] -= take
            takes.append({"lot_id": lot_id, "entry_id": entry_id, "amount": take, "kind": "debt",
                          "created_at": now})
    if not takes:
        return ZERO
    _lots_changed(session)
    lots, accounts = Lot.__table__, Account.__table__
    connection = session.connection()
    connection.execute(insert(Allocation.__table__), takes)
    connection.execute(update(lots).where(lots.c.id == bindparam("lot")).values(
        remaining=lots.c.remaining - bindparam("take")), [{"lot": t["lot_id"], "take": t["amount"]} for t in takes])
    paid = {account_id: debts[account_id] - left for account_id, left in owed.items() if left != debts[account_id]}
    connection.execute(update(accounts).where(accounts.c.id == bindparam("account")).values(
        debt=accounts.c.debt - bindparam("paid")), [{"account": a, "paid": p} for a, p in paid.items()])
    return sum(paid.values(), ZERO)


def expire_lot(session: Session, account: Account, lot: Lot, now: datetime,
               actor: str) -> LedgerEntry | None:
    """Turn a lot's remainder into an expiry entry (idempotent per lot)."""
    if lot.remaining <= 0 or lot.expires_at is None or lot.expires_at > now:
        return None
    key = f"expiry:lot:{lot.id}"
    if find_entry(session, key) is not None:
        return None
    entry = _add_entry(session, rows.entry_row(
        account_id=account.id, kind="expiry", amount=-lot.remaining, key=key, actor=actor, now=now,
        effective_at=lot.expires_at, trace={"lot": lot.id, "expires_at": lot.expires_at.isoformat()}))
    _take(session, entry, [lot], lot.remaining)
    session.flush()
    return entry


def allocations_of(session: Session, entry_id: int) -> list[tuple[Allocation, Lot]]:
    rows = session.execute(
        select(Allocation, Lot).join(Lot, Lot.id == Allocation.lot_id)
        .where(Allocation.entry_id == entry_id, Allocation.kind == "spend")
        .order_by(Allocation.id))
    return [(alloc, lot) for alloc, lot in rows]


def document_lot_ids(session: Session, document_id: int) -> list[int]:
    """The lots a document's positive entries created."""
    return list(session.execute(
        select(Lot.id).join(LedgerEntry, LedgerEntry.id == Lot.entry_id)
        .where(LedgerEntry.document_id == document_id, LedgerEntry.amount > 0)).scalars())


def collectable(session: Session, account: Account, own_ids: Sequence[int], now: datetime) -> Decimal:
    """What a reversal can take: available points plus the document's own pending lots."""
    own_pending = sum((lot.remaining for lot in session.execute(
        select(Lot).where(Lot.id.in_(own_ids), Lot.available_at > now)).scalars()), ZERO)
    return max(available_points(session, account, now), ZERO) + own_pending


def document_pending(session: Session, document_id: int, now: datetime, *, new: bool = False) -> Decimal:
    """What a document earned that is still held (its lots not yet available). ``new``: the document
    was created in this transaction, so its lots are the ones this transaction's credits made."""
    made = _new_lots(session) if new else None
    if made is not None:
        return sum((amount for amount, available_at in made.get(document_id, ()) if available_at > now), ZERO)
    total = session.execute(
        select(func.coalesce(func.sum(Lot.remaining), 0)).join(LedgerEntry, LedgerEntry.id == Lot.entry_id)
        .where(LedgerEntry.document_id == document_id, Lot.available_at > now)).scalar_one()
    return Decimal(total)
