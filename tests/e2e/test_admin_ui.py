"""The admin UI in a real browser (Playwright driving Debian's Chromium) against gunicorn on PostgreSQL."""
from __future__ import annotations

import os
from decimal import Decimal

import pytest
from werkzeug.security import generate_password_hash

from engine import clock, ledger, members
from engine.models import User
from server.extensions import db
from tests.conftest import unavailable

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync"]


@pytest.fixture
def page():
    if not os.path.exists(CHROMIUM):
        unavailable(f"{CHROMIUM} is missing (apt-get install chromium)")  # fails when CI=true
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed (pip install playwright)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 900})
        yield context.new_page()
        context.close()
        browser.close()


def login(tab, base: str, email: str, password: str, then: str = "/admin/") -> None:
    """Log in through the login form and wait for the page it leads to."""
    tab.goto(base + "/admin/login")
    tab.get_by_label("E-mail").fill(email)
    tab.get_by_label("Password").fill(password)
    tab.get_by_role("button", name="Log in").click()
    tab.wait_for_url(base + then)


def test_a_marketer_logs_in_sees_the_chart_finds_a_member_and_adjusts(pg_app, live_server, page):
    with pg_app.app_context():
        session = db.session()
        session.add(User(email="marketer@example.com", password_hash=generate_password_hash("s3cret-pass"),
                         role="marketer"))
        member = members.create(session, {"name": "Bożena Nowak", "phone": "+48 602 111 222"})
        session.commit()
        ref = member.loyalty_id
    page.goto(live_server + "/")
    page.get_by_label("E-mail").fill("marketer@example.com")
    page.get_by_label("Password").fill("s3cret-pass")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(live_server + "/admin/")
    canvas = page.locator("canvas#points-chart")
    canvas.wait_for()
    # Chart.js (vendored, no network) has drawn on the canvas.
    assert page.evaluate("() => !!document.getElementById('points-chart').chart")

    page.get_by_role("link", name="Members").click()
    page.get_by_label("Search").fill("602-111-222")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name=ref).click()
    page.get_by_label("Points (negative to remove)").fill("25")
    page.get_by_label("Reason").fill("welcome gift")
    page.get_by_role("button", name="Post adjustment").click()
    page.locator("p.flash.ok").wait_for()
    assert page.locator("#balance").inner_text() == "25"
    assert "welcome gift" in page.locator("#ledger").inner_text()
    with pg_app.app_context():
        session = db.session()
        member = members.get(session, ref)
        assert ledger.balance(session, member.account, clock.now()).available == Decimal(25)
