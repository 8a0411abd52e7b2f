"""Events, birthdays and referrals (issue 12) through the HTTP API and the nightly step."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

import rules
from engine import clock
from tests.conftest import ACCRUAL_BASIC, auth

REVIEW_THREE_A_MONTH = {"policy": "event", "rules": [
    {"id": "registration", "conditions": {"all": [
        {"name": "event_type", "operator": "equal_to", "value": "registration"}]},
     "actions": [{"name": "award", "params": {"points": 150}}]},
    {"id": "review-3-a-month", "conditions": {"all": [
        {"name": "event_type", "operator": "equal_to", "value": "review"},
        {"name": "events_this_month", "operator": "less_than", "value": 3}]},
     "actions": [{"name": "award", "params": {"points": 20}}]},
    {"id": "share-once-a-day", "conditions": {"all": [
        {"name": "event_type", "operator": "equal_to", "value": "social_share"},
        {"name": "events_today", "operator": "equal_to", "value": 0}]},
     "actions": [{"name": "award", "params": {"points": 5}}]},
    {"id": "quiz-once-ever", "conditions": {"all": [
        {"name": "event_type", "operator": "equal_to", "value": "custom:quiz"},
        {"name": "events_total", "operator": "equal_to", "value": 0},
        {"name": "event_attributes", "operator": "contains", "value": "score=10"}]},
     "actions": [{"name": "award", "params": {"points": 30}}]},
]}

REFERRAL_CAPPED = {"policy": "referral", "rules": [
    {"id": "referee", "conditions": {"all": [
        {"name": "event_type", "operator": "equal_to", "value": "referral"},
        {"name": "event_amount", "operator": "greater_than_or_equal_to", "value": 50}]},
     "actions": [{"name": "award_referee", "params": {"points": 50}}]},
    {"id": "referrer-one-a-month", "conditions": {"all": [
        {"name": "event_type", "operator": "equal_to", "value": "referral"},
        {"name": "event_amount", "operator": "greater_than_or_equal_to", "value": 50},
        {"name": "referrals_this_month", "operator": "less_than", "value": 1}]},
     "actions": [{"name": "award_referrer", "params": {"points": 100}}]},
]}


@pytest.fixture
def shop(client, keys, publish):
    publish(ACCRUAL_BASIC)

    def call(method, url, key="shop", **kwargs):
        headers = auth(keys[key], **kwargs.pop("headers", {}))
        return client.open(url, method=method, headers=headers, **kwargs)
    return call


def enrol(shop, ext_id, **data):
    body = {"name": ext_id.title(), "ext_id": ext_id, **data}
    response = shop("POST", "/api/v1/members", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def event(shop, event_id, member, type_, **attributes):
    return shop("POST", "/api/v1/events", json={"event_id": event_id, "member": member, "type": type_,
                                               "attributes": attributes})


def balance(shop, member):
    return shop("GET", f"/api/v1/members/{member}/balance").get_json()


def order(shop, order_id, member, total="100.00", status="fulfilled"):
    placed = (clock.now() - timedelta(minutes=5)).replace(microsecond=0).isoformat()
    return shop("POST", "/api/v1/orders", json={
        "order_id": order_id, "member": member, "placed_at": placed, "currency": "PLN", "status": status,
        "lines": [{"line_no": 1, "sku": "X", "quantity": 1, "unit_price": total, "line_total": total,
                   "product_group": "100"}]})


# --- events ---------------------------------------------------------------------------------

def test_event_is_idempotent_on_its_id_and_follows_the_default_policy(shop, publish):
    publish(rules.default_policies()["event"])
    anna = enrol(shop, "anna")["loyalty_id"]
    assert balance(shop, anna)["available"] == "150"  # registration fired at enrolment
    first = event(shop, "rev-1", anna, "review", product="KR-100")
    assert first.status_code == 201, first.get_json()
    body = first.get_json()
    assert body["points"] == "20" and body["entries"][0]["kind"] == "event"
    assert body["balance"]["pending"] == "20"  # the default review bonus waits 7 days
    again = event(shop, "rev-1", anna, "review", product="KR-100")
    assert again.status_code == 201 and again.headers.get("Idempotent-Replayed") == "true"
    assert again.get_json() == body
    conflict = event(shop, "rev-1", anna, "review", product="OTHER")
    assert conflict.status_code == 409
    # A registration sent as an event is the enrolment's own: never paid twice.
    assert event(shop, "reg-again", anna, "registration").get_json()["points"] == "150"
    assert event(shop, "sub-1", anna, "subscription").get_json()["points"] == "10"
    history = shop("GET", f"/api/v1/members/{anna}/history").get_json()["entries"]
    assert sorted(e["amount"] for e in history) == ["10", "150", "20"]


def test_event_types_a_client_may_not_send_are_refused(shop, publish):
    publish(rules.default_policies()["event"])
    anna = enrol(shop, "anna")["loyalty_id"]
    for bad in ("birthday", "referral", "Custom:X", "custom:", "anything"):
        response = event(shop, f"e-{bad}", anna, bad)
        assert response.status_code == 422, bad
        assert response.get_json()["code"] == "unknown_event_type"
    nested = shop("POST", "/api/v1/events", json={"event_id": "n", "member": anna, "type": "review",
                                                 "attributes": {"deep": {"x": 1}}})
    assert nested.status_code == 422
    assert event(shop, "e-1", "ext:nobody", "review").status_code == 404
    assert balance(shop, anna)["available"] == "150"


def test_limits_per_period_are_written_in_the_event_policy(shop, publish):
    publish(REVIEW_THREE_A_MONTH)
    anna = enrol(shop, "anna")["loyalty_id"]
    piotr = enrol(shop, "piotr")["loyalty_id"]
    points = [event(shop, f"rev-{i}", anna, "review").get_json()["points"] for i in range(5)]
    assert points == ["20", "20", "20", "0", "0"]
    # Per member: another member's reviews do not count against Anna's.
    assert event(shop, "p-rev-1", piotr, "review").get_json()["points"] == "20"
    assert [event(shop, f"share-{i}", anna, "social_share").get_json()["points"]
            for i in range(2)] == ["5", "0"]
    # Custom types, attributes through event_attributes, once ever.
    assert event(shop, "quiz-1", anna, "custom:quiz", score=9).get_json()["points"] == "0"
    assert event(shop, "quiz-2", anna, "custom:quiz", score=10).get_json()["points"] == "30"
    assert event(shop, "quiz-3", anna, "custom:quiz", score=10).get_json()["points"] == "0"
    # Next month (and next day) the counters start again.
    with clock.travel(timedelta(days=32)):
        assert event(shop, "rev-next", anna, "review").get_json()["points"] == "20"
        assert event(shop, "share-next", anna, "social_share").get_json()["points"] == "5"
        assert event(shop, "quiz-next", anna, "custom:quiz", score=10).get_json()["points"] == "0"
        assert balance(shop, anna)["available"] == str(150 + 3 * 20 + 5 + 30 + 20 + 5)


# --- birthdays ------------------------------------------------------------------------------

def _run_birthdays_at(app, moment: datetime, force=False):
    runner = app.test_cli_runner()
    with clock.travel(moment - clock.now()):
        result = runner.invoke(args=["birthdays"] + (["--force"] if force else []))
    assert result.exit_code == 0, result.output
    return result.output


def test_birthday_once_a_year_in_the_program_time_zone(app, shop, publish):
    publish(rules.default_policies()["birthday"])
    ewa = enrol(shop, "ewa", birth_date="1990-03-15")["loyalty_id"]
    enrol(shop, "jan", birth_date="1990-03-16")
    enrol(shop, "nobody")  # no birth date: never
    # 23:30 UTC on 14 March is already 15 March in Warsaw.
    out = _run_birthdays_at(app, datetime(2027, 3, 14, 23, 30, tzinfo=UTC))
    assert '"awarded": 1' in out
    assert _run_birthdays_at(app, datetime(2027, 3, 14, 23, 30, tzinfo=UTC)).startswith(
        "birthdays already ran today")
    # Forced again the same year: the key birthday:<member>:<year> holds.
    assert '"awarded": 0' in _run_birthdays_at(app, datetime(2027, 3, 15, 12, tzinfo=UTC), force=True)
    history = shop("GET", f"/api/v1/members/{ewa}/history").get_json()["entries"]
    assert [(e["kind"], e["amount"]) for e in history] == [("birthday", "50")]
    assert '"awarded": 1' in _run_birthdays_at(app, datetime(2028, 3, 15, 9, tzinfo=UTC))


def test_29_february_is_celebrated_on_28_february_in_other_years(app, shop, publish):
    publish(rules.default_policies()["birthday"])
    leap = enrol(shop, "leap", birth_date="2000-02-29")["loyalty_id"]
    feb28 = enrol(shop, "feb28", birth_date="2001-02-28")["loyalty_id"]
    assert '"awarded": 2' in _run_birthdays_at(app, datetime(2027, 2, 28, 10, tzinfo=UTC))
    assert '"awarded": 0' in _run_birthdays_at(app, datetime(2027, 3, 1, 10, tzinfo=UTC))
    # In a leap year the leapling waits for the 29th.
    assert '"awarded": 1' in _run_birthdays_at(app, datetime(2028, 2, 28, 10, tzinfo=UTC))
    assert '"awarded": 1' in _run_birthdays_at(app, datetime(2028, 2, 29, 10, tzinfo=UTC))
    years = {m: [e["created_at"][:10] for e in shop("GET", f"/api/v1/members/{m}/history")
                 .get_json()["entries"] if e["kind"] == "birthday"] for m in (leap, feb28)}
    assert sorted(years[leap]) == ["2027-02-28", "2028-02-29"]
    assert sorted(years[feb28]) == ["2027-02-28", "2028-02-28"]


def test_the_nightly_sequence_runs_birthdays_after_tiers(app, shop, publish):
    from server.jobs import run_daily
    publish(rules.default_policies()["birthday"])
    today = clock.now().astimezone(ZoneInfo("Europe/Warsaw")).date()  # the program's day
    enrol(shop, "ewa", birth_date=today.replace(year=1992).isoformat())
    with app.app_context():
        report = run_daily(at=clock.now().isoformat())
    assert list(report)[:3] == ["mature", "tiers", "birthdays"]
    assert report["birthdays"]["members"] == 1


# --- referrals ------------------------------------------------------------------------------

def test_self_referral_is_refused_at_enrolment(shop, publish):
    publish(rules.default_policies()["referral"])
    assert shop("POST", "/api/v1/companies", json={"name": "Instal-Pol", "erp_code": "K1"}).status_code == 201
    anna = enrol(shop, "anna", email="anna@example.com", phone="602345678", company_erp_code="K1")
    code = anna["referral_code"]
    for extra, shared in (({"email": "ANNA@example.com"}, "e-mail"), ({"company_erp_code": "K1"}, "company")):
        response = shop("POST", "/api/v1/members", json={"name": "X", "ext_id": "x", "referral_code": code,
                                                         **extra})
        assert response.status_code == 422, response.get_json()
        body = response.get_json()
        assert body["code"] == "self_referral" and shared in body["message"]
        assert "referral_code" in body["details"]["fields"]
    # Nothing of the refused enrolment stayed behind.
    assert shop("GET", "/api/v1/members/ext:x").status_code == 404
    ok = enrol(shop, "piotr", email="piotr@example.com", referral_code=code)
    assert ok["loyalty_id"] != anna["loyalty_id"]


def test_referral_waits_for_the_holding_period_and_is_reversed_by_a_cancellation(
        shop, publish, settings_doc):
    publish({**settings_doc, "settings": {**settings_doc["settings"], "holding_days": 14}}, "settings")
    publish(rules.default_policies()["referral"])
    anna = enrol(shop, "anna")
    piotr = enrol(shop, "piotr", referral_code=anna["referral_code"])["loyalty_id"]
    assert order(shop, "O-1", piotr).status_code == 201
    assert balance(shop, anna["loyalty_id"])["pending"] == "100"
    assert balance(shop, piotr)["pending"] == "60"  # 10 for the order, 50 referral
    cancelled = shop("POST", "/api/v1/orders/O-1/status", json={"status": "cancelled"})
    assert cancelled.status_code == 200
    for member in (anna["loyalty_id"], piotr):
        b = balance(shop, member)
        assert (b["available"], b["pending"]) == ("0", "0"), (member, b)
    kinds = [e["kind"] for e in shop("GET", f"/api/v1/members/{anna['loyalty_id']}/history")
             .get_json()["entries"]]
    assert kinds == ["reversal", "referral"]
    # The referral is spent: a later purchase does not fire it again.
    order(shop, "O-2", piotr)
    assert balance(shop, anna["loyalty_id"])["pending"] == "0"


def test_a_cancellation_after_the_holding_period_keeps_the_referral(shop, publish, settings_doc):
    publish({**settings_doc, "settings": {**settings_doc["settings"], "holding_days": 14}}, "settings")
    publish(rules.default_policies()["referral"])
    anna = enrol(shop, "anna")
    piotr = enrol(shop, "piotr", referral_code=anna["referral_code"])["loyalty_id"]
    order(shop, "O-1", piotr)
    with clock.travel(timedelta(days=15)):
        assert shop("POST", "/api/v1/orders/O-1/status", json={"status": "cancelled"}).status_code == 200
        assert balance(shop, anna["loyalty_id"])["available"] == "100"


def test_referrer_cap_per_month_and_a_qualifying_purchase(shop, publish):
    publish(REFERRAL_CAPPED)
    anna = enrol(shop, "anna")
    code = anna["referral_code"]
    piotr = enrol(shop, "piotr", referral_code=code)["loyalty_id"]
    ola = enrol(shop, "ola", referral_code=code)["loyalty_id"]
    order(shop, "P-small", piotr, total="20.00")  # below 50: not a qualifying purchase
    assert balance(shop, anna["loyalty_id"])["available"] == "0"
    order(shop, "P-1", piotr)
    order(shop, "O-1", ola)
    assert balance(shop, anna["loyalty_id"])["available"] == "100"  # one a month
    assert balance(shop, piotr)["available"] == str(2 + 10 + 50)
    assert balance(shop, ola)["available"] == str(10 + 50)
    with clock.travel(timedelta(days=40)):
        kuba = enrol(shop, "kuba", referral_code=code)["loyalty_id"]
        order(shop, "K-1", kuba)
        assert balance(shop, anna["loyalty_id"])["available"] == "200"
