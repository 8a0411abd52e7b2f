"""`make run`'s demo shows each program working with the default policies: through the API."""
from __future__ import annotations

from sqlalchemy import select

from tests.conftest import auth


def test_the_demo_has_a_mission_in_progress_codes_two_tiers_and_a_code_a_tag_and_a_bundle(app, client, keys):
    from engine.models import Member, PromoCode
    from server import demo
    from server.extensions import db

    with app.app_context():
        report = demo.seed(db.session())
        session = db.session()
        tiers = {m.loyalty_id: m.tier for m in session.execute(select(Member)).scalars()}
        code = session.execute(select(PromoCode.code).limit(1)).scalar_one()
    first = report["example_member"]
    assert {"silver", "bronze"} <= set(tiers.values()) and tiers[first] == "silver"
    assert any("Promo codes" in line and "LATO2026" in line for line in report["logins"])

    def call(method, url, **kwargs):
        return client.open(url, method=method, headers=auth(keys["shop"]), **kwargs)

    mission = call("GET", f"/api/v1/members/{first}/missions").get_json()["missions"][0]
    assert (mission["code"], mission["state"]) == ("eco-3000", "in_progress")
    assert 0 < float(mission["progress"]) < float(mission["target"])
    order = call("GET", "/api/v1/orders/DEMO-LATO-1").get_json()
    assert order["codes"] == ["LATO2026"]
    # 40 eco valves: 139 + 2 × 40 for the tag, × 1.5 (group 110); 22 pumps: 1977 + 44; + 100 for the code.
    assert [line["points"] for line in order["lines"]] == ["328.5", "2021"] and order["earned"] == "2449"
    redeemed = call("POST", "/api/v1/promo-codes/redeem", json={"code": code, "member": first})
    assert redeemed.status_code in (200, 201), redeemed.get_json()
    quote = call("POST", "/api/v1/quote", json={"member": first, "lines": [
        {"sku": "PE-10", "quantity": 3, "unit_price": "12.90"}]}).get_json()
    assert quote["redemption"]["free_lines"] == [{"line_no": 1, "bundles": "2", "free_quantity": "3", "points": "6"}]
