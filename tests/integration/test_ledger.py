"""Ledger semantics (SPEC §2) through the engine services, on PostgreSQL and SQLite."""
from __future__ import annotations

import copy
from datetime import timedelta

import pytest
from sqlalchemy import select

from engine import ledger, members
from engine.documents import orders, redemptions
from engine.domain import LineDoc, PurchaseDoc
from engine.ledger import daily
from engine.ledger.check import check
from engine.models import LedgerEntry, Lot
from tests.conftest import ACCRUAL_BASIC, T0, D

DAY = timedelta(days=1)


def order(member, external_id, lines, *, placed_at=T0, status=None, source="shop",
          document_type="order", base=None, cancelled=False):
    return PurchaseDoc(source=source, external_id=external_id, document_type=document_type,
                       member_ref=member.loyalty_id, placed_at=placed_at, currency="PLN",
                       lines=tuple(lines), status=status, base_external_id=base,
                       cancelled=cancelled)


def line(no, total, group="100", qty=1, sku=None, base_line_no=None):
    total = D(total)
    return LineDoc(line_no=no, sku=sku or f"SKU{no}", quantity=D(qty), unit_price=total / D(qty),
                   line_total=total, product_group=group, base_line_no=base_line_no)


def bal(session, member, at):
    session.refresh(member.account)
    balance = ledger.balance(session, member.account, at)
    assert ledger.balance_of(session, member.account_id, at) == balance  # the API's one-statement read
    return balance


def assert_ledger_ok(session):
    session.flush()
    assert check(session) == []


@pytest.fixture
def member(session):
    m = members.create(session, {"name": "Hydro-Mont", "erp_code": "C0001",
                                 "phone": "+48601234567"}, now=T0 - 400 * DAY)
    session.commit()
    return m


@pytest.fixture
def program(publish, settings_doc):
    """Publish the basic accrual policy with given settings overrides."""
    def _program(**settings):
        doc = copy.deepcopy(settings_doc)
        doc["settings"].update(settings)
        publish(doc, "settings")
        publish(ACCRUAL_BASIC)
    return _program


def test_holding_period_keeps_points_pending_until_it_ends(session, member, program):
    program(holding_days=7)
    doc, created = orders.record_purchase(
        session, order(member, "O1", [line(1, "104.40", "110"), line(2, "55.00")]),
        actor="t", now=T0)
    assert created and doc.earned == 0
    orders.set_status(session, doc, "fulfilled", actor="t", now=T0)
    # 104.40 → 10 points ×2 (group 110) = 20; 55.00 → 5; total 25
    assert doc.earned == D(25)
    b = bal(session, member, T0 + DAY)
    assert (b.available, b.pending) == (0, 25)
    b = bal(session, member, T0 + 7 * DAY)
    assert (b.available, b.pending) == (25, 0)
    assert_ledger_ok(session)


def test_accrual_waits_for_the_configured_status(session, member, program):
    program(accrue_on="paid")
    doc, _ = orders.record_purchase(session, order(member, "O1", [line(1, "100")]),
                                    actor="t", now=T0)
    orders.set_status(session, doc, "paid", actor="t", now=T0)
    assert doc.earned == 10
    orders.set_status(session, doc, "fulfilled", actor="t", now=T0 + DAY)
    assert doc.earned == 10  # not twice
    assert session.execute(select(LedgerEntry).where(LedgerEntry.kind == "accrual")
                           ).scalars().all().__len__() == 1


def test_cancellation_inside_holding_voids_the_pending_points(session, member, program):
    program(holding_days=7)
    doc, _ = orders.record_purchase(session, order(member, "O1", [line(1, "250")],
                                                   status="fulfilled"), actor="t", now=T0)
    assert bal(session, member, T0).pending == 25
    orders.set_status(session, doc, "cancelled", actor="t", now=T0 + 2 * DAY)
    b = bal(session, member, T0 + 30 * DAY)
    assert (b.available, b.pending, b.debt) == (0, 0, 0)
    kinds = [e.kind for e in session.execute(select(LedgerEntry).order_by(LedgerEntry.id)).scalars()]
    assert kinds == ["accrual", "reversal"]
    assert doc.earned == 0
    assert_ledger_ok(session)


