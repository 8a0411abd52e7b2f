"""Missions over HTTP: define, join, progress from orders, "no points for mission purchases", reward once,
and a return that takes progress below the target after the reward (the reward is reversed)."""
from __future__ import annotations

import pytest

from engine import clock
from tests.conftest import ACCRUAL_BASIC, EPOCH, auth

# Tools (group 130) count by money and earn no ordinary points; paint (140) counts by quantity.
MISSION_POLICY = {"policy": "mission", "rules": [
    {"id": "tools", "scope": "line",
     "conditions": {"all": [{"name": "product_group", "operator": "equal_to", "value": "130"}]},
     "actions": [{"name": "progress_amount", "params": {}}, {"name": "exclude_from_accrual", "params": {}}]},
    {"id": "paint", "scope": "line",
     "conditions": {"all": [{"name": "product_group", "operator": "equal_to", "value": "140"}]},
     "actions": [{"name": "progress_quantity", "params": {}}]},
]}


@pytest.fixture
def shop(client, keys, publish):
    publish(ACCRUAL_BASIC)
    publish(MISSION_POLICY)

    def call(method, url, key="shop", **kwargs):
        return client.open(url, method=method, headers=auth(keys[key]), **kwargs)
    return call


def define(shop, **data):
    body = {"code": "tools-300", "name": "Buy 300 PLN of tools", "rule_id": "tools", "metric": "amount",
            "target": 300, "reward_points": 50, "enrolment": "join", "starts_at": EPOCH.isoformat(), **data}
    response = shop("POST", "/api/v1/missions", key="admin", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def enrol(shop):
    response = shop("POST", "/api/v1/members", json={"name": "Jan", "ext_id": "u-1", "phone": "601234567"})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["loyalty_id"]


def order(shop, order_id, member, lines):
    body = {"order_id": order_id, "member": member, "placed_at": clock.now().isoformat(), "currency": "PLN",
            "status": "fulfilled",
            "lines": [{"line_no": n, "sku": f"S{n}", "quantity": q, "unit_price": t / q, "line_total": t,
                       "product_group": g} for n, (g, q, t) in enumerate(lines, 1)]}
    response = shop("POST", "/api/v1/orders", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def mission_of(shop, member, code="tools-300"):
    body = shop("GET", f"/api/v1/members/{member}/missions").get_json()
    return next(m for m in body["missions"] if m["code"] == code)


def balance(shop, member):
    return shop("GET", f"/api/v1/members/{member}/balance").get_json()["available"]


def kinds(shop, member):
    return [(e["kind"], e["amount"]) for e in
            reversed(shop("GET", f"/api/v1/members/{member}/history").get_json()["entries"])]


def test_join_progress_no_points_for_mission_purchases_and_one_reward(shop):
    mission = define(shop)
    member = enrol(shop)
    assert mission_of(shop, member)["state"] == "not_joined"
    # Before joining, tools count for nothing and earn ordinary points: 200/10 = 20.
    assert order(shop, "O-0", member, [("130", 2, 200)])["earned"] == "20"
    joined = shop("POST", f"/api/v1/members/{member}/missions/{mission['id']}/join")
    assert joined.status_code == 200 and joined.get_json()["state"] == "in_progress"
    assert shop("POST", f"/api/v1/members/{member}/missions/{mission['id']}/join").status_code == 200
    # A mission purchase earns no ordinary points; the other line still does (100/10 = 10).
    assert order(shop, "O-1", member, [("130", 2, 200), ("100", 1, 100)])["earned"] == "10"
    row = mission_of(shop, member)
    assert (row["progress"], row["target"], row["state"], row["reward_points"]) == ("200", "300", "in_progress",
                                                                                     "50")
    assert row["period"]["kind"] == "fixed" and row["period"]["key"] == "all"
    order(shop, "O-2", member, [("130", 1, 150)])
    row = mission_of(shop, member)
    assert (row["progress"], row["state"]) == ("350", "completed")
    order(shop, "O-3", member, [("130", 1, 100)])  # beyond the target: rewarded once
    assert kinds(shop, member).count(("mission_reward", "50")) == 1
    assert balance(shop, member) == "80"  # 20 + 10 + 50


def test_quantity_missions_auto_enrol_and_refuse_unknown_rules(shop):
    define(shop, code="paint-5", rule_id="paint", metric="quantity", target=5, reward_points=7,
           enrolment="auto", period="month")
    member = enrol(shop)
    order(shop, "O-1", member, [("140", 3, 30)])
    row = mission_of(shop, member, "paint-5")
    assert (row["progress"], row["state"], row["period"]["key"]) == ("3", "in_progress",
                                                                      clock.now().strftime("%Y-%m"))
    order(shop, "O-2", member, [("140", 2, 20)])
    assert mission_of(shop, member, "paint-5")["state"] == "completed"
    assert ("mission_reward", "7") in kinds(shop, member)
    # Cancelling an order takes its whole share back: 3 < 5, the reward is reversed.
    assert shop("POST", "/api/v1/orders/O-2/status", json={"status": "cancelled"}).status_code == 200
    row = mission_of(shop, member, "paint-5")
    assert (row["progress"], row["state"]) == ("3", "in_progress")
    assert sorted(kinds(shop, member)[-2:]) == [("reversal", "-2"), ("reversal", "-7")]  # its accrual too
    bad = shop("POST", "/api/v1/missions", key="admin",
               json={"code": "x", "name": "x", "rule_id": "nope", "metric": "amount", "target": 1,
                     "reward_points": 1, "starts_at": EPOCH.isoformat()})
    assert bad.status_code == 422 and bad.get_json()["code"] == "invalid_mission"
    assert shop("POST", f"/api/v1/members/{member}/missions/999/join").status_code == 404


def test_a_return_below_the_target_after_the_reward_reverses_it(shop):
    mission = define(shop, enrolment="auto")
    member = enrol(shop)
    order(shop, "O-1", member, [("130", 2, 200), ("100", 1, 100)])
    order(shop, "O-2", member, [("130", 1, 150)])
    assert mission_of(shop, member)["state"] == "completed" and balance(shop, member) == "60"
    response = shop("POST", "/api/v1/orders/O-1/returns",
                    json={"return_id": "R1", "lines": [{"line_no": 1, "quantity": 1}]})
    assert response.status_code == 201, response.get_json()
    row = mission_of(shop, member)
    assert (row["progress"], row["state"]) == ("250", "in_progress")  # 350 − 100
    assert kinds(shop, member)[-1] == ("reversal", "-50") and balance(shop, member) == "10"
    # Reaching the target again in the same period rewards again (a new round, a new key).
    order(shop, "O-3", member, [("130", 1, 60)])
    assert mission_of(shop, member)["state"] == "completed" and balance(shop, member) == "60"
    assert mission["id"] == mission_of(shop, member)["id"]
