"""`engine.models.prepared.Prepared`: a statement run on the driver's cursor binds, fails, flushes and is
seen as the same statement through ``Session.execute`` would be (PostgreSQL; SQLite runs it through
SQLAlchemy, and each test holds there too)."""
from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy import bindparam, event, insert, literal, select

T = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)


def _entry_insert():
    from engine.models import LedgerEntry
    from engine.models.base import UTCDateTime
    table = LedgerEntry.__table__
    values = {name: bindparam(name, type_=table.c[name].type)
              for name in ("account_id", "kind", "amount", "idempotency_key", "actor", "trace", "effective_at")}
    values["created_at"] = literal(T, UTCDateTime)  # a value the statement carries
    return insert(table).values(values).returning(table.c.id, table.c.amount)


def _account(session):
    from engine.models import Account
    account = Account(owner_type="member")
    session.add(account)
    session.flush()
    return account


def _params(account_id, key, amount):
    return {"account_id": account_id, "kind": "adjustment", "amount": amount, "idempotency_key": key,
            "actor": "test", "trace": {"why": "ż", "n": [1, 2]}, "effective_at": T}


def test_values_are_bound_as_the_session_binds_them(session):
    from engine.models import LedgerEntry, Lot
    from engine.models.prepared import Prepared
    account = _account(session)
    prepared = Prepared(_entry_insert())
    # An amount of 5 places is quantised by its column type; the JSON document and the carried literal
    # are written as through the session.
    rows = prepared.rows(session, _params(account.id, "p:1", Decimal("1.23456")))
    via_session = session.execute(_entry_insert(), _params(account.id, "p:2", Decimal("1.23456"))).all()
    assert len(rows) == 1 and isinstance(rows[0], tuple)
    assert rows[0][1] == via_session[0][1] == Decimal("1.2346")
    session.execute(sa.insert(Lot.__table__), [{"account_id": account.id, "entry_id": entry_id, "amount": amount,
                                                "remaining": amount, "available_at": T, "expires_at": None}
                                               for entry_id, amount in (rows[0], via_session[0])])
    session.commit()
    stored = session.execute(select(LedgerEntry.idempotency_key, LedgerEntry.amount, LedgerEntry.trace,
                                    LedgerEntry.created_at).where(LedgerEntry.account_id == account.id)
                             .order_by(LedgerEntry.id)).all()
    assert [tuple(row)[1:] for row in stored] == [(Decimal("1.2346"), {"why": "ż", "n": [1, 2]}, T)] * 2


def test_a_driver_error_is_sqlalchemys_and_the_session_rolls_back_and_goes_on(session):
    from engine.models import LedgerEntry
    from engine.models.prepared import Prepared
    account = _account(session)
    session.commit()
    prepared = Prepared(_entry_insert())
    prepared.rows(session, _params(account.id, "dup", Decimal(5)))
    with pytest.raises(sa.exc.IntegrityError) as raised:
        prepared.rows(session, _params(account.id, "dup", Decimal(6)))
    assert "idempotency_key" in str(raised.value)
    session.rollback()
    assert prepared.scalar(session, _params(account.id, "after", Decimal(7))) is not None
    session.rollback()  # the work after the error rolls back too: neither entry is stored
    assert session.scalar(select(sa.func.count()).select_from(LedgerEntry)
                          .where(LedgerEntry.account_id == account.id)) == 0


def test_pending_objects_are_flushed_first_and_listeners_see_the_statement(app, session):
    from engine.models import Account, LedgerEntry
    from engine.models.prepared import Prepared
    from server.extensions import db
    account = Account(owner_type="member")
    session.add(account)  # pending: the entry's account must reach the database before the entry
    seen = []

    def listener(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", listener)
    try:
        session.flush()  # the account's INSERT, so the listener below sees the entry's alone
        seen.clear()
        entry_id = Prepared(_entry_insert()).scalar(session, _params(account.id, "seen", Decimal(3)))
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert entry_id is not None
    assert len(seen) == 1 and seen[0].startswith("INSERT INTO ledger_entries")
    pending = Account(owner_type="member")
    session.add(pending)
    rows = Prepared(select(Account.id).where(Account.id == bindparam("id"))).rows(session, {"id": None})
    assert rows == [] and pending.id is not None  # autoflush gave the pending account its id
    session.rollback()
    assert session.get(LedgerEntry, entry_id) is None


def test_a_stamped_configuration_table_is_refused(session):
    # `engine.config_stamp` forgets its cache on a write it sees through the session; this would pass it by.
    from engine.models import PolicyVersion
    from engine.models.prepared import Prepared
    table = PolicyVersion.__table__
    with pytest.raises(ValueError, match="policy_versions"):
        Prepared(sa.update(table).values(author="x").where(table.c.id == bindparam("id"))).rows(session, {"id": 1})