def test_cancellation_after_spending_makes_the_balance_negative(session, member, program):
    program()
    doc, _ = orders.record_purchase(session, order(member, "O1", [line(1, "250")],
                                                   status="fulfilled"), actor="t", now=T0)
    redemptions.redeem(session, redemptions.RedemptionRequest(
        "shop", "R1", member.loyalty_id, D(20)), actor="t", now=T0 + DAY)
    orders.set_status(session, doc, "cancelled", actor="t", now=T0 + 2 * DAY)
    b = bal(session, member, T0 + 2 * DAY)
    assert (b.available, b.debt) == (-20, 20)
    with pytest.raises(ledger.InsufficientPoints):
        redemptions.redeem(session, redemptions.RedemptionRequest(
            "shop", "R2", member.loyalty_id, D(1)), actor="t", now=T0 + 2 * DAY)
    # The next purchase pays the debt first.
    orders.record_purchase(session, order(member, "O2", [line(1, "300")], status="fulfilled"),
                           actor="t", now=T0 + 3 * DAY)
    b = bal(session, member, T0 + 3 * DAY)
    assert (b.available, b.debt) == (10, 0)
    assert_ledger_ok(session)


def test_without_negative_balance_the_program_absorbs_spent_points(session, member, program):
    program(negative_balance_allowed=False)
    doc, _ = orders.record_purchase(session, order(member, "O1", [line(1, "250")],
                                                   status="fulfilled"), actor="t", now=T0)
    redemptions.redeem(session, redemptions.RedemptionRequest(
        "shop", "R1", member.loyalty_id, D(20)), actor="t", now=T0 + DAY)
    orders.set_status(session, doc, "cancelled", actor="t", now=T0 + 2 * DAY)
    b = bal(session, member, T0 + 2 * DAY)
    assert (b.available, b.debt) == (0, 0)
    reversal = session.execute(select(LedgerEntry).where(LedgerEntry.kind == "reversal")).scalar_one()
    assert reversal.amount == -5 and reversal.trace["uncollected"] == "20"
    assert_ledger_ok(session)


THRESHOLD = {"policy": "accrual", "rules": [
    ACCRUAL_BASIC["rules"][0],
    {"id": "big-order-bonus", "scope": "document",
     "conditions": {"all": [{"name": "order_total", "operator": "greater_than_or_equal_to",
                             "value": 500}]},
     "actions": [{"name": "earn_fixed", "params": {"points": 50}}]},
]}


def test_partial_return_recomputes_under_the_threshold_rule(session, member, publish):
    publish(THRESHOLD)
    doc, _ = orders.record_purchase(
        session, order(member, "O1", [line(1, "300"), line(2, "300")], status="fulfilled"),
        actor="t", now=T0)
    assert doc.earned == 110  # 30 + 30 + 50 bonus for ≥ 500
    ret = order(member, "O1/returns/1", [line(1, "300", base_line_no=2)],
                document_type="correction", base="O1", placed_at=T0 + DAY)
    correction, _ = orders.record_purchase(session, ret, actor="t", now=T0 + DAY)
    assert correction.earned == 0  # a correction earns nothing
    assert doc.earned == 30  # 300 kept: below the threshold, no bonus
    assert bal(session, member, T0 + DAY).available == 30
    # The same correction again changes nothing.
    orders.record_purchase(session, ret, actor="t", now=T0 + 2 * DAY)
    assert bal(session, member, T0 + 2 * DAY).available == 30
    # Returning more than was bought is refused.
    with pytest.raises(orders.InvalidCorrection):
        orders.record_purchase(session, order(member, "O1/returns/2", [line(1, "300.01", base_line_no=1)],
                                              document_type="correction", base="O1"),
                               actor="t", now=T0 + 2 * DAY)
    assert_ledger_ok(session)


