"""Order codes, catalog tags and bundles priced in points, through the shop API (PostgreSQL and SQLite)."""
from __future__ import annotations

import pytest

from engine import clock
from tests.conftest import auth

ACCRUAL = {"policy": "accrual", "rules": [
    {"id": "summer-code", "scope": "document",
     "conditions": {"all": [{"name": "order_codes", "operator": "contains", "value": "SUMMER10"}]},
     "actions": [{"name": "earn_fixed", "params": {"points": 50}}]},
    {"id": "eco-tag", "scope": "line",
     "conditions": {"all": [{"name": "line_tags", "operator": "shares_at_least_one_element_with",
                             "value": ["eco", "organic"]}]},
     "actions": [{"name": "earn_per_unit", "params": {"points": 5}}]},
]}
REDEMPTION = {"policy": "redemption", "rules": [
    {"id": "brush-bundle", "scope": "line",
     "conditions": {"all": [{"name": "line_tags", "operator": "contains_all", "value": ["reward"]}]},
     "actions": [{"name": "free_for_points", "params": {"points": 3, "units": 2, "rounding": "up"}}]},
    {"id": "half", "scope": "document", "actions": [{"name": "max_percent_of_order", "params": {"percent": 50}}]},
]}


@pytest.fixture
def shop(app, client, keys, publish):
    from engine.documents import catalog
    from engine.domain import ProductDoc
    from server.extensions import db

    publish(ACCRUAL)
    publish(REDEMPTION)
    with app.app_context():
        session = db.session()
        for sku, tags in (("ECO-1", ("Eco", "new")), ("PLAIN", None), ("BRUSH", ("reward",))):
            catalog.upsert(session, ProductDoc(source="admin", sku=sku, name=sku, tags=tags), now=clock.now())
        session.commit()

    def call(method, url, key="shop", **kwargs):
        return client.open(url, method=method, headers=auth(keys[key], **kwargs.pop("headers", {})), **kwargs)
    return call


def enrol(shop, ext="u-1"):
    response = shop("POST", "/api/v1/members", json={"name": "Ola", "ext_id": ext})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["loyalty_id"]


def order_body(order_id, member, lines, **extra):
    return {"order_id": order_id, "member": member, "placed_at": clock.now().isoformat(), "currency": "PLN",
            "status": "fulfilled", **extra,
            "lines": [{"sku": sku, "quantity": q, "unit_price": 10} for sku, q in lines]}


def test_an_order_with_the_code_earns_and_without_it_does_not(shop):
    member = enrol(shop)
    with_code = shop("POST", "/api/v1/orders", json=order_body("O-1", member, [("PLAIN", 1)],
                                                               codes=[" summer10 ", "FREESHIP", "Summer10"]))
    assert with_code.status_code == 201, with_code.get_json()
    assert with_code.get_json()["earned"] == "50"
    assert with_code.get_json()["codes"] == ["summer10", "FREESHIP"]  # trimmed, repeats dropped
    without = shop("POST", "/api/v1/orders", json=order_body("O-2", member, [("PLAIN", 1)], codes=["WINTER"]))
    assert without.get_json()["earned"] == "0"
    plain = order_body("O-3", member, [("PLAIN", 1)])
    assert shop("POST", "/api/v1/orders", json=plain).get_json()["earned"] == "0"
    # Stored with the document: the XML form of the order shows them, and a re-sent order with other
    # codes is another document under a known id.
    xml = shop("GET", "/api/v1/orders/O-1?format=xml").get_data(as_text=True)
    assert "<codes>\n    <code>summer10</code>\n    <code>FREESHIP</code>\n  </codes>" in xml
    conflict = shop("POST", "/api/v1/orders", json=order_body("O-1", member, [("PLAIN", 1)], codes=["OTHER"]))
    assert conflict.status_code == 409, conflict.get_json()
    same = shop("POST", "/api/v1/orders", json=plain)  # a retry without codes is the same document
    assert same.status_code in (200, 201) and same.get_json()["codes"] == []


def test_a_tagged_line_earns_and_keeps_its_tags_through_a_return(shop):
    member = enrol(shop)
    body = order_body("T-1", member, [("ECO-1", 3), ("PLAIN", 2)])
    placed = shop("POST", "/api/v1/orders", json=body).get_json()
    assert placed["earned"] == "15"  # 3 units × 5 on the tagged line (the catalog says "Eco", case ignored)
    assert [line["points"] for line in placed["lines"]] == ["15", "0"]
    quote = shop("POST", "/api/v1/quote", json={"member": member, "lines": body["lines"]}).get_json()
    assert quote["points"] == "15"
    returned = shop("POST", "/api/v1/orders/T-1/returns",
                    json={"return_id": "r1", "lines": [{"line_no": 1, "quantity": 1}]})
    assert returned.status_code == 201, returned.get_json()
    assert returned.get_json()["earned"] == "10"  # recomputed on the stored line's tags


