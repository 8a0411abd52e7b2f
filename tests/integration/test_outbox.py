"""The outbox end to end with real parts: an HTTP receiver on loopback (SMS gateway, webhooks), SMTP.

Orders go in through the shop API; the messages they cause are written in
the order's transaction and delivered inline after its COMMIT (no Redis),
then listed by the API with their attempts.
"""
from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from engine import clock, members, outbox
from engine.documents import orders
from engine.domain import LineDoc, PurchaseDoc
from engine.models import Lot, MessageTemplate, OutboxMessage
from exporters.channels import webhooks
from tests.conftest import ACCRUAL_BASIC, auth
from tests.support.receivers import HttpReceiver, smsapi_answer, start_smtp

PLACED = (clock.now() - timedelta(hours=1)).replace(microsecond=0).isoformat()


@pytest.fixture
def receiver():
    server = HttpReceiver().start()
    yield server
    server.stop()


@pytest.fixture
def shop(target_app, client, keys, publish, receiver, monkeypatch):
    publish(ACCRUAL_BASIC)
    monkeypatch.setitem(target_app.config, "SMS", {"gateway": "smsapi", "token": "t0k", "url": receiver.url})
    monkeypatch.setitem(target_app.config, "SMS_QUIET_HOURS", "")
    monkeypatch.setitem(target_app.config, "WEBHOOK_ALLOW_PRIVATE", ["127.0.0.1"])

    def call(method, url, key="shop", **kwargs):
        return client.open(url, method=method, headers=auth(keys[key]), **kwargs)
    return call