def test_rounding_happens_once_per_document(session, member, publish):
    publish({"policy": "accrual", "rules": [
        {"id": "one-percent", "scope": "line", "conditions": {},
         "actions": [{"name": "earn_percent", "params": {"percent": 1}}]}]})
    doc, _ = orders.record_purchase(
        session, order(member, "O1", [line(1, "40"), line(2, "40"), line(3, "40")],
                       status="fulfilled"), actor="t", now=T0)
    assert doc.earned == 1  # 0.4 × 3 = 1.2 → 1, not 0 + 0 + 0


def test_fifo_spends_the_soonest_expiring_lot_first(session, member, program):
    program()
    orders.record_purchase(session, order(member, "O1", [line(1, "100")], status="fulfilled"),
                           actor="t", now=T0)
    orders.record_purchase(session, order(member, "O2", [line(1, "200")], status="fulfilled",
                                          placed_at=T0 + 30 * DAY), actor="t", now=T0 + 30 * DAY)
    redemptions.redeem(session, redemptions.RedemptionRequest(
        "shop", "R1", member.loyalty_id, D(15)), actor="t", now=T0 + 31 * DAY)
    lots = session.execute(select(Lot).order_by(Lot.expires_at)).scalars().all()
    assert [(l.amount, l.remaining) for l in lots] == [(10, 0), (20, 15)]
    assert_ledger_ok(session)


def test_refund_gives_points_back_to_their_lots(session, member, program):
    program()
    orders.record_purchase(session, order(member, "O1", [line(1, "100")], status="fulfilled"),
                           actor="t", now=T0)
    red, _ = redemptions.redeem(session, redemptions.RedemptionRequest(
        "shop", "R1", member.loyalty_id, D(8), order_external_id="O9"), actor="t", now=T0 + DAY)
    first_expiry = session.execute(select(Lot.expires_at)).scalar_one()
    redemptions.cancel(session, red, actor="t", now=T0 + 2 * DAY)
    redemptions.cancel(session, red, actor="t", now=T0 + 3 * DAY)  # twice: no effect
    assert bal(session, member, T0 + 3 * DAY).available == 10
    refund_lot = session.execute(select(Lot).join(LedgerEntry, LedgerEntry.id == Lot.entry_id)
                                 .where(LedgerEntry.kind == "refund")).scalar_one()
    assert refund_lot.amount == 8 and refund_lot.expires_at == first_expiry
    assert_ledger_ok(session)


def test_cancelling_an_order_refunds_what_was_spent_on_it(session, member, program):
    program()
    orders.record_purchase(session, order(member, "O1", [line(1, "500")], status="fulfilled"),
                           actor="t", now=T0)
    doc2, _ = orders.record_purchase(session, order(member, "O2", [line(1, "100")]),
                                     actor="t", now=T0 + DAY)
    redemptions.redeem(session, redemptions.RedemptionRequest(
        "shop", "R1", member.loyalty_id, D(30), order_external_id="O2"), actor="t", now=T0 + DAY)
    assert bal(session, member, T0 + DAY).available == 20
    orders.set_status(session, doc2, "cancelled", actor="t", now=T0 + 2 * DAY)
    assert bal(session, member, T0 + 2 * DAY).available == 50
    assert_ledger_ok(session)


def test_expiry_turns_remainders_into_expiry_entries_once(session, member, program):
    program(holding_days=7)
    orders.record_purchase(session, order(member, "O1", [line(1, "100")], status="fulfilled"),
                           actor="t", now=T0)
    lot = session.execute(select(Lot)).scalar_one()
    # The lifetime (12 months) starts when the lot becomes available, not at creation.
    assert lot.expires_at.date() == (T0 + 7 * DAY).replace(year=T0.year + 1).date()
    redemptions.redeem(session, redemptions.RedemptionRequest(
        "shop", "R1", member.loyalty_id, D(4)), actor="t", now=T0 + 10 * DAY)
    assert daily.expire(session, lot.expires_at - DAY)["lots"] == 0
    assert daily.expire(session, lot.expires_at)["lots"] == 1
    assert daily.expire(session, lot.expires_at + DAY)["lots"] == 0
    entry = session.execute(select(LedgerEntry).where(LedgerEntry.kind == "expiry")).scalar_one()
    assert entry.amount == -6
    assert bal(session, member, lot.expires_at).available == 0
    assert_ledger_ok(session)


