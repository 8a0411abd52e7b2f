"""The shop API over HTTP (Flask test client): JSON and XML, auth, idempotency, errors."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest

from engine import clock
from tests.conftest import ACCRUAL_BASIC, auth


@pytest.fixture
def shop(client, keys, publish, settings_doc):
    publish(ACCRUAL_BASIC)

    def call(method, url, key="shop", **kwargs):
        headers = auth(keys[key], **kwargs.pop("headers", {}))
        return client.open(url, method=method, headers=headers, **kwargs)
    return call


def enrol(shop, **data):
    body = {"name": "Jan Kowalski", "ext_id": "u-1", "phone": "601 234 567",
            "email": "Jan@Example.com", **data}
    response = shop("POST", "/api/v1/members", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


PLACED = (clock.now() - timedelta(hours=1)).replace(microsecond=0).isoformat()


def place(shop, order_id, member, total="104.40", status="placed", group="110", **extra):
    body = {"order_id": order_id, "member": member, "placed_at": PLACED,
            "currency": "PLN", "status": status,
            "lines": [{"line_no": 1, "sku": "KR-100", "quantity": 3, "unit_price": "34.80",
                       "line_total": total, "product_group": group}], **extra}
    return shop("POST", "/api/v1/orders", json=body)


def test_every_endpoint_but_health_needs_a_key(client, keys):
    assert client.get("/healthz").status_code == 200
    response = client.get("/api/v1/members/x/balance")
    assert response.status_code == 401
    assert response.get_json()["code"] == "unauthorized"
    response = client.get("/api/v1/members/x/balance", headers=auth("lk_nope_nope"))
    assert response.status_code == 401
    # A pos key may not enrol members (scope), and says which scope is missing.
    response = client.post("/api/v1/members", json={}, headers=auth(keys["admin"].replace(
        keys["admin"][-4:], "AAAA")))
    assert response.status_code == 401


def test_scopes_are_enforced(client, app, keys):
    from server.auth import create_key
    from server.extensions import db
    with app.app_context():
        _row, pos = create_key(db.session(), "till", "pos")
        db.session().commit()
    response = client.post("/api/v1/members", json={"name": "x"}, headers=auth(pos))
    assert response.status_code == 403
    assert "members:write" in response.get_json()["message"]


def test_enrol_normalises_the_phone_and_finds_by_every_ref(shop):
    member = enrol(shop)
    assert member["phone"] == "+48601234567" and member["email"] == "jan@example.com"
    for ref in (member["loyalty_id"], "ext:u-1", "phone:+48 601-234-567", "phone:0048601234567"):
        response = shop("GET", f"/api/v1/members/{ref}")
        assert response.status_code == 200, ref
        assert response.get_json()["loyalty_id"] == member["loyalty_id"]
    assert shop("GET", "/api/v1/members/ext:nobody").get_json()["code"] == "unknown_member"


def test_order_lifecycle_balance_and_history(shop):
    member = enrol(shop)
    response = place(shop, "O-1", member["loyalty_id"])
    assert response.status_code == 201
    assert response.get_json()["earned"] == "0"  # accrues on fulfilled (default setting)
    response = shop("POST", "/api/v1/orders/O-1/status", json={"status": "fulfilled"})
    assert response.status_code == 200 and response.get_json()["earned"] == "20"
    balance = shop("GET", f"/api/v1/members/{member['loyalty_id']}/balance").get_json()
    assert balance["available"] == "20" and balance["pending"] == "0"
    assert balance["value"] == "20.00" and balance["currency"] == "PLN"
    assert balance["expiring"][0]["points"] == "20"
    history = shop("GET", "/api/v1/members/ext:u-1/history").get_json()
    entry = history["entries"][0]
    assert entry["kind"] == "accrual" and entry["amount"] == "20" and entry["order_id"] == "O-1"
    assert entry["explanation"]["policy_version"] == 1
    # Cancel: the points go back.
    response = shop("POST", "/api/v1/orders/O-1/status", json={"status": "cancelled"})
    assert response.get_json()["earned"] == "0"
    response = shop("POST", "/api/v1/orders/O-1/status", json={"status": "fulfilled"})
    assert response.status_code == 422 and response.get_json()["code"] == "invalid_transition"


def test_order_retry_returns_the_first_answer_and_a_conflict_gets_409(shop):
    member = enrol(shop)
    first = place(shop, "O-1", member["loyalty_id"])
    again = place(shop, "O-1", member["loyalty_id"])
    assert again.status_code == 201 and again.headers.get("Idempotent-Replayed") == "true"
    assert again.get_json() == first.get_json()
    conflict = place(shop, "O-1", member["loyalty_id"], total="999.00")
    assert conflict.status_code == 409 and conflict.get_json()["code"] == "idempotency_conflict"


def test_redemption_and_cancellation(shop):
    member = enrol(shop)
    place(shop, "O-1", member["loyalty_id"], status="fulfilled", total="500.00", group="100")
    body = {"redemption_id": "R-1", "member": "ext:u-1", "points": 30, "order_id": "O-2"}
    response = shop("POST", "/api/v1/redemptions", json=body)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["balance"]["available"] == "20"
    assert shop("POST", "/api/v1/redemptions", json=body).get_json()["points"] == "30"
    too_much = shop("POST", "/api/v1/redemptions", json={**body, "redemption_id": "R-2",
                                                           "points": 21})
    assert too_much.status_code == 422 and too_much.get_json()["code"] == "insufficient_points"
    assert too_much.get_json()["details"] == {"requested": "21", "available": "20"}
    cancelled = shop("POST", "/api/v1/redemptions/R-1/cancel")
    assert cancelled.get_json()["status"] == "cancelled"
    assert cancelled.get_json()["balance"]["available"] == "50"


def test_partial_return_through_the_api(shop):
    member = enrol(shop)
    body = {"order_id": "O-1", "member": member["loyalty_id"], "placed_at": clock.now().isoformat(),
            "currency": "PLN", "status": "fulfilled",
            "lines": [{"line_no": 1, "sku": "A", "quantity": 4, "unit_price": 25},
                      {"line_no": 2, "sku": "B", "quantity": 1, "unit_price": 60}]}
    assert shop("POST", "/api/v1/orders", json=body).get_json()["earned"] == "16"
    response = shop("POST", "/api/v1/orders/O-1/returns",
                    json={"return_id": "1", "lines": [{"line_no": 1, "quantity": 2}]})
    assert response.status_code == 201, response.get_json()
    order = response.get_json()
    assert order["earned"] == "11" and order["lines"][0]["returned_quantity"] == "2"
    bad = shop("POST", "/api/v1/orders/O-1/returns",
               json={"return_id": "2", "lines": [{"line_no": 1, "quantity": 3}]})
    assert bad.status_code == 422 and bad.get_json()["code"] == "invalid_correction"


def test_quote_shows_points_and_what_points_can_pay(shop, publish):
    publish({"policy": "redemption", "rules": [
        {"id": "half", "conditions": {},
         "actions": [{"name": "max_percent_of_order", "params": {"percent": 50}}]}]})
    member = enrol(shop)
    place(shop, "O-1", member["loyalty_id"], status="fulfilled", total="1000.00", group="100")
    response = shop("POST", "/api/v1/quote", json={
        "member": "ext:u-1", "lines": [{"line_no": 1, "sku": "X", "quantity": 2,
                                        "unit_price": "50", "product_group": "110"}]})
    assert response.status_code == 200, response.get_json()
    quote = response.get_json()
    assert quote["points"] == "20" and quote["lines"][0]["points"] == "20"
    assert quote["redemption"]["max_points"] == "50"  # half of 100 PLN at 1 PLN per point


def test_adjustment_needs_a_reason_and_an_id(shop):
    member = enrol(shop)
    url = f"/api/v1/members/{member['loyalty_id']}/adjustments"
    missing = shop("POST", url, key="admin", json={"points": 10, "reason": "apology"})
    assert missing.status_code == 422
    ok = shop("POST", url, key="admin", json={"points": 10, "reason": "apology",
                                              "adjustment_id": "A-1"})
    assert ok.status_code == 201 and ok.get_json()["balance"]["available"] == "10"
    again = shop("POST", url, key="admin", json={"points": 10, "reason": "apology",
                                                 "adjustment_id": "A-1"})
    assert again.get_json()["balance"]["available"] == "10"
    assert shop("POST", url, json={"points": 1, "reason": "x", "adjustment_id": "A-2"}
                ).status_code == 403  # the shop key lacks adjustments:write


def test_xml_carries_the_same_data_as_json(shop):
    member = enrol(shop)
    place(shop, "O-1", member["loyalty_id"], status="fulfilled")
    url = f"/api/v1/members/{member['loyalty_id']}/balance"
    as_json = shop("GET", url).get_json()
    for response in (shop("GET", url + "?format=xml"),
                     shop("GET", url, headers={"Accept": "application/xml"})):
        assert response.mimetype == "application/xml"
        root = ET.fromstring(response.data)
        assert root.tag == "balance"
        assert root.findtext("available") == as_json["available"] == "20"
        assert root.find("expiring/lot/points").text == "20"
    error = shop("GET", "/api/v1/members/nobody/balance?format=xml")
    assert error.status_code == 404 and ET.fromstring(error.data).findtext("code") == "unknown_member"


@pytest.mark.parametrize("body, field", [
    ({"order_id": "X", "member": "m", "placed_at": "yesterday", "currency": "PLN",
      "lines": [{"line_no": 1, "sku": "a", "quantity": 1, "unit_price": 1}]}, "placed_at"),
    ({"order_id": "X", "member": "m", "placed_at": "2026-01-01T10:00:00", "currency": "PLN",
      "lines": [{"line_no": 1, "sku": "a", "quantity": 1, "unit_price": 1}]}, "placed_at"),
    ({"order_id": "X", "member": "m", "placed_at": "2026-01-01T10:00:00Z", "currency": "PLN",
      "lines": []}, "lines"),
    ({"order_id": "X", "member": "m", "placed_at": "2026-01-01T10:00:00Z", "currency": "PLN",
      "lines": [{"line_no": 1, "sku": "a", "quantity": "lots", "unit_price": 1}]}, "lines"),
])
def test_bad_input_gets_a_clear_error_and_changes_nothing(shop, body, field):
    response = shop("POST", "/api/v1/orders", json=body)
    assert response.status_code == 422
    data = response.get_json()
    assert data["code"] == "validation_error" and field in data["details"]["fields"]


def test_malformed_json_is_a_400_not_a_500(shop):
    response = shop("POST", "/api/v1/orders", data="{not json", content_type="application/json")
    assert response.status_code in (400, 422)
    assert response.get_json()["code"] in ("bad_request", "validation_error")


def test_unknown_routes_and_methods_answer_json(shop):
    assert shop("GET", "/api/v1/nothing-here").get_json()["code"] == "not_found"
    assert shop("DELETE", "/api/v1/orders").get_json()["code"] == "method_not_allowed"


def test_openapi_document_and_health(client, app):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert "/api/v1/orders" in spec["paths"] and "/api/v1/members/{ref}/balance" in spec["paths"]
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["checks"]["database"] == "ok"
    assert b"loyalty_http_requests_total" in client.get("/metrics").data


def test_company_employees_share_the_company_account(shop):
    created = shop("POST", "/api/v1/companies", json={"name": "Instal-Pol", "erp_code": "K1"})
    assert created.status_code == 201
    anna = enrol(shop, ext_id="anna", phone="602345678", company_erp_code="K1")
    piotr = enrol(shop, ext_id="piotr", phone="603456789", company_erp_code="K1")
    place(shop, "O-1", anna["loyalty_id"], status="fulfilled", total="100.00", group="100")
    balance = shop("GET", f"/api/v1/members/{piotr['loyalty_id']}/balance").get_json()
    assert balance["available"] == "10"
    company = shop("GET", "/api/v1/companies/K1").get_json()
    assert company["members"] == [anna["loyalty_id"], piotr["loyalty_id"]]
    assert company["balance"]["available"] == "10"


def test_registration_bonus_and_two_sided_referral_at_the_first_purchase(shop, publish):
    import rules
    defaults = rules.default_policies()
    publish(defaults["event"])      # 150 points for joining
    publish(defaults["referral"])   # 100 to the referrer, 50 to the new member
    anna = enrol(shop, ext_id="anna", phone="602345678")
    assert shop("GET", "/api/v1/members/ext:anna/balance").get_json()["available"] == "150"
    bad = shop("POST", "/api/v1/members", json={"name": "X", "ext_id": "x",
                                                "referral_code": "NOSUCHCODE"})
    assert bad.status_code == 422 and bad.get_json()["code"] == "unknown_referral_code"
    # Another e-mail than the default: a shared one would be a self-referral.
    piotr = enrol(shop, ext_id="piotr", phone="603456789", email="piotr@example.com",
                  referral_code=anna["referral_code"])
    assert shop("GET", "/api/v1/members/ext:piotr/balance").get_json()["available"] == "150"
    place(shop, "O-1", piotr["loyalty_id"], status="fulfilled", total="100.00", group="100")
    place(shop, "O-2", piotr["loyalty_id"], status="fulfilled", total="100.00", group="100")
    assert shop("GET", "/api/v1/members/ext:anna/balance").get_json()["available"] == "250"
    # 150 joining + 10 + 10 for the orders + 50 referral, once.
    assert shop("GET", "/api/v1/members/ext:piotr/balance").get_json()["available"] == "220"
    kinds = [e["kind"] for e in shop("GET", "/api/v1/members/ext:piotr/history").get_json()["entries"]]
    assert kinds.count("referral") == 1 and kinds.count("event") == 1
