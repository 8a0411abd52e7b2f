"""POST /quote/products [001][004]: points per product card, each as if bought alone at its catalog price; for a
member their tier applies; an ETag that holds until a policy, the member's tier or a product changes (304 on
If-None-Match); too many SKUs refused; unknown SKUs reported per item; one catalog query whatever the count."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event

from engine import clock
from engine.documents import catalog
from engine.domain import ProductDoc
from tests.conftest import ACCRUAL_BASIC, auth
from tests.integration.test_tiers import enrol, order, recalculate, tier_policy

URL = "/api/v1/quote/products"


@pytest.fixture
def shop(target_app, client, keys, publish):
    publish(ACCRUAL_BASIC)
    from server.extensions import db
    with target_app.app_context():
        session = db.session()
        for n in range(300):
            catalog.upsert(session, ProductDoc(source="admin", sku=f"P{n}", product_group="110" if n % 2 else "100",
                                               price=Decimal(10 + n), currency="PLN"), now=clock.now())
        catalog.upsert(session, ProductDoc(source="admin", sku="NOPRICE"), now=clock.now())
        session.commit()

    def call(method, url, key="shop", **kwargs):
        return client.open(url, method=method, headers=auth(keys[key], **kwargs.pop("headers", {})), **kwargs)
    call.app = target_app
    return call


def test_points_per_product_and_errors_per_item(shop):
    response = shop("POST", URL, json={"skus": ["P0", "P1", "P25", "NOPE", "NOPRICE"]})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    got = {p["sku"]: (p["points"], p["error"]) for p in body["products"]}
    # P0: 10 PLN in group 100 → 1; P1: 11 PLN in group 110 → 1 × 2; P25: 35 PLN, group 110 → 3 × 2.
    assert got == {"P0": ("1", None), "P1": ("2", None), "P25": ("6", None), "NOPE": (None, "unknown_sku"),
                   "NOPRICE": (None, "no_price")}
    assert body["member"] is None and body["discount_percent"] == "0" and body["policy_version"] == 1
    assert response.headers["ETag"]


def test_etag_is_stable_gives_304_and_changes_on_publish(shop, publish):
    body = {"skus": [f"P{n}" for n in range(50)]}
    first = shop("POST", URL, json=body)
    second = shop("POST", URL, json=body)
    etag = first.headers["ETag"]
    assert second.headers["ETag"] == etag and second.get_json() == first.get_json()
    cached = shop("POST", URL, json=body, headers={"If-None-Match": etag})
    assert cached.status_code == 304 and cached.get_data() == b"" and cached.headers["ETag"] == etag
    assert shop("POST", URL, json=body, headers={"If-None-Match": '"other"'}).status_code == 200
    doubled = {**ACCRUAL_BASIC, "rules": [{**ACCRUAL_BASIC["rules"][0],
                                           "actions": [{"name": "earn_per_amount",
                                                        "params": {"points": 2, "amount": 10}}]}]}
    publish(doubled, effective_from=clock.now() - timedelta(seconds=1))
    after = shop("POST", URL, json=body, headers={"If-None-Match": etag})
    assert after.status_code == 200 and after.headers["ETag"] != etag
    assert after.get_json()["products"][0]["points"] == "2" and after.get_json()["policy_version"] == 2


def test_a_members_tier_applies_and_changes_the_etag(shop, publish):
    publish(tier_policy())
    member = enrol(shop)
    body = {"skus": ["P0", "P1"], "member": member}
    plain = shop("POST", URL, json=body)
    assert [p["points"] for p in plain.get_json()["products"]] == ["1", "2"]
    order(shop, "O-1", member, 1200)
    recalculate(shop)  # gold: ×2, 15 % discount
    gold = shop("POST", URL, json=body, headers={"If-None-Match": plain.headers["ETag"]})
    assert gold.status_code == 200 and gold.headers["ETag"] != plain.headers["ETag"]
    assert [p["points"] for p in gold.get_json()["products"]] == ["2", "4"]
    assert gold.get_json()["discount_percent"] == "15" and gold.get_json()["member"] == member
    assert shop("POST", URL, json={"skus": ["P0"], "member": "ext:nobody"}).status_code == 404


def test_limits_and_one_catalog_query_for_many_skus(shop):
    too_many = shop("POST", URL, json={"skus": [f"P{n}" for n in range(501)]})
    assert too_many.status_code == 422
    assert "1 to 500 SKUs" in str(too_many.get_json()["details"])
    assert shop("POST", URL, json={"skus": []}).status_code == 422
    assert shop("POST", URL, json={"skus": [""]}).status_code == 422
    assert shop("POST", URL, json={"skus": ["P1"], "channel": "fax"}).status_code == 422
    from server.extensions import db
    with shop.app.app_context():
        engine = db.engine
    statements = []

    def count(conn, cursor, statement, *args):
        if "products" in statement.lower():
            statements.append(statement)
    event.listen(engine, "before_cursor_execute", count)
    try:
        response = shop("POST", URL, json={"skus": [f"P{n}" for n in range(300)]})
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert response.status_code == 200 and len(response.get_json()["products"]) == 300
    assert len(statements) == 1, statements


def test_the_same_answer_in_xml(shop):
    response = shop("POST", URL + "?format=xml", json={"skus": ["P1", "NOPE"]})
    assert response.status_code == 200 and response.mimetype == "application/xml"
    text = response.get_data(as_text=True)
    assert "<product_quote" in text and "unknown_sku" in text and response.headers["ETag"]
