"""A new order's first questions in one round trip (`orders._look_ahead`, PostgreSQL): the member, whether
the document is stored, the lines' catalog rows and, for an accruing order, the account's lock. Each test
runs on SQLite too, where every question is asked on its own: both must give the same document."""
from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa

from tests.conftest import ACCRUAL_BASIC, T0, D


def _doc(member_ref: str, external_id: str = "L1", status: str = "fulfilled", skus=("ECO", "PLAIN", "NONE")):
    from engine.domain import LineDoc, Origin, PurchaseDoc
    lines = tuple(LineDoc(line_no=n, sku=sku, name="", product_group="", brand="", quantity=D(2),
                          unit_price=D("25.00"), line_total=D("50.00"), is_promo=False)
                  for n, sku in enumerate(skus, start=1))
    return PurchaseDoc(source="shop", external_id=external_id, document_type="order", member_ref=member_ref,
                       placed_at=T0, currency="PLN", lines=lines, channel="web", store="s1",
                       shipping_total=D(0), status=status, origin=Origin("api", "t"))


@pytest.fixture
def catalog(session):
    from engine.models import Product
    session.add_all([Product(sku="ECO", name="Kran", product_group="110", brand="Hansa", tags=["eco", "new"],
                             points_per_unit=Decimal("1.5")),
                     Product(sku="PLAIN", name="Rura", product_group="120")])
    session.commit()


def test_the_lines_take_the_catalog_rows_as_the_separate_lookup_gives_them(session, catalog, publish):
    from engine import members
    from engine.documents import orders
    publish(ACCRUAL_BASIC)
    member = members.create(session, {"name": "Jan"})
    session.commit()
    document, created = orders.record_purchase(session, _doc(member.loyalty_id), actor="t", now=T0)
    session.commit()
    assert created and document.earned > 0
    session.expire_all()
    lines = {line.sku: line for line in orders.get(session, "shop", "L1").lines}
    assert (lines["ECO"].name, lines["ECO"].product_group, lines["ECO"].brand) == ("Kran", "110", "Hansa")
    assert lines["ECO"].points_per_unit == Decimal("1.5") and str(lines["ECO"].points_per_unit) == "1.5"
    assert lines["ECO"].tags == ["eco", "new"]
    assert (lines["PLAIN"].name, lines["PLAIN"].product_group) == ("Rura", "120")
    assert lines["PLAIN"].points_per_unit is None and lines["PLAIN"].tags is None
    assert (lines["NONE"].name, lines["NONE"].points_per_unit, lines["NONE"].tags) == ("", None, None)
    # Direct from the catalog, the separate lookup's rows: what the lines were given.
    rows = orders._catalog(session, ["ECO", "PLAIN"])
    assert rows["ECO"].points_per_unit == lines["ECO"].points_per_unit and rows["ECO"].tags == lines["ECO"].tags


def test_an_order_of_a_merged_away_member_accrues_to_the_member_it_was_merged_into(session, publish):
    from engine import ledger, members
    from engine.documents import orders
    from engine.members.merges import merge_members
    publish(ACCRUAL_BASIC)
    old, new = members.create(session, {"name": "Old"}), members.create(session, {"name": "New"})
    session.flush()
    merge_members(session, old, new, actor="t", now=T0, reason="test")
    session.commit()
    document, _created = orders.record_purchase(session, _doc(old.loyalty_id), actor="t", now=T0)
    session.commit()
    assert document.member_id == new.id and document.account_id == new.account_id
    assert ledger.balance_of(session, new.account_id, T0).available == document.earned > 0


def test_a_stored_order_sent_again_fulfilled_accrues_once(session, publish):
    from engine import ledger, members
    from engine.documents import orders
    publish(ACCRUAL_BASIC)
    member = members.create(session, {"name": "Jan"})
    session.commit()
    placed, created = orders.record_purchase(session, _doc(member.loyalty_id, status="placed"), actor="t", now=T0)
    session.commit()
    assert created and placed.earned == 0
    for _ in range(2):
        document, created = orders.record_purchase(session, _doc(member.loyalty_id), actor="t", now=T0)
        session.commit()
        assert not created and document.status == "fulfilled"
    assert ledger.balance_of(session, member.account_id, T0).available == document.earned == D(15)