def enrol(shop, ext_id="u-1", **data):
    body = {"name": "Jan Kowalski", "ext_id": ext_id, "phone": "601 234 567", "consent_sms": True, **data}
    response = shop("POST", "/api/v1/members", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def buy(shop, order_id, member, total):
    response = shop("POST", "/api/v1/orders", json={
        "order_id": order_id, "member": member["loyalty_id"], "placed_at": PLACED, "currency": "PLN",
        "status": "fulfilled", "lines": [{"line_no": 1, "sku": "KR-100", "quantity": 1, "unit_price": total,
                                          "line_total": total, "product_group": "200"}]})
    assert response.status_code in (200, 201), response.get_json()
    return response.get_json()


def test_an_accrual_sends_one_sms_with_the_amount_and_the_new_balance(shop, receiver):
    receiver.answer = smsapi_answer
    member = enrol(shop)
    buy(shop, "O-1", member, "100.00")
    buy(shop, "O-2", member, "50.00")
    texts = [r.form["message"] for r in receiver.requests]
    assert texts == ["You earned 10 points. Your balance: 10 points.",
                     "You earned 5 points. Your balance: 15 points."]
    first = receiver.requests[0]
    assert first.path == "/sms.do" and first.headers["authorization"] == "Bearer t0k"
    assert first.form["to"] == "48601234567" and first.form["check_idx"] == "1"
    listed = shop("GET", "/api/v1/outbox/messages?channel=sms", key="admin").get_json()["messages"]
    assert [m["state"] for m in listed] == ["sent", "sent"]
    assert [a["outcome"] for a in listed[0]["attempts"]] == ["sent"]
    assert {m["delivery_key"] for m in listed} == {r.form["idx"] for r in receiver.requests}


def test_consent_withdrawn_sends_nothing(shop, receiver, target_app):
    member = enrol(shop)
    from server.extensions import db
    with target_app.app_context():
        session = db.session()
        members.update(session, members.get(session, member["loyalty_id"]), {"consent_sms": False})
        session.commit()
    buy(shop, "O-1", member, "100.00")
    assert receiver.requests == []
    with target_app.app_context():
        assert db.session().execute(select(func.count(OutboxMessage.id))).scalar_one() == 0


def test_a_webhook_answered_500_then_200_arrives_twice_with_one_id_and_valid_signatures(shop, receiver, target_app):
    created = shop("POST", "/api/v1/webhooks", key="admin", json={
        "name": "crm", "url": receiver.url + "/hooks", "event_types": ["points.credited"]})
    assert created.status_code == 201, created.get_json()
    secret = created.get_json()["secret"]
    receiver.statuses = [500]
    member = enrol(shop, consent_sms=False)
    buy(shop, "O-1", member, "100.00")
    assert len(receiver.requests) == 1
    from server import jobs
    with clock.travel(timedelta(seconds=6)), target_app.app_context():
        assert jobs.deliver_due() == {"queued": 1}
    first, second = receiver.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    for request in (first, second):
        assert webhooks.verify(secret, request.headers, request.body)
        assert not webhooks.verify(secret, request.headers, request.body + b" ")
    assert second.json["type"] == "points.credited" and second.json["data"]["amount"] == "10"
    listed = shop("GET", "/api/v1/outbox/messages?channel=webhook", key="admin").get_json()["messages"]
    assert listed[0]["state"] == "sent"
    assert [(a["outcome"], a["status_code"]) for a in listed[0]["attempts"]] == [("failed", 500), ("sent", 200)]


def test_410_disables_the_subscription_and_loopback_needs_the_operators_leave(shop, receiver, target_app,
                                                                           monkeypatch):
    body = {"name": "crm", "url": receiver.url, "event_types": ["points.credited"]}
    monkeypatch.setitem(target_app.config, "WEBHOOK_ALLOW_PRIVATE", [])
    refused = shop("POST", "/api/v1/webhooks", key="admin", json=body)
    assert refused.status_code == 422 and "127.0.0.1" in refused.get_json()["message"]
    monkeypatch.setitem(target_app.config, "WEBHOOK_ALLOW_PRIVATE", ["127.0.0.0/8"])
    sub = shop("POST", "/api/v1/webhooks", key="admin", json=body).get_json()
    receiver.statuses = [410]
    buy(shop, "O-1", enrol(shop, consent_sms=False), "100.00")
    shown = shop("GET", f"/api/v1/webhooks/{sub['id']}", key="admin").get_json()
    assert shown["active"] is False and "410" in shown["disabled_reason"]
    listed = shop("GET", "/api/v1/outbox/messages", key="admin").get_json()["messages"]
    assert [m["state"] for m in listed] == ["gave_up"]


def test_a_template_with_an_unknown_variable_is_refused_on_save(shop, receiver, target_app):
    receiver.answer = smsapi_answer
    url = "/api/v1/outbox/templates/points.credited/sms/en"
    bad = shop("PUT", url, key="admin", json={"body": "Hi {{ member_name }}, +{{ amount }} ({{ balanse }})"})
    assert bad.status_code == 422
    assert "balanse" in bad.get_json()["message"] and "balance" in bad.get_json()["message"]
    unsafe = shop("PUT", url, key="admin", json={"body": "{{ amount.__class__ }} {% for %}"})
    assert unsafe.status_code == 422
    from server.extensions import db
    with target_app.app_context():
        assert db.session().execute(select(func.count(MessageTemplate.id))).scalar_one() == 0
    good = shop("PUT", url, key="admin", json={"body": "+{{ amount }} pkt, razem {{ balance }}"})
    assert good.status_code == 201 and good.get_json()["version"] == 1
    buy(shop, "O-1", enrol(shop), "100.00")
    assert [r.form["message"] for r in receiver.requests] == ["+10 pkt, razem 10"]


def _points_expiring_soon(app, email: str):
    """A member whose points from an order 350 days ago expire (12 months) in about two weeks."""
    from server.extensions import db
    with app.app_context():
        session = db.session()
        member = members.create(session, {"name": "Anna", "email": email, "consent_email": True})
        placed = clock.now() - timedelta(days=350)
        orders.record_purchase(session, PurchaseDoc(
            source="shop", external_id="OLD", document_type="order", member_ref=member.loyalty_id,
            placed_at=placed, currency="PLN", status="fulfilled",
            lines=(LineDoc(1, "A", Decimal(1), Decimal(100), Decimal(100)),)), actor="test", now=placed)
        session.commit()


def test_the_nightly_warning_run_twice_warns_once(shop, target_app, monkeypatch):
    smtp = start_smtp()
    try:
        monkeypatch.setitem(target_app.config, "SMTP", {"host": "127.0.0.1", "port": smtp.port,
                                                        "security": "none", "sender": "club@example.com"})
        _points_expiring_soon(target_app, "anna@example.com")
        from server import jobs
        from server.extensions import db
        with target_app.app_context():
            first = jobs.run_daily(force=True)["warn"]
            second = jobs.run_daily(force=True)["warn"]
            lot = db.session().execute(select(Lot)).scalar_one()
            assert lot.warned_at is not None
        assert first["lots_warned"] == 1 and first["messages"] == 1
        assert second["lots_warned"] == 0 and second["messages"] == 0
        deadline = time.monotonic() + 5
        while not smtp.messages and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(smtp.messages) == 1
        mail = smtp.messages[0]
        assert mail.rcpt_tos == ["anna@example.com"]
        text = mail.content.decode()
        assert "10 of your points expire on" in text and "Message-ID: <msg_" in text
    finally:
        smtp.stop()


def test_the_warning_waits_for_the_policys_warn_days_before(shop, target_app, publish, receiver):
    publish({"policy": "expiry", "rules": [{"id": "year", "actions": [
        {"name": "expire_after_months", "params": {"months": 12}},
        {"name": "warn_days_before", "params": {"days": 7}}]}]})
    _points_expiring_soon(target_app, "anna@example.com")  # in about 15 days: not yet
    from server.extensions import db
    with target_app.app_context():
        session = db.session()
        assert outbox.warn_expiring(session, clock.now())["lots_warned"] == 0
        assert outbox.warn_expiring(session, clock.now() + timedelta(days=9))["lots_warned"] == 1
        session.rollback()


def test_quiet_hours_hold_an_sms_until_they_end(shop, receiver, target_app, monkeypatch):
    from engine import policies
    from server import jobs
    from server.extensions import db
    receiver.answer = smsapi_answer
    with target_app.app_context():
        local = clock.now().astimezone(policies.settings(db.session()).tz)
    window = f"{(local - timedelta(hours=1)):%H:%M}-{(local + timedelta(hours=1)):%H:%M}"
    monkeypatch.setitem(target_app.config, "SMS_QUIET_HOURS", window)
    buy(shop, "O-1", enrol(shop), "100.00")
    assert receiver.requests == []
    [held] = shop("GET", "/api/v1/outbox/messages", key="admin").get_json()["messages"]
    assert held["state"] == "queued" and held["attempts"] == []
    with target_app.app_context():
        assert jobs.deliver_due() == {"queued": 0}
        with clock.travel(timedelta(hours=1, minutes=1)):
            assert jobs.deliver_due() == {"queued": 1}
    assert len(receiver.requests) == 1


def test_a_rotated_secret_signs_beside_the_old_one_and_delete_stops_deliveries(shop, receiver):
    sub = shop("POST", "/api/v1/webhooks", key="admin", json={
        "name": "crm", "url": receiver.url, "event_types": ["*"]}).get_json()
    rotated = shop("POST", f"/api/v1/webhooks/{sub['id']}/rotate", key="admin").get_json()
    assert rotated["secret"] != sub["secret"] and rotated["rotating_secrets"] == 1
    assert "secret" not in shop("GET", "/api/v1/webhooks", key="admin").get_json()["webhooks"][0]
    bad = shop("PATCH", f"/api/v1/webhooks/{sub['id']}", key="admin", json={"event_types": ["points.stolen"]})
    assert bad.status_code == 422
    member = enrol(shop, consent_sms=False)
    buy(shop, "O-1", member, "100.00")
    [request] = receiver.requests
    assert len(request.headers["webhook-signature"].split()) == 2
    assert webhooks.verify(sub["secret"], request.headers, request.body)
    assert webhooks.verify(rotated["secret"], request.headers, request.body)
    assert shop("DELETE", f"/api/v1/webhooks/{sub['id']}", key="admin").status_code == 204
    buy(shop, "O-2", member, "100.00")
    assert len(receiver.requests) == 1
    shop_key_listing = shop("GET", "/api/v1/outbox/messages")
    assert shop_key_listing.status_code == 403  # a shop key may not read the outbox
