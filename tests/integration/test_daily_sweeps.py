"""The set-based nightly sweeps write what the per-lot path writes, on PostgreSQL and SQLite."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from engine import ledger, members
from engine.ledger import daily, sweeps
from engine.ledger.check import check
from engine.models import Account, Allocation, LedgerEntry, Lot
from tests.conftest import T0, D

DAY = timedelta(days=1)
NOW = T0 + 41 * DAY


def _fill(session) -> None:
    """Accounts with expiring, pending, never-expiring, partly spent lots and debt."""
    for i in range(12):
        member = members.create(session, {"name": f"M{i}"}, now=T0 - DAY)
        account = ledger.lock_account(session, member.account.id)
        lots = [ledger.LotSpec(D(10 + i), T0, T0 + 30 * DAY + timedelta(microseconds=i % 2 * 250)),
                ledger.LotSpec(D(5), T0 + 40 * DAY, T0 + 400 * DAY),
                ledger.LotSpec(D("2.5"), T0, None)]
        ledger.credit(session, account, kind="accrual", key=f"c:{i}", actor="t", lots=lots, now=T0)
        if i % 3 == 0:
            ledger.debit(session, account, kind="redemption", amount=D(3), key=f"r:{i}", actor="t",
                         now=T0 + DAY)
        if i % 4 == 1:  # returns after spending: the account owes more than it has available
            ledger.debit(session, account, kind="reversal", amount=D(20 + i), key=f"v:{i}", actor="t",
                         now=T0 + 2 * DAY, allow_debt=True)
            # Held lots that pay the debt when they mature, soonest-expiring first.
            ledger.credit(session, account, kind="bonus", key=f"h:{i}", actor="t", now=T0 + 3 * DAY,
                          lots=[ledger.LotSpec(D(3), T0 + 39 * DAY, T0 + 500 * DAY),
                                ledger.LotSpec(D(4), T0 + 38 * DAY, T0 + 90 * DAY)])
        if i == 7:  # a lot already expired by an earlier run
            ledger.credit(session, account, kind="bonus", key="b:7", actor="t",
                          lots=[ledger.LotSpec(D(4), T0, T0 + 10 * DAY)], now=T0)
            daily.expire_per_lot(session, T0 + 11 * DAY)
    session.commit()


def _snapshot(session) -> dict:
    session.flush()
    columns = [c for c in LedgerEntry.__table__.columns if c.name != "id"]
    entries = sorted(tuple(row) for row in session.execute(select(*columns)))
    allocations = sorted(tuple(row) for row in session.execute(
        select(Allocation.lot_id, LedgerEntry.idempotency_key, Allocation.amount, Allocation.kind,
               Allocation.created_at).join(LedgerEntry, LedgerEntry.id == Allocation.entry_id)))
    lots = sorted(tuple(row) for row in session.execute(select(Lot.id, Lot.remaining, Lot.matured_at)))
    debts = sorted(tuple(row) for row in session.execute(select(Account.id, Account.debt)))
    return {"entries": entries, "allocations": allocations, "lots": lots, "debts": debts}


def test_set_based_mature_and_expire_write_what_the_per_lot_path_writes(session):
    _fill(session)
    before = _snapshot(session)
    reference = (daily.mature_per_lot(session, NOW), daily.expire_per_lot(session, NOW))
    expected = _snapshot(session)
    session.rollback()
    assert _snapshot(session) == before

    stats = (sweeps.mature(session, NOW), sweeps.expire(session, NOW))
    got = _snapshot(session)
    assert stats == reference
    assert stats[0]["debt_paid"] > 0 and stats[1]["lots"] == 9
    assert got == expected
    assert got != before
    assert check(session) == []
    session.commit()  # PostgreSQL's deferred trigger checks every touched account here


def test_set_based_sweeps_are_idempotent(session):
    _fill(session)
    first = (sweeps.mature(session, NOW), sweeps.expire(session, NOW))
    session.commit()
    once = _snapshot(session)
    again = (sweeps.mature(session, NOW), sweeps.expire(session, NOW + DAY))
    assert first[1]["lots"] == 9
    assert again == ({"matured": 0, "debt_paid": 0}, {"lots": 0, "points": 0})
    assert _snapshot(session) == once
    session.commit()


def test_sweeps_split_batches_at_account_boundaries(session, monkeypatch):
    _fill(session)
    monkeypatch.setattr(sweeps, "BATCH_LOTS", 2)
    batches = list(sweeps._batches(session, Lot.remaining > 0))
    assert len(batches) > 3
    seen = [a for accounts, _ in batches for a in accounts]
    assert seen == sorted(set(seen))  # each account in exactly one batch, in id order
    assert sweeps.expire(session, NOW)["lots"] == 9
    assert check(session) == []


def test_a_lot_whose_expiry_entry_exists_is_left_alone(session):
    """The key decides, not the remainder: a lot expired before and somehow open again writes nothing twice."""
    member = members.create(session, {"name": "Again"}, now=T0 - DAY)
    account = ledger.lock_account(session, member.account.id)
    ledger.credit(session, account, kind="accrual", key="again", actor="t", now=T0,
                  lots=[ledger.LotSpec(D(10), T0, T0 + 30 * DAY)])
    assert sweeps.expire(session, NOW) == {"lots": 1, "points": D(10)}
    lot = session.execute(select(Lot).where(Lot.account_id == account.id)).scalar_one()
    lot.remaining = D(10)  # open again, balanced by a debt of the same size
    session.get(Account, account.id).debt = D(10)
    session.commit()
    entries = session.execute(select(func.count()).select_from(LedgerEntry)).scalar_one()
    violations = check(session)  # the hand-made state itself: the lot's allocations no longer add up
    assert sweeps.expire(session, NOW + DAY) == {"lots": 0, "points": 0}
    assert daily.expire_per_lot(session, NOW + DAY) == {"lots": 0, "points": 0}
    session.refresh(lot)
    assert lot.remaining == D(10)
    assert session.execute(select(func.count()).select_from(LedgerEntry)).scalar_one() == entries
    assert check(session) == violations
    session.commit()


def test_expiry_shared_between_connections_writes_what_the_per_lot_path_writes(session, monkeypatch):
    """The nightly expiry's batches on connections of their own (PostgreSQL): the same rows, and each
    batch committed on its own, so the caller's rollback leaves them."""
    _fill(session)
    sweeps.mature(session, NOW)
    session.commit()
    reference = daily.expire_per_lot(session, NOW)
    expected = _snapshot(session)
    session.rollback()
    monkeypatch.setattr(sweeps, "BATCH_LOTS", 2)
    monkeypatch.setattr(sweeps, "SHARED_BATCH_LOTS", 2)
    assert len(list(sweeps._batches(session, sweeps._due(NOW)))) > 3
    assert daily.expire(session, NOW, workers=2) == reference
    assert reference["lots"] == 9
    assert _snapshot(session) == expected
    if session.get_bind().dialect.name == "postgresql":
        session.rollback()  # committed batch by batch on their own connections: still there
    else:
        session.commit()  # one transaction, the caller's
    assert _snapshot(session) == expected
    assert check(session) == []
    assert daily.expire(session, NOW + DAY, workers=2) == {"lots": 0, "points": 0}


