"""Logging in: passwords, lockout, session expiry, roles, CSRF, languages."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from engine import clock
from engine.models import User
from server.extensions import db
from tests.integration.admin_ui.conftest import PASSWORD


def test_root_goes_to_the_admin_ui_and_it_asks_to_log_in(client):
    root = client.get("/")
    assert root.status_code == 302 and root.headers["Location"].endswith("/admin/")
    page = client.get("/admin/")
    assert page.status_code == 302 and "/admin/login" in page.headers["Location"]


def test_login_with_the_right_password_opens_the_dashboard(browser, users):
    response = browser.login(users["marketer"])
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/")
    page = browser.get("/admin/")
    assert page.status_code == 200 and "marketer@example.com" in page.text
    assert 'id="points-chart"' in page.text


def test_a_wrong_password_or_an_unknown_email_is_refused(browser, users):
    assert browser.login(users["viewer"], "wrong").status_code == 401
    assert browser.login("nobody@example.com").status_code == 401
    assert browser.get("/admin/").status_code == 302


def test_five_wrong_passwords_lock_the_login_for_15_minutes(app, browser, users):
    for _ in range(5):
        assert browser.login(users["admin"], "wrong").status_code == 401
    locked = browser.login(users["admin"])  # the right password, but locked
    assert locked.status_code == 401 and "locked" in locked.text
    with app.app_context():
        session = db.session()
        user = session.execute(select(User).where(User.email == users["admin"])).scalar_one()
        assert user.locked_until > clock.now() + timedelta(minutes=14)
        user.locked_until = clock.now() - timedelta(seconds=1)  # the 15 minutes are over
        session.commit()
    assert browser.login(users["admin"]).status_code == 302


def test_a_right_password_resets_the_failure_count(app, browser, users):
    for _ in range(4):
        browser.login(users["viewer"], "wrong")
    assert browser.login(users["viewer"]).status_code == 302
    browser.post("/admin/logout")
    for _ in range(4):
        browser.login(users["viewer"], "wrong")
    assert browser.login(users["viewer"]).status_code == 302


def test_the_session_expires(app, browser, users):
    assert app.config["PERMANENT_SESSION_LIFETIME"] == timedelta(hours=8)
    browser.login(users["viewer"])
    cookie = browser.client.get_cookie("session")
    assert cookie is not None and cookie.expires is not None  # a permanent session has an expiry date
    lifetime = app.config["PERMANENT_SESSION_LIFETIME"]
    try:
        app.permanent_session_lifetime = timedelta(seconds=-1)  # signed long ago: older than allowed
        assert browser.get("/admin/").status_code == 302
    finally:
        app.permanent_session_lifetime = lifetime


def test_logout_ends_the_session(browser, users):
    browser.login(users["viewer"])
    browser.get("/admin/")
    assert browser.post("/admin/logout").status_code == 302
    assert browser.get("/admin/").status_code == 302


def test_a_form_posted_without_its_csrf_token_is_refused(browser, users):
    browser.get("/admin/login")
    response = browser.client.post("/admin/login", data={"email": users["admin"], "password": PASSWORD})
    assert response.status_code == 400
    assert browser.get("/admin/").status_code == 302  # not logged in
    browser.login(users["admin"])
    response = browser.client.post("/admin/logout", data={})
    assert response.status_code == 400
    assert browser.get("/admin/").status_code == 200  # still logged in


def test_the_language_follows_the_browser_then_the_users_choice(browser, users):
    browser.login(users["viewer"])
    polish = browser.get("/admin/", headers={"Accept-Language": "pl-PL,pl;q=0.9"})
    assert "Pulpit" in polish.text
    russian = browser.get("/admin/", headers={"Accept-Language": "ru"})
    assert "Панель" in russian.text
    assert browser.post("/admin/locale", {"locale": "pl"}).status_code == 302
    chosen = browser.get("/admin/", headers={"Accept-Language": "ru"})
    assert "Pulpit" in chosen.text and 'lang="pl"' in chosen.text


def test_a_viewer_cannot_write(as_role, app):
    from engine import members
    with app.app_context():
        session = db.session()
        member = members.create(session, {"name": "Ola"})
        session.commit()
        ref = member.loyalty_id
    browser = as_role("viewer")
    page = browser.get(f"/admin/members/{ref}")
    assert page.status_code == 200 and "Manual adjustment" not in page.text
    response = browser.post(f"/admin/members/{ref}/adjust", {"points": "10", "reason": "x", "token": "t"})
    assert response.status_code == 403
    assert browser.post(f"/admin/members/{ref}/status", {"status": "blocked"}).status_code == 403
    assert browser.post("/admin/rules/accrual", {"document": "{}"}).status_code == 403
