"""The messages pages: templates with versions and a readable refusal, preview, a test to me over real SMTP,
the outbox with states, webhook subscriptions with deliveries and a rotated secret."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from engine import clock, outbox
from engine.models import MessageTemplate, OutboxMessage
from tests.support.receivers import start_smtp

EDIT = "/admin/messages/templates/points.credited/{channel}/en"


def _count(app, model) -> int:
    from server.extensions import db
    with app.app_context():
        return db.session().execute(select(func.count(model.id))).scalar_one()


def test_templates_list_and_a_template_with_an_unknown_variable_refused_in_plain_words(app, as_role):
    browser = as_role("marketer")
    listing = browser.get("/admin/messages")
    assert listing.status_code == 200 and "digest.monthly" in listing.text and "built-in" in listing.text
    page = browser.get(EDIT.format(channel="sms"))
    assert page.status_code == 200 and "{{ balance }}" in page.text  # the variables it may use
    refused = browser.post(EDIT.format(channel="sms"), {"body": "+{{ amount }}, saldo {{ balanse }}"})
    assert refused.status_code == 422
    assert "balanse" in refused.text and "you can use: member_name, loyalty_id, amount" in refused.text
    assert _count(app, MessageTemplate) == 0
    for text in ("+{{ amount }} pkt", "+{{ amount }} pkt, saldo {{ balance }}"):
        saved = browser.post(EDIT.format(channel="sms"), {"body": text})
        assert saved.status_code == 302
    page = browser.get(EDIT.format(channel="sms"))
    assert "Saved as version 2" in page.text and page.text.count("<tr><td>") >= 2
    assert "version 2" in browser.get("/admin/messages").text


def test_the_refusal_in_polish_and_a_viewer_may_not_save(app, as_role, users):
    from engine.models import User
    from server.extensions import db
    with app.app_context():
        session = db.session()
        session.execute(select(User).where(User.email == users["marketer"])).scalar_one().locale = "pl"
        session.commit()
    browser = as_role("marketer")
    browser.get(EDIT.format(channel="sms"))
    refused = browser.post(EDIT.format(channel="sms"), {"body": "{{ balanse }}"})
    assert refused.status_code == 422 and "Nie zapisano" in refused.text and "balanse" in refused.text
    viewer = as_role("viewer")
    viewer.get(EDIT.format(channel="sms"))
    assert viewer.post(EDIT.format(channel="sms"), {"body": "{{ amount }}"}).status_code == 403


def test_preview_renders_the_draft_with_sample_values(as_role):
    browser = as_role("marketer")
    browser.get(EDIT.format(channel="email"))
    shown = browser.post(EDIT.format(channel="email") + "/preview",
                         {"subject": "Hi {{ member_name }}", "body": "+{{ amount }} → {{ balance }}"})
    assert shown.status_code == 200 and "Hi Anna Nowak" in shown.text and "+25 → 120" in shown.text
    broken = browser.post(EDIT.format(channel="email") + "/preview", {"body": "{% for %}"})
    assert broken.status_code == 422 and "line 1" in broken.text


def test_send_a_test_to_me_reaches_the_real_smtp_server(app, as_role, monkeypatch):
    smtp = start_smtp()
    try:
        monkeypatch.setitem(app.config, "SMTP", {"host": "127.0.0.1", "port": smtp.port, "security": "none",
                                                 "sender": "club@example.com"})
        browser = as_role("marketer")
        browser.get(EDIT.format(channel="email"))
        sent = browser.post(EDIT.format(channel="email") + "/test", {})
        assert sent.status_code == 302
        deadline = time.monotonic() + 5
        while not smtp.messages and time.monotonic() < deadline:
            time.sleep(0.05)
        [mail] = smtp.messages
        assert mail.rcpt_tos == ["marketer@example.com"]
        assert "You earned 25 points" in mail.content.decode()
        page = browser.get("/admin/messages/outbox?state=sent")
        assert "marketer@example.com" in page.text and "badge sent" in page.text
        assert "No messages." in browser.get("/admin/messages/outbox?state=failed").text
        # An SMS test needs a number to go to; without one nothing is queued.
        browser.get(EDIT.format(channel="sms"))
        assert browser.post(EDIT.format(channel="sms") + "/test", {"phone": ""}).status_code == 302
        assert _count(app, OutboxMessage) == 1
    finally:
        smtp.stop()


@pytest.fixture
def subscription(app):
    from server.extensions import db
    with app.app_context():
        session = db.session()
        row = outbox.create_subscription(session, name="crm", url="https://crm.example.com/hook",
                                         event_types=["points.credited"], now=clock.now())
        outbox.enqueue(session, trigger="points.credited", channel="webhook", cause_key="t:1",
                       recipient=row.url, variables={"type": "points.credited"}, now=clock.now(),
                       subscription_id=row.id)
        outbox.pending_ids(session)  # not delivered: the page shows it queued
        session.commit()
        return row.id, row.secret


def test_webhooks_page_lists_deliveries_and_an_admin_rotates_the_secret(app, as_role, subscription):
    subscription_id, old = subscription
    browser = as_role("admin")
    page = browser.get("/admin/messages/webhooks")
    assert page.status_code == 200 and "crm.example.com" in page.text and "badge queued" in page.text
    rotated = browser.post(f"/admin/messages/webhooks/{subscription_id}/rotate")
    assert rotated.status_code == 200 and "whsec_" in rotated.text and old not in rotated.text
    assert "1 earlier secret still signs" in rotated.text
    marketer = as_role("marketer")
    marketer.get("/admin/messages/webhooks")
    assert marketer.post(f"/admin/messages/webhooks/{subscription_id}/rotate").status_code == 403
