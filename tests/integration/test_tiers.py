"""Tiers over HTTP and the CLI [003]: thresholds on window turnover, each downgrade mode, grace days, a pinned
negotiated tier until its date, invitation-only tiers, imported historical turnover, the multiplier in accrual,
the discount in balance and quote answers, and every change recorded once with its tier.changed event."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from engine import clock
from engine.models import OutboxMessage, TierChange
from tests.conftest import ACCRUAL_BASIC, auth
from tests.integration import test_outbox

receiver = test_outbox.receiver  # the loopback webhook receiver fixture


def tier_policy(gold_downgrade=()):
    def rule(rid, priority, threshold, discount, factor, *extra, conditions=True):
        body = {"id": rid, "priority": priority,
                "actions": [{"name": "set_tier", "params": {"name": rid}},
                            {"name": "tier_discount_percent", "params": {"percent": discount}},
                            {"name": "tier_multiplier", "params": {"factor": factor}}, *extra]}
        if conditions:
            body["conditions"] = {"all": [{"name": "turnover_12m", "operator": "greater_than_or_equal_to",
                                           "value": threshold}]}
            body["stop_processing"] = True
        return body
    return {"policy": "tier", "rules": [
        rule("vip", 50, None, 20, 3, {"name": "tier_invitation_only", "params": {}}, conditions=False),
        rule("gold", 30, 1000, 15, 2, *gold_downgrade),
        rule("silver", 20, 300, 5, "1.5"),
    ]}


@pytest.fixture
def shop(target_app, client, keys, publish, receiver, monkeypatch):
    publish(ACCRUAL_BASIC)
    monkeypatch.setitem(target_app.config, "WEBHOOK_ALLOW_PRIVATE", ["127.0.0.1"])

    def call(method, url, key="shop", **kwargs):
        return client.open(url, method=method, headers=auth(keys[key]), **kwargs)
    call.app = target_app
    return call


def enrol(shop, ext_id="u-1"):
    response = shop("POST", "/api/v1/members", json={"name": "Jan", "ext_id": ext_id})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["loyalty_id"]


def order(shop, order_id, member, total):
    body = {"order_id": order_id, "member": member, "placed_at": clock.now().isoformat(), "currency": "PLN",
            "status": "fulfilled", "lines": [{"line_no": 1, "sku": "S1", "quantity": 1, "unit_price": total}]}
    response = shop("POST", "/api/v1/orders", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["earned"]


def cancel(shop, order_id):
    assert shop("POST", f"/api/v1/orders/{order_id}/status", json={"status": "cancelled"}).status_code == 200


def recalculate(shop) -> dict:
    import json
    result = shop.app.test_cli_runner().invoke(args=["tiers"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def tier_of(shop, member) -> dict:
    response = shop("GET", f"/api/v1/members/{member}/tier")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def changes(shop):
    from server.extensions import db
    with shop.app.app_context():
        return [(c.from_tier, c.to_tier, c.reason) for c in
                db.session().execute(select(TierChange).order_by(TierChange.id)).scalars()]


def test_thresholds_assign_once_with_the_event_and_the_benefits_apply(shop, publish, receiver):
    publish(tier_policy())
    hook = shop("POST", "/api/v1/webhooks", key="admin",
                json={"name": "crm", "url": receiver.url + "/hooks", "event_types": ["tier.changed"]})
    assert hook.status_code == 201, hook.get_json()
    member, other = enrol(shop), enrol(shop, "u-2")
    assert order(shop, "O-1", member, 1200) == "120"  # no tier yet: 1 point per 10 PLN
    assert order(shop, "O-2", other, 400) == "40"
    assert recalculate(shop) == {"members": 2, "changed": 2}
    assert recalculate(shop) == {"members": 2, "changed": 0}  # idempotent: nothing recorded twice
    assert sorted(changes(shop)) == [("", "gold", "upgrade"), ("", "silver", "upgrade")]
    from server.extensions import db
    with shop.app.app_context():
        events = db.session().execute(select(func.count(OutboxMessage.id)).where(
            OutboxMessage.trigger == "tier.changed")).scalar_one()
    assert events == 2
    bodies = sorted(r.json["data"]["to"] for r in receiver.requests)
    assert bodies == ["gold", "silver"]
    # The multiplier of the tier held applies in accrual: 100 PLN → 10 × 2.
    assert order(shop, "O-3", member, 100) == "20"
    balance = shop("GET", f"/api/v1/members/{member}/balance").get_json()
    assert balance["tier"] == "gold" and balance["next_tier"] is None
    assert balance["tier_benefits"]["discount_percent"] == "15" and balance["tier_benefits"]["multiplier"] == "2"
    silver = shop("GET", f"/api/v1/members/{other}").get_json()
    assert silver["tier"] == "silver" and silver["tier_benefits"]["discount_percent"] == "5"
    assert silver["next_tier"] == {"tier": "gold", "turnover_12m": "400", "threshold": "1000", "missing": "600"}
    quote = shop("POST", "/api/v1/quote", json={"member": member, "lines": [
        {"sku": "S1", "quantity": 1, "unit_price": 50}]}).get_json()
    assert quote["discount_percent"] == "15" and quote["tier"] == "gold" and quote["points"] == "10"


def test_downgrade_at_recalculation_is_the_default(shop, publish):
    publish(tier_policy())
    member = enrol(shop)
    order(shop, "O-1", member, 1200)
    recalculate(shop)
    cancel(shop, "O-1")
    assert recalculate(shop)["changed"] == 1
    assert tier_of(shop, member)["tier"] == ""
    assert changes(shop) == [("", "gold", "upgrade"), ("gold", "", "downgrade")]


def test_downgrade_never_keeps_the_tier(shop, publish):
    publish(tier_policy([{"name": "tier_downgrade_never", "params": {}}]))
    member = enrol(shop)
    order(shop, "O-1", member, 1200)
    recalculate(shop)
    cancel(shop, "O-1")
    order(shop, "O-2", member, 400)  # silver turnover: still below gold
    assert recalculate(shop)["changed"] == 0
    assert tier_of(shop, member)["tier"] == "gold"


def test_downgrade_after_grace_days(shop, publish):
    publish(tier_policy([{"name": "tier_downgrade_after_days", "params": {"days": 10}}]))
    member = enrol(shop)
    order(shop, "O-1", member, 1200)
    recalculate(shop)
    cancel(shop, "O-1")
    order(shop, "O-2", member, 400)
    assert recalculate(shop)["changed"] == 0  # the grace period starts today
    with clock.travel(timedelta(days=9)):
        assert recalculate(shop)["changed"] == 0
        assert tier_of(shop, member)["tier"] == "gold"
    with clock.travel(timedelta(days=10, hours=1)):
        assert recalculate(shop)["changed"] == 1
        assert tier_of(shop, member)["tier"] == "silver"
    assert changes(shop)[-1] == ("gold", "silver", "downgrade")


def test_grace_ends_when_the_turnover_comes_back(shop, publish):
    publish(tier_policy([{"name": "tier_downgrade_after_days", "params": {"days": 10}}]))
    member = enrol(shop)
    order(shop, "O-1", member, 1200)
    recalculate(shop)
    cancel(shop, "O-1")
    recalculate(shop)  # below since today
    with clock.travel(timedelta(days=5)):
        order(shop, "O-2", member, 1100)
        recalculate(shop)  # back above: the grace clock is reset
    with clock.travel(timedelta(days=6)):
        cancel(shop, "O-2")
        recalculate(shop)  # below again, since day 6
    with clock.travel(timedelta(days=11)):
        assert recalculate(shop)["changed"] == 0 and tier_of(shop, member)["tier"] == "gold"
    with clock.travel(timedelta(days=16, hours=1)):
        assert recalculate(shop)["changed"] == 1 and tier_of(shop, member)["tier"] == ""


def test_a_pinned_tier_stays_until_its_date_then_the_turnover_decides(shop, publish):
    publish(tier_policy())
    member = enrol(shop)
    until = (clock.now() + timedelta(days=30)).isoformat()
    before = changes(shop)
    for bad, code in (({"tier": "platinum", "until": until}, "unknown_tier"),
                      ({"tier": "gold"}, "until_required"),
                      ({"tier": "gold", "until": (clock.now() - timedelta(days=1)).isoformat()}, "invalid_until")):
        refused = shop("PUT", f"/api/v1/members/{member}/tier", key="admin", json=bad)
        assert refused.status_code == 422 and refused.get_json()["code"] == code, refused.get_json()
    assert changes(shop) == before and tier_of(shop, member)["tier"] == ""
    assert shop("PUT", f"/api/v1/members/{member}/tier", json={"tier": "gold", "until": until}).status_code == 403
    pinned = shop("PUT", f"/api/v1/members/{member}/tier", key="admin",
                  json={"tier": "gold", "until": until, "note": "contract 2026"})
    assert pinned.status_code == 200, pinned.get_json()
    assert pinned.get_json()["tier_benefits"]["pinned_until"] is not None
    assert recalculate(shop)["changed"] == 0  # no turnover, but pinned
    assert order(shop, "O-1", member, 100) == "20"  # gold's ×2
    with clock.travel(timedelta(days=31)):
        assert recalculate(shop)["changed"] == 1
        body = tier_of(shop, member)
    assert body["tier"] == ""  # 100 PLN earns no tier
    assert [c["reason"] for c in body["changes"]] == ["pin_ended", "pin"]


def test_invitation_only_is_never_given_by_turnover(shop, publish):
    publish(tier_policy())
    member, guest = enrol(shop), enrol(shop, "u-2")
    order(shop, "O-1", member, 5000)
    recalculate(shop)
    assert tier_of(shop, member)["tier"] == "gold"
    invited = shop("PUT", f"/api/v1/members/{guest}/tier", key="admin", json={"tier": "vip"})
    assert invited.status_code == 200, invited.get_json()
    assert recalculate(shop)["changed"] == 0
    body = tier_of(shop, guest)
    assert body["tier"] == "vip" and body["tier_benefits"]["invitation_only"] is True
    assert body["tier_benefits"]["discount_percent"] == "20" and body["changes"][0]["reason"] == "invitation"
    assert order(shop, "O-2", guest, 100) == "30"
    removed = shop("PUT", f"/api/v1/members/{guest}/tier", key="admin", json={"tier": ""})
    assert removed.status_code == 200 and removed.get_json()["tier"] == ""


def test_an_invitation_rule_may_not_stop_the_rules_below(shop):
    policy = tier_policy()
    policy["rules"][0]["stop_processing"] = True
    response = shop("PUT", "/api/v1/policies/tier", key="admin", json={"document": policy})
    assert response.status_code == 422, response.get_json()
    assert "invitation_stops" in str(response.get_json())


def test_historical_turnover_lifts_a_tier_and_bad_rows_are_quarantined(shop, publish):
    publish(tier_policy())
    member = enrol(shop)
    month = (clock.now() - timedelta(days=40)).strftime("%Y-%m")
    old = (clock.now() - timedelta(days=400)).strftime("%Y-%m")
    future = (clock.now() + timedelta(days=40)).strftime("%Y-%m")
    csv = (f"member;period;amount\next:u-1;{month};900,50\next:u-1;{old};5000\next:nobody;{month};10\n"
           f"ext:u-1;{future};10\next:u-1;2025-13;10\next:u-1;{month[:4]}-01-15;-5\n").encode("cp1250")
    response = shop("POST", "/api/v1/tiers/turnover?filename=history.csv", key="admin", data=csv,
                    content_type="text/csv")
    assert response.status_code == 201, response.get_json()
    run = response.get_json()
    assert run["counts"] == {"rows_read": 6, "applied": 2, "duplicates": 0, "quarantined": 4, "skipped": 0}
    rows = shop("GET", f"/api/v1/imports/{run['id']}/rows", key="admin").get_json()
    reasons = " | ".join(r["reason"] for r in rows["rows"])
    assert "no member matches" in reasons and "in the future" in reasons and "0 or more" in reasons
    again = shop("POST", "/api/v1/tiers/turnover?filename=history.csv", key="admin", data=csv,
                 content_type="text/csv")
    assert again.status_code == 200 and again.get_json()["already_imported"] is True
    order(shop, "O-1", member, 100)  # 900.50 imported in the window + 100 bought: gold; the old year does not count
    recalculate(shop)
    assert tier_of(shop, member)["tier"] == "gold"
    assert order(shop, "O-2", member, 100) == "20"
    refused = shop("POST", "/api/v1/tiers/turnover", key="admin", data=b"who;when\nx;y\n", content_type="text/csv")
    assert refused.status_code == 422 and refused.get_json()["code"] == "invalid_file"


def test_the_cli_pins_invites_and_imports_turnover(shop, publish, tmp_path):
    import json
    publish(tier_policy())
    member = enrol(shop)
    cli = shop.app.test_cli_runner()
    refused = cli.invoke(args=["tiers", "pin", member, "gold"])
    assert refused.exit_code != 0 and "needs an until date" in refused.output
    assert cli.invoke(args=["tiers", "pin", "ext:nobody", "vip"]).exit_code != 0
    pinned = cli.invoke(args=["tiers", "pin", member, "vip", "--note", "board"])
    assert pinned.exit_code == 0, pinned.output
    assert json.loads(pinned.output)["tier"] == "vip"
    path = tmp_path / "turnover.csv"
    month = (clock.now() - timedelta(days=40)).strftime("%Y-%m")
    path.write_text(f"member,period,amount\next:u-1,{month},1500.00\nnobody,{month},1\n", encoding="utf-8")
    imported = cli.invoke(args=["tiers", "turnover", str(path)])
    assert imported.exit_code == 0, imported.output
    assert {k: json.loads(imported.output)[k] for k in ("applied", "quarantined")} == {"applied": 1, "quarantined": 1}
    assert cli.invoke(args=["tiers", "pin", member, ""]).exit_code == 0
    recalculate(shop)
    assert tier_of(shop, member)["tier"] == "gold"  # the imported 1,500 PLN
    multipart = shop("POST", "/api/v1/tiers/turnover", key="admin",
                     data={"file": (path.open("rb"), "again.csv")}, content_type="multipart/form-data")
    assert multipart.status_code == 200 and multipart.get_json()["already_imported"] is True
