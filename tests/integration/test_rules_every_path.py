"""Every path obeys the same rules: who may act, what each order status allows, refunds of spent
points on returns, and redemption limits per order (issue 9, classes 4, 5, 8, 10)."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from engine import clock
from tests.conftest import ACCRUAL_BASIC, auth

PLACED = (clock.now() - timedelta(hours=1)).replace(microsecond=0).isoformat()


@pytest.fixture
def shop(client, keys, publish):
    publish(ACCRUAL_BASIC)

    def call(method, url, key="shop", **kwargs):
        headers = auth(keys[key], **kwargs.pop("headers", {}))
        return client.open(url, method=method, headers=headers, **kwargs)
    return call


def enrol(shop, ext_id, phone, **data):
    response = shop("POST", "/api/v1/members", json={"name": ext_id, "ext_id": ext_id, "phone": phone, **data})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["loyalty_id"]


def seed(shop, ref, points, key="seed"):
    response = shop("POST", f"/api/v1/members/{ref}/adjustments", key="admin",
                    json={"points": points, "reason": "seed", "adjustment_id": key})
    assert response.status_code == 201, response.get_json()


def block(shop, ref):
    response = shop("PATCH", f"/api/v1/members/{ref}", json={"status": "blocked"})
    assert response.status_code == 200, response.get_json()


def available(shop, ref) -> Decimal:
    return Decimal(shop("GET", f"/api/v1/members/{ref}/balance").get_json()["available"])


LINES = [{"line_no": 1, "sku": "A", "quantity": 4, "unit_price": "25", "product_group": "100"},
         {"line_no": 2, "sku": "B", "quantity": 1, "unit_price": "100", "product_group": "100"}]


def place(shop, order_id, member, lines=LINES, status="fulfilled"):
    response = shop("POST", "/api/v1/orders", json={
        "order_id": order_id, "member": member, "placed_at": PLACED, "currency": "PLN",
        "status": status, "lines": lines})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def redeem(shop, redemption_id, member, points, **extra):
    return shop("POST", "/api/v1/redemptions",
                json={"redemption_id": redemption_id, "member": member, "points": points, **extra})


def refunds(shop, ref) -> Decimal:
    entries = shop("GET", f"/api/v1/members/{ref}/history").get_json()["entries"]
    return sum((Decimal(e["amount"]) for e in entries if e["kind"] == "refund"), Decimal(0))


# Class 4: a refusal holds on every path by which a member acts.

def test_a_blocked_employee_cannot_spend_the_company_points_through_a_colleague(shop):
    assert shop("POST", "/api/v1/companies", json={"name": "Instal-Pol", "erp_code": "K1"}).status_code == 201
    assert shop("POST", "/api/v1/companies", json={"name": "Other", "erp_code": "K2"}).status_code == 201
    anna = enrol(shop, "anna", "602345678", company_erp_code="K1")
    piotr = enrol(shop, "piotr", "603456789", company_erp_code="K1")
    ewa = enrol(shop, "ewa", "604567890", company_erp_code="K2")
    seed(shop, anna, 100)
    block(shop, piotr)
    for member, acting in ((anna, piotr), (piotr, anna), (piotr, None), (anna, ewa)):
        extra = {"acting_member": acting} if acting else {}
        response = redeem(shop, f"R-{member}-{acting}", member, 10, **extra)
        assert response.status_code == 422, (member, acting, response.get_json())
        assert response.get_json()["code"] == "redemption_not_allowed"
    assert available(shop, anna) == 100
    assert redeem(shop, "R-ok", anna, 10).status_code == 201


def test_a_blocked_member_is_credited_nothing_by_an_operator_or_as_a_referrer(shop, publish):
    import rules
    anna = enrol(shop, "anna", "602345678")
    seed(shop, anna, 50)
    block(shop, anna)
    bonus = shop("POST", f"/api/v1/members/{anna}/adjustments", key="admin",
                 json={"points": 10, "reason": "apology", "adjustment_id": "A-1"})
    assert bonus.status_code == 422 and "blocked" in bonus.get_json()["message"]
    taken = shop("POST", f"/api/v1/members/{anna}/adjustments", key="admin",
                 json={"points": -10, "reason": "fraud", "adjustment_id": "A-2"})
    assert taken.status_code == 201, taken.get_json()
    # A referral of a blocked referrer: the referee gets its share, the referrer nothing.
    publish(rules.default_policies()["referral"])
    code = shop("GET", f"/api/v1/members/{anna}").get_json()["referral_code"]
    piotr = enrol(shop, "piotr", "603456789", referral_code=code)
    place(shop, "O-1", piotr, lines=[LINES[1]])
    assert available(shop, anna) == 40
    assert available(shop, piotr) == 60  # 10 for the order + 50 referral


def test_a_blocked_member_is_quoted_nothing_to_spend(shop, publish):
    publish(LIMITS)
    anna = enrol(shop, "anna", "602345678")
    seed(shop, anna, 100)
    cart = {"member": anna, "lines": [{"line_no": 1, "sku": "A", "quantity": 1, "unit_price": "100"}]}
    assert shop("POST", "/api/v1/quote", json=cart).get_json()["redemption"]["allowed"] is True
    block(shop, anna)
    quoted = shop("POST", "/api/v1/quote", json=cart).get_json()["redemption"]
    assert quoted["allowed"] is False and quoted["reason_code"] == "member_blocked"
    assert Decimal(quoted["max_points"]) == 0


def test_a_blocked_member_is_not_merged_into_an_active_one_by_a_1c_card(session):
    from engine import members
    from engine.domain import CustomerDoc
    from engine.members import merges
    now = clock.now()
    blocked = members.create(session, {"name": "Anna", "ext_id": "anna", "phone": "+48602345678"})
    blocked.status = "blocked"
    first = merges.upsert_card(session, CustomerDoc(source="1c", external_id="c-1", name="Anna K."),
                               actor="t", now=now)
    assert first.merge is None
    card_member = members.resolve(session, "onec:c-1")
    again = merges.upsert_card(session, CustomerDoc(source="1c", external_id="c-1", name="Anna K.",
                                                    phone="+48602345678", phone_raw="602 345 678"),
                               actor="t", now=now)
    assert again.merge is None and "blocked" in again.note
    assert card_member.merged_into_id is None and members.resolve(session, "onec:c-1").id == card_member.id


# Class 5: the order state machine on every path.

def test_a_cancelled_or_returned_order_takes_no_return_and_no_redemption(shop):
    anna = enrol(shop, "anna", "602345678")
    seed(shop, anna, 100)
    place(shop, "O-1", anna)
    assert shop("POST", "/api/v1/orders/O-1/status", json={"status": "cancelled"}).status_code == 200
    response = shop("POST", "/api/v1/orders/O-1/returns",
                    json={"return_id": "1", "lines": [{"line_no": 1, "quantity": 2}]})
    assert response.status_code == 422 and response.get_json()["code"] == "invalid_correction"
    order = shop("GET", "/api/v1/orders/O-1").get_json()
    assert Decimal(order["total"]) == 200 and Decimal(order["lines"][0]["returned_quantity"]) == 0
    assert redeem(shop, "R-1", anna, 5, order_id="O-1").status_code == 422
    place(shop, "O-2", anna)
    assert shop("POST", "/api/v1/orders/O-2/status", json={"status": "returned"}).status_code == 200
    again = shop("POST", "/api/v1/orders/O-2/returns",
                 json={"return_id": "1", "lines": [{"line_no": 2, "quantity": 1}]})
    assert again.status_code == 422
    assert shop("POST", "/api/v1/orders/O-2/status", json={"status": "fulfilled"}).status_code == 422
    # A placed order is cancelled, not returned.
    place(shop, "O-3", anna, status="placed")
    early = shop("POST", "/api/v1/orders/O-3/returns",
                 json={"return_id": "1", "lines": [{"line_no": 2, "quantity": 1}]})
    assert early.status_code == 422


def test_a_credit_note_or_1c_return_on_a_cancelled_document_is_refused(session):
    from engine import members
    from engine.documents import orders
    from engine.domain import LineDoc, PurchaseDoc
    anna = members.create(session, {"name": "Anna", "ext_id": "anna"})
    now = clock.now()
    line = LineDoc(line_no=1, sku="A", quantity=Decimal(2), unit_price=Decimal(50), line_total=Decimal(100))
    for source in ("sap", "1c"):
        orders.record_purchase(session, PurchaseDoc(
            source=source, external_id="D-1", document_type="invoice", member_ref=anna.loyalty_id,
            placed_at=now, currency="PLN", lines=(line,), status="fulfilled"), actor="t", now=now)
        orders.record_purchase(session, PurchaseDoc(
            source=source, external_id="D-1", document_type="invoice", member_ref=anna.loyalty_id,
            placed_at=now, currency="PLN", lines=(line,), status="fulfilled", cancelled=True),
            actor="t", now=now)
        base_line = 1 if source == "sap" else None  # 1C names the product, SAP the base line
        with pytest.raises(orders.InvalidCorrection):
            orders.record_purchase(session, PurchaseDoc(
                source=source, external_id="C-1", document_type="correction", member_ref=anna.loyalty_id,
                placed_at=now, currency="PLN", base_external_id="D-1",
                lines=(LineDoc(line_no=1, sku="A", quantity=Decimal(1), unit_price=Decimal(50),
                               line_total=Decimal(50), base_line_no=base_line),)), actor="t", now=now)
        assert orders.get(session, source, "D-1").total == 100


def test_a_new_1c_revision_does_not_change_the_lines_of_a_cancelled_order(session):
    from engine import members
    from engine.documents import orders
    from engine.domain import LineDoc, PurchaseDoc
    anna = members.create(session, {"name": "Anna", "ext_id": "anna"})
    now = clock.now()

    def doc(total, **extra):
        return PurchaseDoc(source="1c", external_id="O-1", document_type="order", member_ref=anna.loyalty_id,
                           placed_at=now, currency="PLN", status="placed", version=extra.pop("version", "1"),
                           lines=(LineDoc(line_no=1, sku="A", quantity=Decimal(1), unit_price=Decimal(total),
                                          line_total=Decimal(total)),), **extra)
    order, _ = orders.record_purchase(session, doc(100), actor="t", now=now)
    orders.set_status(session, order, "cancelled", actor="t", now=now)
    assert orders.revise(session, order, doc(900, version="2")) == "kept"
    assert order.total == 100 and order.lines[0].line_total == 100


# Class 8: points spent on an order come back with the goods, on every return path.

def test_returns_line_by_line_refund_the_spend_in_proportion_and_in_full(shop):
    anna = enrol(shop, "anna", "602345678")
    seed(shop, anna, 1000)
    place(shop, "O-1", anna)  # 200 PLN
    assert redeem(shop, "R-1", anna, 60, order_id="O-1").status_code == 201
    ret = shop("POST", "/api/v1/orders/O-1/returns",
               json={"return_id": "1", "lines": [{"line_no": 1, "quantity": 2}]})  # 50 PLN = 25 %
    assert ret.status_code == 201, ret.get_json()
    assert refunds(shop, anna) == 15
    assert shop("POST", "/api/v1/orders/O-1/returns",  # a replay refunds nothing twice
                json={"return_id": "1", "lines": [{"line_no": 1, "quantity": 2}]}).status_code == 201
    assert refunds(shop, anna) == 15
    for return_id, line_no, quantity in (("2", 1, 2), ("3", 2, 1)):
        response = shop("POST", "/api/v1/orders/O-1/returns",
                        json={"return_id": return_id, "lines": [{"line_no": line_no, "quantity": quantity}]})
        assert response.status_code == 201, response.get_json()
    assert shop("GET", "/api/v1/orders/O-1").get_json()["status"] == "returned"
    assert refunds(shop, anna) == 60
    assert shop("GET", "/api/v1/redemptions/R-1").get_json()["status"] == "cancelled"
    assert shop("POST", "/api/v1/redemptions/R-1/cancel").status_code == 200
    assert refunds(shop, anna) == 60
    # The status path gives the same answer as the returns path.
    place(shop, "O-2", anna)
    assert redeem(shop, "R-2", anna, 60, order_id="O-2").status_code == 201
    shop("POST", "/api/v1/orders/O-2/status", json={"status": "returned"})
    assert refunds(shop, anna) == 120
    assert available(shop, anna) == 1000


def test_several_partial_returns_never_refund_more_than_was_spent(shop):
    anna = enrol(shop, "anna", "602345678")
    seed(shop, anna, 1000)
    thirds = [{"line_no": n, "sku": f"S{n}", "quantity": 1, "unit_price": "10", "product_group": "100"}
              for n in (1, 2, 3)]
    place(shop, "O-1", anna, lines=thirds)
    assert redeem(shop, "R-1", anna, 10, order_id="O-1").status_code == 201
    seen = []
    for n in (1, 2, 3):
        response = shop("POST", "/api/v1/orders/O-1/returns",
                        json={"return_id": str(n), "lines": [{"line_no": n, "quantity": 1}]})
        assert response.status_code == 201, response.get_json()
        seen.append(refunds(shop, anna))
    assert seen == [3, 6, 10]  # rounded down (the settings), the last return takes the rest


def test_a_1c_return_refunds_its_share_of_the_write_off(session, publish):
    publish(ACCRUAL_BASIC)
    from engine import ledger, members
    from engine.documents import orders, redemptions
    from engine.documents import refunds as refunding
    from engine.domain import LineDoc, PurchaseDoc
    anna = members.create(session, {"name": "Anna", "ext_id": "anna"})
    now = clock.now()
    from engine.members import adjustments
    adjustments.adjust(session, anna, Decimal(100), reason="seed", actor="t", key="seed", now=now)
    lines = tuple(LineDoc(line_no=n, sku=f"S{n}", quantity=Decimal(1), unit_price=Decimal(50),
                          line_total=Decimal(50)) for n in (1, 2))
    orders.record_purchase(session, PurchaseDoc(
        source="1c", external_id="O-1", document_type="order", member_ref=anna.loyalty_id,
        placed_at=now, currency="PLN", lines=lines, status="fulfilled"), actor="t", now=now)
    redemption, _ = redemptions.redeem(session, redemptions.RedemptionRequest(
        source="1c", external_id="O-1#writeoff@0", member_ref=anna.loyalty_id, points=Decimal(40),
        order_external_id="O-1"), actor="t", now=now)
    orders.record_purchase(session, PurchaseDoc(
        source="1c", external_id="RET-1", document_type="correction", member_ref=anna.loyalty_id,
        placed_at=now, currency="PLN", base_external_id="O-1",
        lines=(LineDoc(line_no=1, sku="S2", quantity=Decimal(1), unit_price=Decimal(50),
                       line_total=Decimal(50)),)), actor="t", now=now)
    assert refunding.refunded(session, redemption) == 20
    assert ledger.find_entry(session, f"refund:{redemption.id}:correction:"
                                      f"{orders.get(session, '1c', 'RET-1').id}").amount == 20


# Class 10: redemption limits hold for the order as a whole.

LIMITS = {"policy": "redemption", "rules": [
    {"id": "limits", "conditions": {},
     "actions": [{"name": "max_percent_of_order", "params": {"percent": 30}},
                 {"name": "max_points", "params": {"points": 500}}]}]}


def test_limits_hold_for_the_order_across_its_redemptions(shop, publish):
    publish(LIMITS)
    anna = enrol(shop, "anna", "602345678")
    seed(shop, anna, 5000)
    cart = {"lines": [{"line_no": 1, "sku": "A", "quantity": 10, "unit_price": "100"}]}  # 1000 PLN
    assert redeem(shop, "R-1", anna, 300, order_id="C-1", cart=cart).status_code == 201
    second = redeem(shop, "R-2", anna, 300, order_id="C-1", cart=cart)
    assert second.status_code == 422 and "already" in second.get_json()["message"]
    assert redeem(shop, "R-3", anna, 1, order_id="C-1").status_code == 422  # no cart: the earlier quote
    # A recorded order is judged on its recorded lines, cart or not.
    place(shop, "O-1", anna, lines=[{"line_no": 1, "sku": "A", "quantity": 10, "unit_price": "100"}])
    assert redeem(shop, "R-4", anna, 301, order_id="O-1").status_code == 422
    assert redeem(shop, "R-5", anna, 200, order_id="O-1").status_code == 201
    assert redeem(shop, "R-6", anna, 101, order_id="O-1").status_code == 422
    assert redeem(shop, "R-7", anna, 100, order_id="O-1").status_code == 201
    # At most 500 points per order, over several redemptions.
    big = {"lines": [{"line_no": 1, "sku": "A", "quantity": 50, "unit_price": "100"}]}
    assert redeem(shop, "R-8", anna, 400, order_id="C-2", cart=big).status_code == 201
    assert redeem(shop, "R-9", anna, 101, order_id="C-2", cart=big).status_code == 422
    assert redeem(shop, "R-10", anna, 100, order_id="C-2", cart=big).status_code == 201
    # A cancelled redemption frees its share of the order again.
    assert shop("POST", "/api/v1/redemptions/R-10/cancel").status_code == 200
    assert redeem(shop, "R-11", anna, 100, order_id="C-2", cart=big).status_code == 201


def test_a_balance_is_valued_at_the_point_value_of_the_redemption_policy(shop, publish):
    anna = enrol(shop, "anna", "602345678")
    seed(shop, anna, 100)
    assert shop("GET", f"/api/v1/members/{anna}/balance").get_json()["value"] == "100.00"
    publish({"policy": "redemption", "rules": [
        {"id": "half", "conditions": {}, "actions": [{"name": "set_point_value", "params": {"value": "0.5"}}]}]})
    balance = shop("GET", f"/api/v1/members/{anna}/balance").get_json()
    assert balance["value"] == "50.00" and Decimal(balance["point_value"]) == Decimal("0.5")


def test_concurrent_redemptions_on_one_order_share_its_limit(pg_app, keys, publish):
    """Two redemptions of one order at once, each within the limit alone: the account's row
    lock makes the second see the first, so together they never pass it."""
    import threading
    publish(ACCRUAL_BASIC)
    publish(LIMITS)
    client = pg_app.test_client()

    def shop(method, url, key="shop", **kwargs):
        return client.open(url, method=method, headers=auth(keys[key]), **kwargs)
    anna = enrol(shop, "anna", "602345678")
    seed(shop, anna, 5000)
    place(shop, "O-1", anna, lines=[{"line_no": 1, "sku": "A", "quantity": 10, "unit_price": "100"}])
    barrier, codes = threading.Barrier(4), []

    def spend(n):
        own = pg_app.test_client()
        barrier.wait()
        codes.append(own.post("/api/v1/redemptions", headers=auth(keys["shop"]), json={
            "redemption_id": f"R-{n}", "member": anna, "points": 200, "order_id": "O-1"}).status_code)
    threads = [threading.Thread(target=spend, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(codes) == [201, 422, 422, 422]
    assert available(shop, anna) == 5000 - 200 + 100  # the order earned 100
