"""The README's screenshots, taken by this browser run on the demo data, and every page at a phone's width.

Set ``SCREENSHOTS=docs/screenshots`` to refresh the committed pictures; without it they go to a
temporary folder (the test still drives every page)."""
from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import func, select

from engine.models import Member, Redemption
from server import demo
from server.extensions import db
from tests.e2e.test_admin_ui import login, page  # noqa: F401 - page: the browser fixture

PAGES = ("/admin/", "/admin/members", "/admin/imports", "/admin/rules", "/admin/rules/accrual",
         "/admin/integrations", "/admin/programs/promo-codes", "/admin/programs/rewards",
         "/admin/programs/reward-orders", "/admin/programs/tiers", "/admin/programs/tiers/silver",
         "/admin/programs/missions")

# The outermost elements reaching past the viewport, for the failure message.
WIDEST = """() => [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > innerWidth + 1
  && !(e.parentElement && e.parentElement.getBoundingClientRect().right > innerWidth + 1))
  .slice(0, 5).map(e => e.tagName + '.' + e.className + '#' + e.id + ' ' + Math.round(e.getBoundingClientRect().right))
  .join(', ')"""


def _login_from_report(report: dict) -> tuple[str, str]:
    line = next(line for line in report["logins"] if line.startswith("Admin login:"))
    email, password = line.split(":", 1)[1].split(" / ")
    return email.strip(), password.strip()


def test_screenshots_of_the_demo_and_every_page_at_a_phone_width(pg_app, live_server, page, tmp_path):  # noqa: F811
    folder = Path(os.environ.get("SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    with pg_app.app_context():
        session = db.session()
        report = demo.seed(session, members_count=80, upload_folder=str(tmp_path / "uploads"))
        # A member with redemptions and a few orders: the richest page.
        ref = session.execute(select(Member.loyalty_id).join(Redemption, Redemption.member_id == Member.id)
                              .group_by(Member.loyalty_id).order_by(func.count().desc(), Member.loyalty_id)
                              .limit(1)).scalar_one()
    email, password = _login_from_report(report)
    login(page, live_server, email, password)
    page.wait_for_function("() => !!document.getElementById('points-chart').chart")
    page.screenshot(path=str(folder / "dashboard.png"), full_page=True)

    page.goto(live_server + "/admin/rules/accrual")
    page.locator("#rule-editor fieldset.re-rule").first.wait_for()
    page.locator("#rule-editor").get_by_label("Factor").nth(1).fill("3")  # a draft that differs from the rules in force
    page.get_by_role("button", name="Simulate").last.click()
    page.locator("#simulation-totals").wait_for()
    page.wait_for_function("() => !!document.querySelector('#simulation canvas.sim-chart').chart")
    page.evaluate("() => window.scrollTo(0, 0)")
    page.screenshot(path=str(folder / "rule-editor.png"))

    page.goto(live_server + f"/admin/members/{ref}")
    assert page.locator("#redemptions tbody tr").count() > 0
    page.screenshot(path=str(folder / "member.png"), full_page=True)

    page.set_viewport_size({"width": 390, "height": 844})
    for path in PAGES + (f"/admin/members/{ref}",):
        page.goto(live_server + path)
        wide = page.evaluate("() => document.documentElement.scrollWidth")
        assert wide <= 390, f"{path} is {wide} px wide at a phone's 390 px: " + page.evaluate(WIDEST)
    page.goto(live_server + "/admin/")
    page.screenshot(path=str(folder / "dashboard-phone.png"), full_page=True)
