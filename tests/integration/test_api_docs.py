"""The interactive API docs work offline (Swagger UI served by the app), and `/` leads somewhere."""
from __future__ import annotations

import re

from server.app import create_app


def _app(tmp_path):
    return create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'docs.db'}",
                       "SECRET_KEY": "docs", "SECRET_KEY_IS_EPHEMERAL": False})


def test_the_docs_page_and_its_assets_come_from_the_app(tmp_path):
    client = _app(tmp_path).test_client()
    page = client.get("/api/v1/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert not re.search(r"https?://|//cdn", html), "the docs page must not load anything from outside"
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert len(assets) == 3 and all(a.startswith("/static/swagger-ui/") for a in assets)
    assert '"validatorUrl": null' in html  # no badge fetched from validator.swagger.io
    for asset in assets:
        response = client.get(asset)
        assert response.status_code == 200, asset
        assert response.mimetype in ("text/javascript", "application/javascript", "text/css"), asset
        assert len(response.data) > 10_000
        response.close()
    licence = client.get("/static/swagger-ui/LICENSE")
    assert licence.status_code == 200 and b"Apache License" in licence.data
    licence.close()
    spec_url = re.search(r'url: "([^"]+)"', html).group(1)
    assert client.get(spec_url).get_json()["paths"]["/api/v1/orders"]


def test_the_home_page_leads_to_the_admin_ui_or_else_the_docs(tmp_path):
    app = _app(tmp_path)
    home = app.test_client().get("/")
    assert home.status_code == 302 and home.headers["Location"].startswith("/admin")
    del app.blueprints["admin"]  # a server without the admin UI sends people to the API docs
    plain = app.test_client().get("/")
    assert plain.status_code == 302 and plain.headers["Location"] == "/api/v1/docs"
