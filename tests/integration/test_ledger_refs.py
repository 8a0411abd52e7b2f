"""Allocations' lot and entry, and entries' references, exist (PostgreSQL: statement triggers, not
per-row foreign keys), and the rows they refer to keep their id and stay while referred to (0018)."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from engine import ledger, members
from engine.ledger.check import check
from tests.conftest import T0, D


def _spent(session):
    """A member with a lot of 10 and a debit of 4 that took 4 of it: one allocation."""
    member = members.create(session, {"name": "Refs"}, now=T0)
    account = ledger.lock_account(session, member.account_id)
    ledger.credit(session, account, kind="adjustment", key="refs:1", actor="test", now=T0,
                  lots=[ledger.LotSpec(D("10"), T0, None)], member_id=member.id)
    ledger.debit(session, account, kind="adjustment", amount=D("4"), key="refs:2", actor="test", now=T0)
    session.commit()
    return session.execute(sa.text("SELECT id, lot_id, entry_id FROM allocations "
                                   "WHERE entry_id = (SELECT id FROM ledger_entries WHERE idempotency_key = 'refs:2')")
                           ).one()


def test_written_allocations_pass_and_the_check_finds_nothing(pg_session):
    _spent(pg_session)
    assert [v for v in check(pg_session) if v.invariant == "allocation_refs"] == []


@pytest.mark.parametrize("column", ["lot_id", "entry_id"])
def test_an_allocation_to_a_missing_row_is_refused_by_its_statement(pg_session, column):
    allocation = _spent(pg_session)
    values = {"lot_id": allocation.lot_id, "entry_id": allocation.entry_id, column: 10**12}
    with pytest.raises(IntegrityError, match="does not exist"):
        pg_session.execute(sa.text("INSERT INTO allocations (lot_id, entry_id, amount, kind, created_at) "
                                   "VALUES (:lot_id, :entry_id, 1, 'spend', now())"), values)


@pytest.mark.parametrize("column", ["lot_id", "entry_id"])
def test_an_allocation_moved_to_a_missing_row_is_refused(pg_session, column):
    allocation = _spent(pg_session)
    with pytest.raises(IntegrityError, match="does not exist"):
        pg_session.execute(sa.text(f"UPDATE allocations SET {column} = {column} + 10^12 WHERE id = :id"),
                           {"id": allocation.id})


@pytest.mark.parametrize("statement", [
    "DELETE FROM allocations WHERE id = :id; DELETE FROM lots WHERE id = :lot",
    "DELETE FROM ledger_entries WHERE id = :entry",
    "UPDATE lots SET id = id + 1000000 WHERE id = :lot",
    "UPDATE ledger_entries SET id = id + 1000000 WHERE id = :entry",
])
def test_lots_and_entries_are_never_deleted_nor_renumbered(pg_session, statement):
    allocation = _spent(pg_session)
    params = {"id": allocation.id, "lot": allocation.lot_id, "entry": allocation.entry_id}
    with pytest.raises(IntegrityError, match="never deleted"):
        for part in statement.split("; "):
            pg_session.execute(sa.text(part), params)


def test_updates_that_keep_ids_pass(pg_session):
    allocation = _spent(pg_session)
    pg_session.execute(sa.text("UPDATE lots SET warned_at = now(), id = id WHERE id = :lot"),
                       {"lot": allocation.lot_id})
    pg_session.execute(sa.text("UPDATE allocations SET created_at = now() WHERE id = :id"), {"id": allocation.id})
    pg_session.commit()


def test_the_check_names_an_allocation_whose_lot_is_missing(pg_session):
    allocation = _spent(pg_session)
    pg_session.execute(sa.text("ALTER TABLE allocations DISABLE TRIGGER ledger_allocation_refs_update"))
    pg_session.execute(sa.text("UPDATE allocations SET lot_id = lot_id + 10^12 WHERE id = :id"),
                       {"id": allocation.id})
    found = [v for v in check(pg_session) if v.invariant == "allocation_refs"]
    assert [v.subject for v in found] == [f"allocation {allocation.id}"]
    pg_session.rollback()  # the trigger is enabled again with the rollback


@pytest.mark.parametrize("column", ["account_id", "member_id", "beneficiary_member_id", "document_id",
                                    "redemption_id", "policy_version_id"])
def test_an_entry_referring_to_a_missing_row_is_refused_by_its_statement(pg_session, column):
    member = members.create(pg_session, {"name": "Refs"}, now=T0)
    pg_session.commit()
    values = {"account_id": member.account_id, column: 10**12}
    with pytest.raises(IntegrityError, match="does not exist"):
        pg_session.execute(sa.text(
            f"INSERT INTO ledger_entries (account_id, {column if column != 'account_id' else 'reason'}, kind, "
            "amount, idempotency_key, actor, effective_at, created_at) "
            f"VALUES (:account_id, {':' + column if column != 'account_id' else 'NULL'}, 'adjustment', -1, "
            "'refs:raw', 'psql', now(), now())"), values)


def test_an_entry_moved_to_a_missing_member_is_refused(pg_session):
    _spent(pg_session)
    with pytest.raises(IntegrityError, match="does not exist"):
        pg_session.execute(sa.text("UPDATE ledger_entries SET member_id = 10^12 WHERE idempotency_key = 'refs:1'"))


def test_a_member_an_entry_refers_to_is_not_deleted_and_one_without_entries_is(pg_session):
    _spent(pg_session)
    spare = members.create(pg_session, {"name": "Spare"}, now=T0)
    pg_session.commit()
    referred = pg_session.execute(sa.text("SELECT member_id FROM ledger_entries WHERE idempotency_key = 'refs:1'")
                                  ).scalar_one()
    with pytest.raises(IntegrityError, match="referred to by ledger entry"):
        pg_session.execute(sa.text("DELETE FROM members WHERE id IN (:a, :b)"), {"a": referred, "b": spare.id})
    pg_session.rollback()
    pg_session.execute(sa.text("DELETE FROM members WHERE id = :b"), {"b": spare.id})
    with pytest.raises(IntegrityError, match="keep their id"):
        pg_session.execute(sa.text("UPDATE members SET id = id + 1000000 WHERE id = :a"), {"a": referred})


def test_the_check_names_an_entry_whose_member_is_missing(pg_session):
    _spent(pg_session)
    pg_session.execute(sa.text("ALTER TABLE ledger_entries DISABLE TRIGGER ledger_entry_refs_update"))
    pg_session.execute(sa.text("UPDATE ledger_entries SET member_id = 10^12 WHERE idempotency_key = 'refs:1'"))
    entry = pg_session.execute(sa.text("SELECT id FROM ledger_entries WHERE idempotency_key = 'refs:1'")).scalar_one()
    found = [v for v in check(pg_session) if v.invariant == "entry_refs"]
    assert [v.subject for v in found] == [f"entry {entry}"]
    pg_session.rollback()
