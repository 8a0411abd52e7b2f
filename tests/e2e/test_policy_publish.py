"""Publishing a policy through the API changes the next order's points, without a restart."""
from __future__ import annotations

import requests

from engine import clock, members
from server.auth import create_key
from server.extensions import db
from tests.conftest import ACCRUAL_BASIC


def test_publish_changes_the_points_of_the_next_order(pg_app, live_server):
    with pg_app.app_context():
        session = db.session()
        _row, admin = create_key(session, "marketing", "admin")
        member = members.create(session, {"name": "Jan"})
        session.commit()
        ref = member.loyalty_id
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {admin}"
    api = live_server + "/api/v1"

    def publish(document):
        put = s.put(f"{api}/policies/accrual", json={"document": document, "comment": "e2e"})
        assert put.status_code == 200, put.text
        published = s.post(f"{api}/policies/accrual/publish", json={})
        assert published.status_code == 200, published.text
        return published.json()["version"]

    def order(order_id):
        response = s.post(f"{api}/orders", json={
            "order_id": order_id, "member": ref, "placed_at": clock.now().isoformat(),
            "currency": "PLN", "status": "fulfilled",
            "lines": [{"line_no": 1, "sku": "A", "quantity": 1, "unit_price": 100,
                       "product_group": "110"}]})
        assert response.status_code == 201, response.text
        return response.json()["earned"]

    assert publish(ACCRUAL_BASIC) == 1
    # Several requests, so both gunicorn workers have compiled version 1.
    assert [order(f"A{i}") for i in range(4)] == ["20"] * 4
    richer = {"policy": "accrual", "rules": [dict(ACCRUAL_BASIC["rules"][0], actions=[
        {"name": "earn_percent", "params": {"percent": 5}}])]}
    assert publish(richer) == 2
    assert [order(f"B{i}") for i in range(4)] == ["5"] * 4
    invalid = s.put(f"{api}/policies/accrual", json={"document": {"rules": [
        {"id": "x", "conditions": {"all": [{"name": "no_such_variable", "operator": "equal_to",
                                            "value": 1}]},
         "actions": [{"name": "earn_fixed", "params": {"points": 1}}]}]}})
    assert invalid.status_code == 422
    assert invalid.json()["details"]["errors"][0]["code"] == "unknown_variable"
    versions = s.get(f"{api}/policies/accrual/versions").json()
    assert [v["version"] for v in versions] == [2, 1]
