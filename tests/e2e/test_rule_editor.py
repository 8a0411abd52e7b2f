"""The visual rule editor in a real browser: build a rule without typing JSON, see the server's
message at the wrong field, fix it, save the draft."""
from __future__ import annotations

from werkzeug.security import generate_password_hash

from engine import policies
from engine.models import ProductGroup, User
from server.extensions import db
from tests.conftest import ACCRUAL_BASIC
from tests.e2e.test_admin_ui import login, page  # noqa: F401 - page: the browser fixture


def test_a_marketer_builds_a_rule_in_the_visual_editor(pg_app, live_server, page, publish):  # noqa: F811
    publish(ACCRUAL_BASIC)
    with pg_app.app_context():
        session = db.session()
        session.add(User(email="m@example.com", password_hash=generate_password_hash("pw-12345"), role="marketer"))
        session.add(ProductGroup(code="120", name="Pipes"))
        session.commit()
    login(page, live_server, "m@example.com", "pw-12345")
    page.goto(live_server + "/admin/rules/accrual")
    editor = page.locator("#rule-editor")
    assert editor.locator("fieldset.re-rule").count() == 2  # the published document, drawn from the vocabulary

    editor.get_by_role("button", name="Add a rule").click()
    rule = editor.locator("fieldset.re-rule").nth(2)
    rule.get_by_label("Id").fill("group-120-x3")
    rule.get_by_role("button", name="Add a condition").click()
    rule.get_by_label("Variable").select_option("product_group")
    rule.get_by_label("Operator").select_option("equal_to")
    value = rule.get_by_label("Value")
    # The catalog's product groups are offered as the value.
    assert value.get_attribute("list") == "re-list-product_group"
    assert page.locator("#re-list-product_group option[value='120']").get_attribute("label") == "120 · Pipes"
    value.fill("120")
    rule.get_by_label("Action").select_option("multiply")
    rule.get_by_label("Factor").fill("lots")
    page.get_by_role("button", name="Validate").click()
    message = rule.locator('[data-path="rules[2].actions[0].params.factor"] .re-message')
    message.wait_for()
    assert "factor" in message.inner_text()

    rule.get_by_label("Factor").fill("3")
    page.get_by_role("button", name="Validate").click()
    page.get_by_text("The document is valid.").wait_for()
    assert rule.locator(".re-message").count() == 0
    page.get_by_role("button", name="Save as a draft").click()
    page.get_by_text("accrual v2 saved as a draft.").wait_for()
    with pg_app.app_context():
        draft = policies.latest(db.session(), "accrual")
        added = draft.document["rules"][2]
        assert (draft.status, added["id"]) == ("draft", "group-120-x3")
        assert added["conditions"]["all"][0]["name"] == "product_group"
        assert str(added["conditions"]["all"][0]["value"]) == "120"
        assert [a["name"] for a in added["actions"]] == ["multiply"]
