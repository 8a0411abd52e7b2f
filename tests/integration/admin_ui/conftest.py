"""Admin UI fixtures: users of each role and a test client that logs in with CSRF tokens."""
from __future__ import annotations

import re

import pytest
from werkzeug.security import generate_password_hash

PASSWORD = "correct horse battery"
_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def token(html: str) -> str:
    found = _TOKEN.search(html)
    assert found, "the page has no CSRF token"
    return found.group(1)


@pytest.fixture
def users(app):
    from engine.models import User
    from server.extensions import db
    with app.app_context():
        session = db.session()
        for role in ("admin", "marketer", "viewer"):
            session.add(User(email=f"{role}@example.com", password_hash=generate_password_hash(PASSWORD),
                             role=role))
        session.commit()
    return {role: f"{role}@example.com" for role in ("admin", "marketer", "viewer")}


class Browser:
    """The Flask test client plus the CSRF token of the last page it read."""

    def __init__(self, client):
        self.client = client
        self.csrf = None

    def get(self, url, **kwargs):
        response = self.client.get(url, **kwargs)
        if response.mimetype == "text/html" and 'name="csrf_token"' in response.text:
            self.csrf = token(response.text)
        return response

    def post(self, url, data=None, **kwargs):
        data = dict(data or {})
        data.setdefault("csrf_token", self.csrf)
        return self.client.post(url, data=data, **kwargs)

    def login(self, email, password=PASSWORD, **kwargs):
        self.get("/admin/login")
        return self.post("/admin/login", {"email": email, "password": password}, **kwargs)


@pytest.fixture
def browser(client):
    return Browser(client)


@pytest.fixture
def as_role(browser, users):
    def _login(role):
        response = browser.login(users[role])
        assert response.status_code == 302, response.text
        return browser
    return _login
