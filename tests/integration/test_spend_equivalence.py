"""`ledger.spend` (a redemption's one-statement write on PostgreSQL) posts exactly what `ledger.debit` posts."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from engine import ledger, members
from engine.ledger.check import check
from engine.models import Allocation, LedgerEntry, Lot
from tests.conftest import T0, D

DAY = timedelta(days=1)


def _account_with_lots(session, name: str):
    """An account with lots that expire at different times, one never, one still pending."""
    member = members.create(session, {"name": name}, now=T0 - 400 * DAY)
    account = ledger.lock_account(session, member.account_id)
    for i, (amount, available, expires) in enumerate([
            ("5", T0 - 10 * DAY, T0 + 90 * DAY), ("3.5", T0 - 5 * DAY, T0 + 30 * DAY),
            ("7", T0 - 20 * DAY, None), ("4", T0 + 5 * DAY, T0 + 60 * DAY), ("2", T0 - 30 * DAY, T0 + 30 * DAY)]):
        ledger.credit(session, account, kind="adjustment", key=f"{name}:lot:{i}", actor="test", now=T0 - 40 * DAY,
                      lots=[ledger.LotSpec(D(amount), available, expires)])
    session.flush()
    return member, account


def _posted(session, account_id: int):
    entries = session.execute(select(LedgerEntry).where(LedgerEntry.account_id == account_id, LedgerEntry.amount < 0)
                              .order_by(LedgerEntry.id)).scalars().all()
    lots = session.execute(select(Lot).where(Lot.account_id == account_id).order_by(Lot.id)).scalars().all()
    lot_no = {lot.id: n for n, lot in enumerate(lots)}
    entry_no = {entry.id: n for n, entry in enumerate(entries)}
    allocations = session.execute(select(Allocation).join(Lot, Lot.id == Allocation.lot_id)
                                  .where(Lot.account_id == account_id).order_by(Allocation.id)).scalars().all()
    return ([(e.kind, e.amount, e.idempotency_key.split(":", 1)[1], e.actor, e.reason, e.trace, e.created_at,
              e.effective_at, e.member_id is not None) for e in entries],
            [(lot_no[a.lot_id], a.amount, a.kind, a.created_at, entry_no[a.entry_id]) for a in allocations],
            [lot.remaining for lot in lots])


def test_spend_posts_the_same_entries_allocations_and_remainders_as_debit(session):
    now = T0
    results = []
    for name, post in (("debit", ledger.debit), ("spend", ledger.spend)):
        member, account = _account_with_lots(session, name)
        # Across lots (2 + 3.5 + part of 5), then a whole lot exactly, then one left in part.
        for i, amount in enumerate(("8.25", "2.25", "1")):
            entry = post(session, account, kind="redemption", amount=D(amount), key=f"{name}:r{i}", actor="api:shop",
                         now=now + i * DAY, member_id=member.id, reason=f"order {i}", trace={"point_value": "0.01"})
            assert entry.amount == -D(amount) and entry.id is not None
        with pytest.raises(ledger.InsufficientPoints) as refused:
            post(session, account, kind="redemption", amount=D("6.5"), key=f"{name}:too-much", actor="api:shop",
                 now=now + 3 * DAY)
        results.append((_posted(session, account.id), refused.value.available,
                        ledger.balance_of(session, account.id, now + 3 * DAY)))
        # The session's lots agree with the database (spend writes them with Core, not the unit of work).
        assert [lot.remaining for lot in session.execute(select(Lot).where(Lot.account_id == account.id)
                                                         .order_by(Lot.id)).scalars()] == results[-1][0][2]
        session.expire_all()
        assert ledger.balance_of(session, account.id, now + 3 * DAY) == results[-1][2]
    assert results[0] == results[1]
    assert results[1][0][2] == [D(0), D(0), D(6), D(4), D(0)]  # soonest-expiring first, the pending one untouched
    session.flush()
    assert check(session) == []


def test_a_spend_replayed_with_its_key_answers_the_first_entry_and_writes_nothing(session):
    member, account = _account_with_lots(session, "replay")
    first = ledger.spend(session, account, kind="redemption", amount=D("3"), key="replay:r", actor="a", now=T0)
    again = ledger.spend(session, account, kind="redemption", amount=D("3"), key="replay:r", actor="a", now=T0)
    assert again.id == first.id
    assert session.execute(select(LedgerEntry).where(LedgerEntry.amount < 0,
                                                     LedgerEntry.account_id == account.id)).scalars().all() == [again]
    assert ledger.balance_of(session, account.id, T0).available == D("14.5")
    # More than is left, under a used key: the first entry still answers (as `debit` does) …
    assert ledger.spend(session, account, kind="redemption", amount=D("3"), key="replay:r", actor="a",
                        now=T0).id == first.id
    # … and the same key for a different amount is a conflict, not a second entry.
    with pytest.raises(ledger.IdempotencyConflict):
        ledger.spend(session, account, kind="redemption", amount=D("4"), key="replay:r", actor="a", now=T0)
    session.flush()
    assert check(session) == []


def test_a_spend_across_more_lots_than_one_statement_takes_posts_what_debit_posts(session):
    from engine.ledger.spending import MAX_TAKES
    results = []
    for name, post in (("many-debit", ledger.debit), ("many-spend", ledger.spend)):
        member = members.create(session, {"name": name}, now=T0 - 400 * DAY)
        account = ledger.lock_account(session, member.account_id)
        for i in range(MAX_TAKES + 6):  # small lots, as a wholesale account gathers them
            ledger.credit(session, account, kind="adjustment", key=f"{name}:lot:{i}", actor="test",
                          now=T0 - 40 * DAY, lots=[ledger.LotSpec(D("0.5"), T0 - 30 * DAY, T0 + (i + 1) * DAY)])
        entry = post(session, account, kind="redemption", amount=D(MAX_TAKES + 3) / 2, key=f"{name}:r",
                     actor="api:shop", now=T0, member_id=member.id)
        assert entry.amount == -D(MAX_TAKES + 3) / 2
        session.flush()
        results.append(_posted(session, account.id))
    assert results[0] == results[1]
    assert results[1][2].count(D(0)) == MAX_TAKES + 3  # every half-point lot taken, soonest first
    assert check(session) == []


def _wholesale(session, name: str, lots: int = 300):
    """An account of ``lots`` one-point lots: expiring a day apart in reverse order of their ids, the
    first ten never; all available."""
    member = members.create(session, {"name": name}, now=T0 - 400 * DAY)
    account = ledger.lock_account(session, member.account_id)
    specs = [ledger.LotSpec(D(1), T0 - 30 * DAY, None if i < 10 else T0 + (lots - i) * DAY) for i in range(lots)]
    ledger.credit(session, account, kind="adjustment", key=f"{name}:lots", actor="test", now=T0 - 40 * DAY,
                  lots=specs)
    session.flush()
    ids = session.execute(select(Lot.id).where(Lot.account_id == account.id).order_by(Lot.id)).scalars().all()
    # Spending order: soonest-expiring first (the highest ids here), the never-expiring ten last.
    return member, ids[10:][::-1] + ids[:10]


def _taken(session, account_id: int) -> list[int]:
    return session.execute(select(Allocation.lot_id).join(Lot, Lot.id == Allocation.lot_id)
                           .where(Lot.account_id == account_id).order_by(Allocation.id)).scalars().all()


def test_a_spend_reads_only_the_first_lots_of_an_account_of_thousands(session):
    from engine.ledger.spending import MAX_TAKES
    member, order = _wholesale(session, "reads")
    session.expunge_all()
    account = ledger.lock_account(session, member.account_id)
    ledger.spend(session, account, kind="redemption", amount=D("2.5"), key="reads:r", actor="api:shop", now=T0)
    assert _taken(session, account.id) == order[:3]
    loaded = [obj for obj in session.identity_map.values() if isinstance(obj, Lot)]
    assert len(loaded) <= MAX_TAKES + 1  # not the account's 300


@pytest.mark.parametrize("post", ["debit", "spend"])
def test_a_walk_past_the_first_lots_takes_them_in_spending_order(session, post):
    from engine.ledger.posting import FIRST_LOTS
    member, order = _wholesale(session, f"walk-{post}")
    account = ledger.lock_account(session, member.account_id)
    amount = FIRST_LOTS + 200  # into the never-expiring ones
    getattr(ledger, post)(session, account, kind="redemption", amount=D(amount), key=f"walk-{post}:r",
                          actor="api:shop", now=T0)
    assert _taken(session, account.id) == order[:amount]
    assert ledger.balance_of(session, account.id, T0).available == D(300 - amount)
    assert check(session) == []


def test_a_debt_is_paid_from_the_lots_in_spending_order_past_the_first_ones(session):
    from engine.ledger.posting import FIRST_LOTS
    member = members.create(session, {"name": "debtor"}, now=T0 - 400 * DAY)
    account = ledger.lock_account(session, member.account_id)
    ledger.debit(session, account, kind="adjustment", amount=D(FIRST_LOTS + 20), key="debtor:owe", actor="test",
                 now=T0 - 50 * DAY, allow_debt=True)
    specs = [ledger.LotSpec(D(1), T0 - 45 * DAY, T0 + (100 - i) * DAY) for i in range(100)]
    ledger.credit(session, account, kind="adjustment", key="debtor:lots", actor="test", now=T0 - 40 * DAY,
                  lots=specs)  # pays the debt first
    session.flush()
    ids = session.execute(select(Lot.id).where(Lot.account_id == account.id).order_by(Lot.id)).scalars().all()
    assert account.debt == 0
    assert _taken(session, account.id) == ids[::-1][:FIRST_LOTS + 20]
    assert check(session) == []
