"""The policy store through the API and the CLI: drafts, validation, publish, simulate."""
from __future__ import annotations

import copy
import json
from datetime import timedelta

import pytest
from click.testing import CliRunner

from engine import clock
from tests.conftest import ACCRUAL_BASIC, auth

RICHER = {"policy": "accrual", "rules": [
    dict(ACCRUAL_BASIC["rules"][0], actions=[{"name": "earn_per_amount",
                                              "params": {"points": 2, "amount": 10}}]),
    ACCRUAL_BASIC["rules"][1],
]}
BROKEN = {"policy": "accrual", "rules": [
    {"id": "a", "scope": "document",
     "conditions": {"all": [{"name": "product_group", "operator": "equal_to", "value": "110"}]},
     "actions": [{"name": "earn_fixed", "params": {"points": "ten"}}]},
    {"id": "a", "conditions": {"any": []}, "actions": [{"name": "launch_rockets"}]},
]}


@pytest.fixture
def admin(client, keys):
    def call(method, url, **kwargs):
        return client.open(url, method=method, headers=auth(keys["admin"]), **kwargs)
    return call


def order(admin, order_id, total="100.00", group="110"):
    response = admin("POST", "/api/v1/orders", json={
        "order_id": order_id, "member": "ext:m1", "currency": "PLN", "status": "fulfilled",
        "placed_at": (clock.now() - timedelta(hours=1)).isoformat(),
        "lines": [{"line_no": 1, "sku": "A", "quantity": 1, "unit_price": total,
                   "product_group": group}]})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_an_invalid_document_is_refused_with_every_problem_and_never_stored(admin):
    response = admin("PUT", "/api/v1/policies/accrual", json={"document": BROKEN})
    assert response.status_code == 422
    body = response.get_json()
    codes = {e["code"] for e in body["details"]["errors"]}
    assert {"duplicate_id", "line_variable_in_document_rule", "empty_group",
            "unknown_action"} <= codes
    assert any("earn_fixed" in e["message"] and "points" in e["message"]
               for e in body["details"]["errors"])
    assert admin("GET", "/api/v1/policies/accrual/versions").get_json() == []
    unknown = admin("PUT", "/api/v1/policies/jackpot", json={"document": ACCRUAL_BASIC})
    assert unknown.status_code == 404 and unknown.get_json()["code"] == "unknown_policy"


def test_draft_publish_and_what_is_in_force(admin):
    draft = admin("PUT", "/api/v1/policies/accrual", json={"document": ACCRUAL_BASIC,
                                                           "comment": "first"}).get_json()
    assert (draft["version"], draft["status"]) == (1, "draft")
    state = admin("GET", "/api/v1/policies/accrual").get_json()
    assert state["published"] is None and state["draft"]["version"] == 1
    published = admin("POST", "/api/v1/policies/accrual/publish", json={}).get_json()
    assert published["status"] == "published" and published["published_by"] == "api:test-admin"
    # A version published for next week is not in force yet.
    admin("PUT", "/api/v1/policies/accrual", json={"document": RICHER})
    later = (clock.now() + timedelta(days=7)).isoformat()
    assert admin("POST", "/api/v1/policies/accrual/publish",
                 json={"effective_from": later}).status_code == 200
    state = admin("GET", "/api/v1/policies/accrual").get_json()
    assert state["published"]["version"] == 1
    assert admin("POST", "/api/v1/policies/accrual/publish", json={}).get_json()["code"] \
        == "nothing_to_publish"


def test_settings_are_a_policy_too(admin):
    admin("PUT", "/api/v1/policies/accrual", json={"document": ACCRUAL_BASIC})
    admin("POST", "/api/v1/policies/accrual/publish", json={})
    bad = admin("PUT", "/api/v1/policies/settings",
                json={"document": {"settings": {"holding_days": -3, "time_zone": "Mars/Base"}}})
    assert bad.status_code == 422
    assert {e["path"] for e in bad.get_json()["details"]["errors"]} >= {
        "settings.holding_days", "settings.time_zone"}
    assert admin("PUT", "/api/v1/policies/settings",
                 json={"document": {"settings": {"holding_days": 14}}}).status_code == 200
    # A document is judged by the program in force on its date: the order below
    # is an hour old, so these settings are made effective since yesterday.
    yesterday = (clock.now() - timedelta(days=1)).isoformat()
    admin("POST", "/api/v1/policies/settings/publish", json={"effective_from": yesterday})
    admin("POST", "/api/v1/members", json={"ext_id": "m1", "name": "M"})
    placed = order(admin, "O1")
    assert placed["earned"] == "20" and placed["pending"] == "20"


def test_simulate_costs_a_draft_next_to_the_published_version(admin):
    admin("PUT", "/api/v1/policies/accrual", json={"document": ACCRUAL_BASIC})
    admin("POST", "/api/v1/policies/accrual/publish", json={})
    admin("POST", "/api/v1/members", json={"ext_id": "m1", "name": "M"})
    order(admin, "O1", "100.00", "110")  # 20 points now
    order(admin, "O2", "250.00", "100")  # 25 points now
    admin("PUT", "/api/v1/policies/accrual", json={"document": RICHER})
    result = admin("POST", "/api/v1/policies/accrual/simulate", json={}).get_json()
    assert result["documents"] == 2
    assert result["published"]["points"] == "45" and result["draft"]["points"] == "90"
    inline = copy.deepcopy(RICHER)
    inline["rules"] = inline["rules"][:1]
    result = admin("POST", "/api/v1/policies/accrual/simulate",
                   json={"document": inline}).get_json()
    assert result["draft"]["points"] == "70"
    # Simulation changes nothing.
    balance = admin("GET", "/api/v1/members/ext:m1/balance").get_json()
    assert balance["available"] == "45"


def test_vocabulary_describes_variables_operators_and_actions(admin):
    vocabulary = admin("GET", "/api/v1/policies/vocabulary").get_json()
    accrual = vocabulary["accrual"]
    text = json.dumps(accrual, default=str)  # the app parses JSON numbers as Decimal
    for name in ("product_group", "line_total", "order_total", "turnover_12m", "earn_per_amount",
                 "multiply", "exclude", "cap", "greater_than_or_equal_to"):
        assert name in text, name
    assert "set_tier" in json.dumps(vocabulary["tier"], default=str)


def test_cli_loads_and_publishes_and_refuses_what_is_invalid(app, tmp_path):
    good = tmp_path / "accrual.json"
    good.write_text(json.dumps(ACCRUAL_BASIC))
    bad = tmp_path / "broken.json"
    bad.write_text(json.dumps(BROKEN))
    runner = CliRunner()
    with app.app_context():
        refused = runner.invoke(app.cli, ["policies", "load", str(bad)])
        assert refused.exit_code != 0 and "nothing was stored" in refused.output
        loaded = runner.invoke(app.cli, ["policies", "load", str(good)])
        assert loaded.exit_code == 0 and "accrual v1 stored as draft" in loaded.output
        published = runner.invoke(app.cli, ["policies", "publish", "accrual"])
        assert published.exit_code == 0 and "accrual v1 published" in published.output
        again = runner.invoke(app.cli, ["policies", "publish", "accrual"])
        assert again.exit_code != 0 and "no draft" in again.output
