"""A real browser opens the API docs with every outside request blocked and finds the operations."""
from __future__ import annotations

import shutil
import threading
from urllib.parse import urlsplit

import pytest
from werkzeug.serving import make_server

from server.app import create_app
from tests.conftest import unavailable


@pytest.fixture
def docs_server(tmp_path):
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'docs.db'}",
                      "SECRET_KEY": "docs", "SECRET_KEY_IS_EPHEMERAL": False})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


def test_the_docs_list_the_operations_without_internet(docs_server):
    playwright_api = pytest.importorskip("playwright.sync_api")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    outside: list[str] = []

    def offline(route):
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:  # what a site without internet would do
            outside.append(route.request.url)
            route.abort()

    with playwright_api.sync_playwright() as p:
        try:
            browser = p.chromium.launch(executable_path=chromium, args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync"])
        except Exception as exc:  # no browser on this machine
            unavailable(f"no Chromium to run the browser test: {exc.__class__.__name__}")
        try:
            page = browser.new_page()
            page.route("**/*", offline)
            page.goto(docs_server + "/", wait_until="load")  # / leads people to the admin UI's login
            assert "/admin/login" in page.url
            page.goto(docs_server + "/api/v1/docs", wait_until="load")
            page.wait_for_selector(".opblock", timeout=30_000)
            paths = page.locator(".opblock-summary-path").all_inner_texts()
            assert any("/api/v1/orders" in path for path in paths), paths[:10]
            assert len(paths) >= 20
        finally:
            browser.close()
    assert outside == []
