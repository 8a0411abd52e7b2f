"""Random sequences of ledger operations; every invariant is checked after each step."""
from __future__ import annotations

import copy
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from engine import ledger, members
from engine.documents import orders, redemptions
from engine.domain import LineDoc, PurchaseDoc
from engine.ledger import daily
from engine.ledger.check import check
from engine.members import adjustments
from tests.conftest import ACCRUAL_BASIC, T0

amounts = st.decimals(min_value=1, max_value=400, places=2)


def build_machine(session, negative_allowed: bool):
    class LedgerMachine(RuleBasedStateMachine):
        """One member's account under random orders, returns, spends and time."""

        @initialize()
        def start(self):
            self.now = T0
            self.member = members.create(session, {"name": "M"}, now=T0)
            self.orders: dict[str, list[int]] = {}  # order id -> line numbers
            self.redemptions: list = []
            self.counter = 0
            self.spent_ok = Decimal(0)

        def _id(self, prefix):
            self.counter += 1
            return f"{prefix}{self.member.id}-{self.counter}"

        def _available(self):
            session.refresh(self.member.account)
            return ledger.balance(session, self.member.account, self.now).available

        @rule(totals=st.lists(amounts, min_size=1, max_size=4),
              status=st.sampled_from(["placed", "paid", "fulfilled"]),
              group=st.sampled_from(["100", "110"]))
        def place(self, totals, status, group):
            order_id = self._id("O")
            lines = tuple(LineDoc(i, f"S{i}", Decimal(1), t, t, product_group=group)
                          for i, t in enumerate(totals, start=1))
            orders.record_purchase(session, PurchaseDoc(
                source="shop", external_id=order_id, document_type="order",
                member_ref=self.member.loyalty_id, placed_at=self.now, currency="PLN",
                lines=lines, status=status), actor="test", now=self.now)
            self.orders[order_id] = [line.line_no for line in lines]

        @rule(data=st.data(), status=st.sampled_from(["paid", "fulfilled", "cancelled", "returned"]))
        def change_status(self, data, status):
            if not self.orders:
                return
            order_id = data.draw(st.sampled_from(sorted(self.orders)))
            document = orders.get(session, "shop", order_id)
            try:
                orders.set_status(session, document, status, actor="test", now=self.now)
            except orders.InvalidTransition:
                pass

        @rule(data=st.data())
        def partial_return(self, data):
            if not self.orders:
                return
            order_id = data.draw(st.sampled_from(sorted(self.orders)))
            document = orders.get(session, "shop", order_id)
            line = data.draw(st.sampled_from(document.lines))
            left = line.line_total - line.returned_total
            if left <= 0 or document.status == "cancelled":
                return
            amount = data.draw(st.decimals(min_value=Decimal("0.01"), max_value=left, places=2))
            try:
                orders.record_purchase(session, PurchaseDoc(
                    source="shop", external_id=self._id(f"{order_id}/R"),
                    document_type="correction", member_ref=self.member.loyalty_id,
                    placed_at=self.now, currency="PLN", base_external_id=order_id,
                    lines=(LineDoc(1, line.sku, Decimal(0), amount, amount,
                                   base_line_no=line.line_no),)), actor="test", now=self.now)
            except orders.InvalidCorrection:
                pass

        @rule(points=st.integers(min_value=1, max_value=80))
        def redeem(self, points):
            available = self._available()
            request = redemptions.RedemptionRequest("shop", self._id("R"),
                                                    self.member.loyalty_id, Decimal(points))
            try:
                redemption, _ = redemptions.redeem(session, request, actor="test", now=self.now)
            except ledger.InsufficientPoints:
                assert available < points
                return
            assert available >= points, "a redemption overdrew the balance"
            self.redemptions.append(redemption)

        @rule()
        def redeem_everything(self):
            available = self._available()
            if available >= 1:
                self._spend(int(available))  # so that later returns find the points spent

        @rule(data=st.data())
        def spend_all_then_return(self, data):
            """The case reversals exist for: the points of an order were spent."""
            earning = [o for o in sorted(self.orders)
                       if orders.get(session, "shop", o).earned > 0]
            if not earning:
                return
            document = orders.get(session, "shop", data.draw(st.sampled_from(earning)))
            available = self._available()
            if available >= 1:
                self._spend(int(available))
            if document.status in ("paid", "fulfilled"):
                orders.set_status(session, document, data.draw(
                    st.sampled_from(["cancelled", "returned"])), actor="test", now=self.now)

        def _spend(self, points):
            request = redemptions.RedemptionRequest("shop", self._id("R"),
                                                    self.member.loyalty_id, Decimal(points))
            redemption, _ = redemptions.redeem(session, request, actor="test", now=self.now)
            self.redemptions.append(redemption)

        @rule(data=st.data())
        def cancel_redemption(self, data):
            if self.redemptions:
                redemption = data.draw(st.sampled_from(self.redemptions))
                redemptions.cancel(session, redemption, actor="test", now=self.now)

        @rule(points=st.integers(min_value=-30, max_value=30).filter(bool))
        def adjust(self, points):
            try:
                adjustments.adjust(session, self.member, Decimal(points), reason="test",
                                   actor="test", key=self._id("A"), now=self.now)
            except ledger.InsufficientPoints:
                assert self._available() < -points

        @rule(days=st.integers(min_value=1, max_value=200))
        def time_passes(self, days):
            self.now += timedelta(days=days)

        @rule()
        def nightly(self):
            daily.mature(session, self.now)
            daily.expire(session, self.now)

        @invariant()
        def ledger_holds(self):
            session.flush()
            assert check(session) == []
            session.refresh(self.member.account)
            balance = ledger.balance(session, self.member.account, self.now)
            assert balance.debt >= 0 and balance.pending >= 0
            if not negative_allowed:
                assert balance.debt == 0
            session.commit()

    return LedgerMachine


@pytest.mark.parametrize("negative_allowed, holding_days", [(True, 0), (False, 7)])
def test_random_operation_sequences_keep_every_invariant(session, publish, settings_doc,
                                                         negative_allowed, holding_days):
    doc = copy.deepcopy(settings_doc)
    doc["settings"].update(holding_days=holding_days, negative_balance_allowed=negative_allowed)
    publish(doc, "settings")
    publish(ACCRUAL_BASIC)
    machine = build_machine(session, negative_allowed)
    machine.TestCase.settings = settings(
        max_examples=20, stateful_step_count=30, deadline=None,
        suppress_health_check=list(HealthCheck))
    machine.TestCase().runTest()
