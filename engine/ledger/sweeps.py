"""Set-based nightly sweeps: expire and mature lots a batch of accounts at a time, in a few statements.

They write what the per-lot path (`daily.expire_per_lot`, `daily.mature_per_lot`)
writes — the same entries, allocations and lot changes, keyed the same way
(``expiry:lot:<id>``) — but per batch of accounts instead of per lot: lock
the accounts in id order, then INSERT … SELECT the expiry entries, INSERT …
SELECT their allocations, UPDATE the lots. Each statement re-checks its
conditions under the locks, so a re-run or an overlapping run writes nothing
twice, and every touched account stays balanced for the deferred trigger
(an expiry entry of −r, an allocation of r, the lot's remainder down by r).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, String, and_, case, cast, exists, func, insert, literal, select, text, update
from sqlalchemy.orm import Session

from engine.ledger import rows
from engine.ledger.locks import lock_accounts
from engine.ledger.posting import settle_debts
from engine.models import Account, Allocation, LedgerEntry, Lot
from engine.models.bulk import is_postgres, one_of, run

ZERO = Decimal(0)
# Lots per batch (whole accounts). Large on purpose: an account's lots lie all over the table, so each
# batch reads most of its pages whatever its size; fewer batches, fewer passes.
BATCH_LOTS = 500_000
# Lots per batch when the batches are shared between connections: two connections each given four
# batches of 125,000 finished 1M lots in 18–22 s, each given one of 500,000 in 22–24 s (one connection:
# 28–29 s); below about 60,000 a batch's pass over the pages costs more than its lots (30,000: 90 s).
SHARED_BATCH_LOTS = 125_000
# Settings for a batch's statements only (PostgreSQL). Memory for its sorts: 4 MB spills a 500,000-lot
# batch's sort of due lots to disk. No hash or merge joins: a batch's lots are joined to the key index
# (lots already expired) and to the lots table (the lots it empties), and the planner, estimating a
# CTE's rows, preferred reading and hashing the whole table each time — a cost that grows with the
# ledger, not with the batch. Index probes in key order grow with the batch.
SWEEP_SETTINGS = {"work_mem": "256MB", "enable_hashjoin": "off", "enable_mergejoin": "off"}


def _batches(session: Session, condition, size: int | None = None) -> Iterator[tuple[list[int], int]]:
    """(account ids, lot count) of the lots matching ``condition``, whole accounts per batch, in id order.

    One row per account (not per lot) comes back: the batch's statements select their lots again,
    under the accounts' locks.
    """
    counts = run(session, select(Lot.account_id, func.count()).where(condition)
                 .group_by(Lot.account_id).order_by(Lot.account_id)).all()
    accounts: list[int] = []
    lots = 0
    size = size or BATCH_LOTS
    for account_id, count in counts:
        if lots >= size:
            yield accounts, lots
            accounts, lots = [], 0
        accounts.append(account_id)
        lots += count
    if accounts:
        yield accounts, lots


@contextmanager
def _sweep_settings(session: Session, postgres: bool):
    """SWEEP_SETTINGS for the statements inside, then back to what they were (PostgreSQL)."""
    if not postgres:
        yield
        return
    before = run(session, select(*(func.current_setting(name) for name in SWEEP_SETTINGS))).one()
    run(session, select(*(func.set_config(name, value, True) for name, value in SWEEP_SETTINGS.items())))
    try:
        yield
    finally:
        run(session, select(*(func.set_config(name, value, True) for name, value in zip(SWEEP_SETTINGS, before))))


def _forget_lots(session: Session) -> None:
    """Lots and accounts this session holds are stale after a Core UPDATE: reload them on next access."""
    for obj in list(session.identity_map.values()):
        if isinstance(obj, (Lot, Account)):
            session.expire(obj)


def _expiry_key(lot_id):
    return literal("expiry:lot:", String).concat(cast(lot_id, String))


def _isoformat(session: Session, column):
    """SQL for ``column.isoformat()`` of a UTC datetime, as the per-lot trace stores it."""
    if is_postgres(session):
        # One to_char a row, its format picked by the fraction (a million lots a night).
        pattern = case((func.date_trunc("second", column) == column, 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"'),
                       else_='YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')
        return func.to_char(func.timezone("UTC", column), pattern)
    # SQLite holds naive UTC text 'YYYY-MM-DD HH:MM:SS.ffffff'; isoformat drops a zero fraction.
    text = func.replace(cast(column, String), " ", "T")
    return case((func.substr(text, 20) == ".000000", func.substr(text, 1, 19)), else_=text).concat("+00:00")


def _trace(session: Session, lot):
    build = func.jsonb_build_object if is_postgres(session) else func.json_object
    return build("lot", lot.id, "expires_at", _isoformat(session, lot.expires_at))


def expire(session: Session, now: datetime, *, actor: str = "system:expire", workers: int = 1) -> dict:
    """Turn the remainder of every lot past its expiry into an expiry entry, set-based.

    With ``workers`` > 1 on PostgreSQL and more than one batch, the batches run on connections of their
    own, that many at a time, each committed when it is done (`_on_own_connections`): the caller's
    transaction must hold no account lock and no uncommitted lot (the nightly step commits before it).
    """
    session.flush()
    shared = workers > 1 and is_postgres(session)
    batches = [accounts for accounts, _count in _batches(session, _due(now), SHARED_BATCH_LOTS if shared else None)]
    step = lambda own, accounts: _expire_accounts(own, accounts, now, actor)  # noqa: E731
    if shared and len(batches) > 1:
        done = _on_own_connections(session, batches, step, workers)
    else:
        done = [step(session, accounts) for accounts in batches]
    _forget_lots(session)
    return {"lots": sum(count for count, _ in done), "points": sum((total for _, total in done), ZERO)}


def _due(now: datetime):
    return and_(Lot.remaining > 0, Lot.expires_at <= now)


def _expire_accounts(session: Session, account_ids: list[int], now: datetime, actor: str
                     ) -> tuple[int, Decimal]:
    """One batch: lock its accounts, then expire their due lots; (lots, points)."""
    lock_accounts(session, account_ids)
    # A lot expired by an earlier run has its entry's key taken: left out. An anti-join under the
    # accounts' locks (every ledger writer takes them first), not ON CONFLICT: the speculative
    # insertion's check, lock and confirmation record per row cost a quarter of the entries' INSERT.
    already = exists().where(LedgerEntry.idempotency_key == _expiry_key(Lot.id))
    lots = select(Lot.id, Lot.account_id, Lot.remaining, Lot.expires_at).where(
        one_of(session, Lot.account_id, account_ids), _due(now), ~already)
    if not is_postgres(session):
        return _expire_batch(session, lots, now, actor)
    with _sweep_settings(session, True):
        return _expire_batch_pg(session, lots, now, actor)


# How long a batch on its own connection waits for an account lock before it gives up: orders hold
# theirs for milliseconds; a lock held by the caller's own transaction would otherwise wait forever.
OWN_LOCK_TIMEOUT = "60s"


def _on_own_connections(session: Session, batches: list[list[int]],
                        step: Callable[[Session, list[int]], tuple[int, Decimal]], workers: int) -> list:
    """``step`` for each batch on a session of its own (PostgreSQL), ``workers`` at a time, each batch
    committed as it ends. The batches' accounts are disjoint and each locks its own in id order, so
    they never wait on one another; a failed batch rolls back alone, its error is raised after the
    others end, and a re-run expires what it left (the keys make every expiry once only)."""
    engine = session.get_bind()

    def one(accounts: list[int]) -> tuple[int, Decimal]:
        with Session(bind=engine) as own, own.begin():
            run(own, text(f"SET LOCAL lock_timeout = '{OWN_LOCK_TIMEOUT}'"))
            return step(own, accounts)

    with ThreadPoolExecutor(max_workers=min(workers, len(batches)), thread_name_prefix="sweep") as pool:
        futures = [pool.submit(one, accounts) for accounts in batches]
    return [future.result() for future in futures]


def _entry_columns(session: Session, lot, now: datetime, actor: str) -> dict:
    """An expiry entry's columns, as `posting.expire_lot` fills them, from a due lot's row."""
    return rows.entry_columns(
        account_id=lot.account_id, kind=literal("expiry", String), amount=-lot.remaining,
        key=_expiry_key(lot.id), actor=literal(actor, String), trace=_trace(session, lot),
        effective_at=lot.expires_at, now=now)


def _lot_of(entry):
    """The lot an expiry entry empties, read back from its key ``expiry:lot:<id>``."""
    return cast(func.substr(entry.c.idempotency_key, len("expiry:lot:") + 1), BigInteger)


def _allocation_rows(written):
    """The allocation of each written expiry entry: all of its lot, as `posting.expire_lot` takes it."""
    return select(_lot_of(written), written.c.id, -written.c.amount, literal("spend", String),
                  written.c.created_at)


ALLOCATION_COLUMNS = ["lot_id", "entry_id", "amount", "kind", "created_at"]


def _expire_batch_pg(session: Session, lots, now: datetime, actor: str) -> tuple[int, Decimal]:
    """One statement: the due lots, their entries, allocations and emptied lots as data-modifying CTEs.

    Allocations come from the entries' RETURNING, and the lots emptied are the allocations' (by
    primary key). The unique index on the keys still guards against a writer that skipped the lock.
    """
    due = lots.cte("due")
    entries = rows.ENTRY_TABLE
    columns = _entry_columns(session, due.c, now, actor)
    written = (insert(entries)
               .from_select(list(columns), select(*columns.values()).order_by(due.c.account_id, due.c.id))
               .returning(entries.c.id, entries.c.idempotency_key, entries.c.amount, entries.c.created_at)
               .cte("written"))
    allocations = Allocation.__table__
    taken = (insert(allocations).from_select(ALLOCATION_COLUMNS, _allocation_rows(written))
             .returning(allocations.c.lot_id).cte("taken"))
    lots_table = rows.LOT_TABLE
    # In lot id order (about the order of the lots' pages), not the accounts' order the entries take.
    in_order = select(taken.c.lot_id).order_by(taken.c.lot_id).subquery("in_order")
    emptied = update(lots_table).where(lots_table.c.id == in_order.c.lot_id).values(remaining=0).cte("emptied")
    summary = (select(func.count(), func.coalesce(-func.sum(written.c.amount), 0)).select_from(written)
               .add_cte(taken, emptied))
    count, total = run(session, summary).one()
    return count, Decimal(total)


def _expire_batch(session: Session, lots, now: datetime, actor: str) -> tuple[int, Decimal]:
    """Three statements (SQLite): entries, then their allocations, then the lots."""
    due = lots.subquery("due")
    entries = rows.ENTRY_TABLE
    before = run(session, select(func.coalesce(func.max(entries.c.id), 0))).scalar_one()
    columns = _entry_columns(session, due.c, now, actor)
    run(session, insert(entries).from_select(
        list(columns), select(*columns.values()).order_by(due.c.account_id, due.c.id)))
    # The entries just written are those above ``before``: no one else posts for these locked accounts.
    written = select(entries).where(entries.c.id > before, entries.c.kind == "expiry").subquery("written")
    run(session, insert(Allocation.__table__).from_select(ALLOCATION_COLUMNS, _allocation_rows(written)))
    taken = select(Allocation.lot_id).where(Allocation.entry_id > before, Allocation.kind == "spend")
    run(session, update(Lot).where(Lot.id.in_(taken)).values(remaining=0)
        .execution_options(synchronize_session=False))
    count, total = run(session, select(func.count(), func.coalesce(func.sum(written.c.amount), 0))).one()
    return count, -Decimal(total)


def mature(session: Session, now: datetime) -> dict:
    """Mark lots whose holding period ended as matured and let them pay any debt, set-based."""
    session.flush()
    due = and_(Lot.matured_at.is_(None), Lot.available_at <= now)
    matured = 0
    paid = ZERO
    for account_ids, _count in _batches(session, due):
        paid += settle_debts(session, lock_accounts(session, account_ids), now)
        done = run(session, update(Lot).where(one_of(session, Lot.account_id, account_ids), due)
                   .values(matured_at=now).execution_options(synchronize_session=False))
        matured += done.rowcount
    _forget_lots(session)
    return {"matured": matured, "debt_paid": paid}
