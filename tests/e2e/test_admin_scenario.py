"""The admin UI's "done when", in one browser run against gunicorn on PostgreSQL: a marketer builds an
accrual rule in the visual editor, meets the server's message at the wrong field, fixes it, simulates
and sees the cost; an admin publishes; the next order posted through the shop API (real HTTP) earns by
the new rule. A viewer cannot edit, a form without its CSRF token is refused, the Polish UI is Polish."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import requests
from werkzeug.security import generate_password_hash

from engine import clock, ledger, members
from engine.documents import orders
from engine.domain import LineDoc, PurchaseDoc
from engine.models import User
from server.auth import create_key
from server.extensions import db
from tests.conftest import ACCRUAL_BASIC
from tests.e2e.test_admin_ui import login, page  # noqa: F401 - page: the browser fixture

PASSWORD = "pw-12345678"


def _line(no: int, group: str, total: str) -> LineDoc:
    return LineDoc(no, f"SKU-{group}", Decimal(1), Decimal(total), Decimal(total), product_group=group)


def _setup(pg_app) -> tuple[str, str]:
    with pg_app.app_context():
        session = db.session()
        for role in ("admin", "marketer", "viewer"):
            session.add(User(email=f"{role}@example.com", password_hash=generate_password_hash(PASSWORD),
                             role=role))
        member = members.create(session, {"name": "Anna Wiśniewska", "phone": "+48 603 000 111"})
        session.flush()
        now = clock.now()
        for n in range(3):  # real documents of the last days, for the simulation
            orders.record_purchase(session, PurchaseDoc(
                source="shop", external_id=f"PAST-{n}", document_type="order", member_ref=member.loyalty_id,
                placed_at=now - timedelta(days=n + 1), currency="PLN", status="fulfilled",
                lines=(_line(1, "110", "50.00"), _line(2, "120", "200.00"))), actor="test", now=now)
        _row, shop_key = create_key(session, "e2e-shop", "shop")
        session.commit()
        return member.loyalty_id, shop_key


def _login(tab, base: str, role: str) -> None:
    login(tab, base, f"{role}@example.com", PASSWORD)


def _logout(tab) -> None:
    tab.get_by_role("button", name="Log out").click()
    tab.get_by_label("Password").wait_for()


def test_marketer_drafts_admin_publishes_and_the_next_order_earns_by_the_new_rule(
        pg_app, live_server, page, publish):  # noqa: F811
    publish(ACCRUAL_BASIC)
    ref, shop_key = _setup(pg_app)

    _login(page, live_server, "marketer")
    page.get_by_role("link", name="Rules").click()
    page.get_by_role("link", name="accrual").click()
    editor = page.locator("#rule-editor")
    editor.get_by_role("button", name="Add a rule").click()
    rule = editor.locator("fieldset.re-rule").nth(2)
    rule.get_by_label("Id").fill("group-120-x3")
    rule.get_by_label("Priority").fill("4")
    rule.get_by_role("button", name="Add a condition").click()
    rule.get_by_label("Variable").select_option("product_group")
    rule.get_by_label("Operator").select_option("equal_to")
    rule.get_by_label("Value").fill("120")
    rule.get_by_label("Action").select_option("multiply")
    rule.get_by_label("Factor").fill("-3")  # a wrong value: the server says why, at that field
    page.get_by_role("button", name="Validate").click()
    message = rule.locator('[data-path="rules[2].actions[0].params.factor"] .re-message')
    message.wait_for()
    assert "factor" in message.inner_text()
    assert editor.locator(".re-message").count() == 1  # only at the field concerned

    rule.get_by_label("Factor").fill("3")
    page.get_by_role("button", name="Validate").click()
    page.get_by_text("The document is valid.").wait_for()
    assert editor.locator(".re-message").count() == 0

    page.get_by_role("button", name="Simulate").last.click()
    totals = page.locator("#simulation-totals")
    totals.wait_for()
    # Three orders: 50 PLN in group 110 (×2 → 10) and 200 PLN in group 120 (20, ×3 by the draft → 60).
    assert totals.locator("tr", has_text="Points").inner_text().split()[-2:] == ["210", "90"]
    assert "group-120-x3" in page.locator("#simulation .simulation-breakdown").first.inner_text()
    assert page.evaluate("() => !!document.querySelector('#simulation canvas.sim-chart').chart")
    page.get_by_role("button", name="Save as a draft").click()
    page.get_by_text("accrual v2 saved as a draft.").wait_for()
    assert page.get_by_role("button", name="Publish").count() == 0  # a marketer drafts; an admin publishes
    page.get_by_text("Draft v2 waits for an admin to publish it.").wait_for()
    _logout(page)

    _login(page, live_server, "admin")
    page.goto(live_server + "/admin/rules/accrual")
    page.get_by_label("Comment").last.fill("group 120 triple points")
    page.get_by_role("button", name="Publish").click()
    page.get_by_text("accrual v2 is published.").wait_for()

    response = requests.post(live_server + "/api/v1/orders", headers={"Authorization": f"Bearer {shop_key}"}, json={
        "order_id": "NEXT-1", "member": ref, "placed_at": clock.now().isoformat(), "currency": "PLN",
        "status": "fulfilled", "lines": [{"line_no": 1, "sku": "P", "quantity": 1, "unit_price": 100,
                                          "product_group": "120"}]}, timeout=30)
    assert response.status_code == 201, response.text
    assert response.json()["earned"] == "30"  # 10 points, ×3 by the rule the marketer built

    # A form posted without its CSRF token is refused, and changes nothing.
    refused = page.request.post(live_server + f"/admin/members/{ref}/adjust",
                                form={"points": "1000", "reason": "no token", "token": "t-1"})
    assert refused.status == 400
    with pg_app.app_context():
        session = db.session()
        assert ledger.balance(session, members.get(session, ref).account, clock.now()).total == Decimal(120)
    _logout(page)

    # A viewer sees the rules but cannot edit them.
    _login(page, live_server, "viewer")
    page.goto(live_server + "/admin/rules/accrual")
    assert page.locator("#document").get_attribute("readonly") is not None
    assert page.get_by_role("button", name="Save as a draft").count() == 0
    assert page.locator("#rule-editor select").first.is_disabled()
    csrf = page.locator("input[name=csrf_token]").first.get_attribute("value")
    forbidden = page.request.post(live_server + "/admin/rules/accrual",
                                  form={"csrf_token": csrf, "document": '{"policy": "accrual", "rules": []}'})
    assert forbidden.status == 403
    page.goto(live_server + f"/admin/members/{ref}")
    assert page.get_by_role("button", name="Post adjustment").count() == 0

    # The Polish UI: the reader's own choice of language, kept with the login.
    page.get_by_label("Language").select_option("pl")
    page.get_by_role("link", name="Pulpit").wait_for()
    assert page.locator("html").get_attribute("lang") == "pl"
    page.get_by_role("navigation").get_by_role("link", name="Uczestnicy").click()
    page.get_by_role("button", name="Szukaj").wait_for()
    assert page.get_by_label("Szukaj").count() == 1