def test_an_unknown_member_writes_nothing(session, publish):
    from engine.documents import orders
    from engine.members import UnknownMember
    from engine.models import Document
    publish(ACCRUAL_BASIC)
    with pytest.raises(UnknownMember):
        orders.record_purchase(session, _doc("NOSUCHMEMBER"), actor="t", now=T0)
    session.rollback()
    assert session.execute(sa.select(sa.func.count()).select_from(Document)).scalar_one() == 0


def test_an_accruing_order_holds_its_account_lock_from_its_first_statement(pg_app, publish):
    """The lock comes with the member (no statement of its own) and is held to the end of the transaction."""
    from engine import members
    from engine.documents import orders
    from server.extensions import db
    from tests.support.statements import counted
    publish(ACCRUAL_BASIC)
    with pg_app.app_context():
        session = db.session()
        member = members.create(session, {"name": "Jan"})
        session.commit()
        with counted(pg_app) as statements:
            document, _created = orders.record_purchase(session, _doc(member.loyalty_id), actor="t", now=T0)
        assert document.earned > 0
        assert not [s for s in statements if s.startswith("SELECT accounts")], statements
        assert any("FOR NO KEY UPDATE OF accounts" in s for s in statements if s.startswith("SELECT members"))
        other = sa.create_engine(pg_app.config["DATABASE_URL"])
        try:
            with other.connect() as conn, pytest.raises(sa.exc.OperationalError, match="could not obtain lock"):
                conn.execute(sa.text("SELECT id FROM accounts WHERE id = :a FOR NO KEY UPDATE NOWAIT"),
                             {"a": member.account_id})
            session.commit()
            with other.connect() as conn:  # released at commit
                assert conn.execute(sa.text("SELECT id FROM accounts WHERE id = :a FOR NO KEY UPDATE NOWAIT"),
                                    {"a": member.account_id}).scalar_one() == member.account_id
        finally:
            other.dispose()


def test_the_member_and_locked_account_come_back_as_the_orm_loads_them(pg_app):
    """`resolve_with` builds the member and account from its row (`prepared.loaded`): the same objects the
    session holds, unloaded attributes filled without a query, the locked account's row fresh from the
    database (another connection changed it meanwhile; its time comes back in UTC, as a query gives it),
    and nothing for the next flush to write."""
    from datetime import UTC, datetime

    from sqlalchemy import inspect

    from engine import members
    from engine.models import Account
    from server.extensions import db
    from tests.support.statements import counted
    with pg_app.app_context():
        session = db.session()
        member = members.create(session, {"name": "Ola"})
        session.commit()  # every object the session holds is expired now
        account = session.get(Account, member.account_id)
        before = account.created_at
        other = sa.create_engine(pg_app.config["DATABASE_URL"])
        try:
            with other.begin() as conn:  # behind the session's back: its account object is stale
                conn.execute(sa.text("UPDATE accounts SET created_at = '2020-01-02 04:04:05+01' WHERE id = :a"),
                             {"a": member.account_id})
        finally:
            other.dispose()
        assert account.created_at == before
        with counted(pg_app) as statements:
            found = members.resolve_with(session, member.loyalty_id, (), {}, lock_account=True)
            again, extras = found
            assert again is member and extras == ()
            assert again.name == "Ola" and again.loyalty_id == member.loyalty_id  # no lazy load
            # refreshed under the lock, as populate_existing refreshes
            assert account.created_at == datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)
            assert account.created_at.tzinfo is UTC
            assert again.account is account
            session.flush()
        assert len(statements) == 1 and statements[0].startswith("SELECT members"), statements
        assert not inspect(member).modified and not inspect(account).modified
        loyalty_id, group = member.loyalty_id, member.group
        session.rollback()

        session.expunge_all()  # a session that holds neither: new objects, clean and persistent
        found_member, _extras = members.resolve_with(session, loyalty_id, (), {}, lock_account=True)
        assert inspect(found_member).persistent and not inspect(found_member).modified
        assert found_member.group == group and found_member.loyalty_id == loyalty_id
        assert found_member.account.created_at == datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)
        assert found_member.account in session and not session.dirty
        session.rollback()
