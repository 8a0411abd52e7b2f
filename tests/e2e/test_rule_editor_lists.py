"""The visual rule editor with the list words: a tag condition typed as "eco, new", and a bundle price
whose rounding is chosen from its options, saved as drafts the server accepts."""
from __future__ import annotations

from werkzeug.security import generate_password_hash

from engine import policies
from engine.models import User
from server.extensions import db
from tests.conftest import ACCRUAL_BASIC
from tests.e2e.test_admin_ui import page  # noqa: F401 - the browser fixture

REDEMPTION = {"policy": "redemption", "rules": [
    {"id": "half", "scope": "document", "actions": [{"name": "max_percent_of_order", "params": {"percent": 50}}]}]}


def new_rule(page, live_server, policy: str, position: int, rule_id: str):  # noqa: F811
    """Open the policy's editor, add a rule and name it; the rule's fieldset."""
    page.goto(f"{live_server}/admin/rules/{policy}")
    editor = page.locator("#rule-editor")
    editor.get_by_role("button", name="Add a rule").click()
    rule = editor.locator("fieldset.re-rule").nth(position)
    rule.get_by_label("Id").fill(rule_id)
    return rule


def validate_and_save(page, policy: str) -> None:  # noqa: F811
    page.get_by_role("button", name="Validate").click()
    page.get_by_text("The document is valid.").wait_for()
    page.get_by_role("button", name="Save as a draft").click()
    page.get_by_text(f"{policy} v2 saved as a draft.").wait_for()


def test_tags_and_a_bundle_price_are_built_without_typing_json(pg_app, live_server, page, publish):  # noqa: F811
    publish(ACCRUAL_BASIC)
    publish(REDEMPTION)
    with pg_app.app_context():
        session = db.session()
        session.add(User(email="m@example.com", password_hash=generate_password_hash("pw-12345"), role="marketer"))
        session.commit()
    page.goto(live_server + "/admin/login")
    page.get_by_label("E-mail").fill("m@example.com")
    page.get_by_label("Password").fill("pw-12345")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(live_server + "/admin/")

    rule = new_rule(page, live_server, "accrual", 2, "eco")
    rule.get_by_role("button", name="Add a condition").click()
    rule.get_by_label("Variable").select_option("line_tags")
    rule.get_by_label("Operator").select_option("shares_at_least_one_element_with")
    rule.get_by_label("Value").fill("eco, new")
    rule.get_by_label("Action").select_option("earn_fixed")
    rule.get_by_label("Points").fill("5")
    validate_and_save(page, "accrual")

    rule = new_rule(page, live_server, "redemption", 1, "brush")
    rule.get_by_label("Scope").select_option("line")
    rule.get_by_label("Action").select_option("free_for_points")
    rule.get_by_label("Points").fill("3")
    rule.get_by_label("Units").fill("0")
    rule.get_by_label("Rounding").select_option("up")
    page.get_by_role("button", name="Validate").click()
    message = rule.locator('[data-path="rules[1].actions[0].params.units"] .re-message')
    message.wait_for()
    assert "between 1 and 10000" in message.inner_text()
    rule.get_by_label("Units").fill("2")
    validate_and_save(page, "redemption")

    with pg_app.app_context():
        session = db.session()
        tags = policies.latest(session, "accrual").document["rules"][2]["conditions"]["all"][0]
        assert (tags["name"], tags["value"]) == ("line_tags", ["eco", "new"])
        bundle = policies.latest(session, "redemption").document["rules"][1]
        assert bundle["scope"] == "line" and bundle["actions"][0]["name"] == "free_for_points"
        assert {k: str(v) for k, v in bundle["actions"][0]["params"].items()} == {
            "points": "3", "units": "2", "rounding": "up"}
