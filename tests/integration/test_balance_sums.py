"""`ledger.balance_of` and `ledger.balance` (summed by PostgreSQL, by Python on SQLite) equal the Python sum
of the account's open lots as read row by row, for an account of many lots in every state: spent, pending,
expired, never expiring, sharing an expiry."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from engine import ledger, members
from engine.ledger import balances
from engine.models import Account, Lot
from engine.models.bulk import is_postgres
from tests.conftest import T0, D

DAY = timedelta(days=1)


def test_balance_of_sums_an_account_of_many_lots_as_the_orm_balance_does(session):
    member = members.create(session, {"name": "wholesale"}, now=T0 - 400 * DAY)
    account = ledger.lock_account(session, member.account_id)
    for i in range(240):
        available = T0 - (i % 50) * DAY if i % 7 else T0 + (i % 5 + 1) * DAY  # every 7th still pending
        expires = None if i % 11 == 0 else T0 + (i % 13 - 2) * DAY  # some gone, many sharing a date
        ledger.credit(session, account, kind="adjustment", key=f"many:{i}", actor="test", now=T0 - 60 * DAY,
                      lots=[ledger.LotSpec(D(f"{i % 9 + 1}.{i % 100:02d}"), available, expires)])
    session.flush()
    session.execute(update(Lot).where(Lot.account_id == account.id, Lot.id % 5 == 0).values(remaining=0))
    for debt in (D(0), D("17.35")):
        session.execute(update(Account).where(Account.id == account.id).values(debt=debt))
        session.expire_all()
        rows = session.execute(select(Lot.remaining, Lot.available_at, Lot.expires_at)
                               .where(balances.unexpired(account.id, T0))).all()
        for limit in (1, 3, 40):
            by_rows = balances._summary(rows, debt, T0, limit)  # the oracle: Python's sum, lot by lot
            found = [ledger.balance_of(session, account.id, T0, expiring_limit=limit),
                     ledger.balance(session, session.get(Account, account.id), T0, expiring_limit=limit)]
            if is_postgres(session):  # the member's lookup bringing the sums in the same statement
                with_member = members.with_balance(session, member.loyalty_id, T0, expiring_limit=limit)
                assert with_member[0] is member
                found.append(with_member[1])
            for summed in found:
                assert summed == by_rows
                assert [str(v) for v in (summed.available, summed.pending)] == \
                    [str(by_rows.available), str(by_rows.pending)]
                assert [(at, str(v)) for at, v in summed.expiring] == [(at, str(v)) for at, v in by_rows.expiring]
        assert len(summed.expiring) == 10 and summed.pending > 0 and summed.debt == debt


def test_balance_of_an_account_without_lots(session):
    member = members.create(session, {"name": "empty"}, now=T0)
    balance = ledger.balance_of(session, member.account_id, T0)
    assert (balance.available, balance.pending, balance.expiring) == (D(0), D(0), ())
    if is_postgres(session):
        found, with_member = members.with_balance(session, member.loyalty_id, T0)
        assert found is member and with_member == balance


def test_with_balance_leaves_nobody_and_merged_away_members_to_the_lookup_one_at_a_time(pg_session):
    session = pg_session
    source = members.create(session, {"name": "old card", "ext_id": "old"}, now=T0)
    target = members.create(session, {"name": "target"}, now=T0)
    session.flush()
    source.merged_into_id = target.id
    session.flush()
    assert members.with_balance(session, "ext:old", T0) is None
    assert members.with_balance(session, "ext:nobody", T0) is None
    assert members.with_balance(session, "phone:12", T0) is None