def test_a_batch_that_cannot_lock_its_accounts_fails_alone(pg_session, monkeypatch):
    """An account locked by the caller's own transaction: its batch gives up after the lock timeout
    with an error instead of waiting forever; the other batches commit; a re-run expires the rest."""
    session = pg_session
    _fill(session)
    monkeypatch.setattr(sweeps, "BATCH_LOTS", 2)
    monkeypatch.setattr(sweeps, "SHARED_BATCH_LOTS", 2)
    monkeypatch.setattr(sweeps, "OWN_LOCK_TIMEOUT", "200ms")
    due = session.execute(select(func.count()).select_from(Lot).where(sweeps._due(NOW))).scalar_one()
    last = max(a for accounts, _ in sweeps._batches(session, sweeps._due(NOW)) for a in accounts)
    ledger.lock_account(session, last)
    with pytest.raises(OperationalError, match="lock timeout"):
        sweeps.expire(session, NOW, workers=2)
    session.rollback()
    left = session.execute(select(func.count()).select_from(Lot).where(sweeps._due(NOW))).scalar_one()
    assert 0 < left < due
    assert sweeps.expire(session, NOW, workers=2)["lots"] == left
    session.commit()
    assert session.execute(select(func.count()).select_from(Lot).where(sweeps._due(NOW))).scalar_one() == 0
    assert check(session) == []