def test_erp_invoice_earns_at_its_document_date(session, member, program):
    program(holding_days=7)
    doc, _ = orders.record_purchase(
        session, order(member, "13:501", [line(1, "100")], status="fulfilled", source="sap_b1",
                       document_type="invoice", placed_at=T0 - 10 * DAY),
        actor="import:1", now=T0, accrue_from=T0 - 10 * DAY)
    entry = session.execute(select(LedgerEntry)).scalar_one()
    assert entry.effective_at == T0 - 10 * DAY
    assert bal(session, member, T0).available == 10  # held 7 days from the document date


def test_idempotent_retries_and_conflicts(session, member, program):
    program()
    doc = order(member, "O1", [line(1, "100")], status="fulfilled")
    orders.record_purchase(session, doc, actor="t", now=T0)
    _again, created = orders.record_purchase(session, doc, actor="t", now=T0 + DAY)
    assert not created
    with pytest.raises(orders.DocumentConflict):
        orders.record_purchase(session, order(member, "O1", [line(1, "999")]), actor="t", now=T0)
    req = redemptions.RedemptionRequest("shop", "R1", member.loyalty_id, D(3))
    redemptions.redeem(session, req, actor="t", now=T0)
    _r, created = redemptions.redeem(session, req, actor="t", now=T0)
    assert not created
    with pytest.raises(redemptions.RedemptionConflict):
        redemptions.redeem(session, redemptions.RedemptionRequest(
            "shop", "R1", member.loyalty_id, D(4)), actor="t", now=T0)
    assert bal(session, member, T0).available == 7
    assert_ledger_ok(session)


def test_redemption_never_overdraws(session, member, program):
    program()
    orders.record_purchase(session, order(member, "O1", [line(1, "100")], status="fulfilled"),
                           actor="t", now=T0)
    with pytest.raises(ledger.InsufficientPoints):
        redemptions.redeem(session, redemptions.RedemptionRequest(
            "shop", "R1", member.loyalty_id, D(11)), actor="t", now=T0)
    assert session.execute(select(LedgerEntry).where(LedgerEntry.kind == "redemption")).first() is None


def test_company_members_share_one_account(session, program):
    program()
    company = members.create_company(session, "Instal-Pol", erp_code="K1")
    anna = members.create(session, {"name": "Anna", "ext_id": "u1"}, company=company)
    piotr = members.create(session, {"name": "Piotr", "ext_id": "u2"}, company=company)
    orders.record_purchase(session, order(anna, "O1", [line(1, "100")], status="fulfilled"),
                           actor="t", now=T0)
    orders.record_purchase(session, order(piotr, "O2", [line(1, "200")], status="fulfilled"),
                           actor="t", now=T0)
    red, _ = redemptions.redeem(session, redemptions.RedemptionRequest(
        "shop", "R1", anna.loyalty_id, D(25), acting_member_ref=piotr.loyalty_id),
        actor="t", now=T0)
    assert red.member_id == piotr.id
    assert bal(session, anna, T0).available == 5
    assert_ledger_ok(session)


def test_mature_pays_debt_from_newly_available_points(session, member, program):
    program(holding_days=7)
    doc, _ = orders.record_purchase(session, order(member, "O1", [line(1, "100")], status="fulfilled"),
                                    actor="t", now=T0)
    redemptions.redeem(session, redemptions.RedemptionRequest(
        "shop", "R1", member.loyalty_id, D(10)), actor="t", now=T0 + 8 * DAY)
    orders.record_purchase(session, order(member, "O2", [line(1, "300")], status="fulfilled"),
                           actor="t", now=T0 + 9 * DAY)
    orders.set_status(session, doc, "returned", actor="t", now=T0 + 10 * DAY)
    assert bal(session, member, T0 + 10 * DAY).debt == 10
    stats = daily.mature(session, T0 + 16 * DAY)
    assert stats["debt_paid"] == 10
    b = bal(session, member, T0 + 16 * DAY)
    assert (b.available, b.debt) == (20, 0)
    assert_ledger_ok(session)