def test_bad_codes_are_refused_with_their_field_and_nothing_is_stored(shop):
    member = enrol(shop)
    for codes, field in ((["x" * 65], "codes"), ([""], "codes"), ([" "], "codes"), ("SUMMER10", "codes"),
                         ([f"C{n}" for n in range(21)], "codes"), ([5], "codes")):
        response = shop("POST", "/api/v1/orders", json=order_body("B-1", member, [("PLAIN", 1)], codes=codes))
        assert response.status_code == 422, (codes, response.get_json())
        assert field in str(response.get_json()), response.get_json()
    assert shop("GET", "/api/v1/orders/B-1").status_code == 404


def give(shop, member, points):
    response = shop("POST", f"/api/v1/members/{member}/adjustments", key="admin",
                    json={"adjustment_id": f"give-{member}", "points": points, "reason": "test"})
    assert response.status_code == 201, response.get_json()


def test_a_bundle_of_three_points_per_two_units_costs_six_for_three_units(shop):
    member = enrol(shop)
    give(shop, member, 20)
    cart = {"lines": [{"sku": "BRUSH", "quantity": 3, "unit_price": 12}, {"sku": "PLAIN", "quantity": 1,
                                                                            "unit_price": 100}]}
    quote = shop("POST", "/api/v1/quote", json={"member": member, **cart}).get_json()
    assert quote["redemption"]["free_lines"] == [
        {"line_no": 1, "bundles": "2", "free_quantity": "3", "points": "6"}]
    wrong = shop("POST", "/api/v1/redemptions", json={"redemption_id": "R-0", "member": member, "points": 5,
                                                      "cart": cart, "free_lines": [1]})
    assert wrong.status_code == 422 and "costs 6 points" in wrong.get_json()["message"], wrong.get_json()
    not_offered = shop("POST", "/api/v1/redemptions", json={"redemption_id": "R-0", "member": member,
                                                            "points": 6, "cart": cart, "free_lines": [2]})
    assert not_offered.status_code == 422 and "line 2" in not_offered.get_json()["message"]
    taken = shop("POST", "/api/v1/redemptions", json={"redemption_id": "R-1", "member": member, "points": 6,
                                                      "cart": cart, "free_lines": [1], "order_id": "C-1"})
    assert taken.status_code == 201, taken.get_json()
    assert taken.get_json()["balance"]["available"] == "14" and taken.get_json()["free_lines"] == [1]
    again = shop("POST", "/api/v1/redemptions", json={"redemption_id": "R-2", "member": member, "points": 6,
                                                      "cart": cart, "free_lines": [1], "order_id": "C-1"})
    assert again.status_code == 422 and "already taken" in again.get_json()["message"], again.get_json()
    # The money limit of the order is untouched by the free line: half of 136 PLN = 68 points max, all 14 fit.
    money = shop("POST", "/api/v1/redemptions", json={"redemption_id": "R-3", "member": member, "points": 14,
                                                      "cart": cart, "order_id": "C-1"})
    assert money.status_code == 201, money.get_json()


def test_a_bundle_beyond_the_balance_is_refused_and_spends_nothing(shop):
    member = enrol(shop, "u-2")
    give(shop, member, 5)
    cart = {"lines": [{"sku": "BRUSH", "quantity": 4, "unit_price": 12}]}
    refused = shop("POST", "/api/v1/redemptions", json={"redemption_id": "R-9", "member": member, "points": 6,
                                                        "cart": cart, "free_lines": [1]})
    assert refused.status_code == 422, refused.get_json()
    assert shop("GET", f"/api/v1/members/{member}/balance").get_json()["available"] == "5"


def test_a_source_without_tags_leaves_the_catalog_s_tags_and_an_empty_list_clears_them(app):
    from sqlalchemy import select

    from engine.documents import catalog
    from engine.domain import ProductDoc
    from engine.models import Product
    from server.extensions import db

    with app.app_context():
        session = db.session()
        stored = select(Product.tags).where(Product.sku == "T-1")
        for tags in (("eco", "new"), None):
            catalog.upsert(session, ProductDoc(source="sap_b1", sku="T-1", name="T", tags=tags), now=clock.now())
            assert session.execute(stored).scalar_one() == ["eco", "new"]
        catalog.upsert(session, ProductDoc(source="sap_b1", sku="T-1", name="T", tags=()), now=clock.now())
        assert session.execute(stored).scalar_one() is None
        session.rollback()
