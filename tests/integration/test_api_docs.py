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


def test_the_openapi_document_has_every_endpoint_and_the_reward_ones_say_what_they_do(tmp_path):
    app = _app(tmp_path)
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    missing = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.rule in ("/api/v1/openapi.json", "/api/v1/docs"):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            if method.lower() not in spec["paths"].get(path, {}):
                missing.append(f"{method} {path}")
    assert missing == []
    rewards = {path: ops for path, ops in spec["paths"].items() if "/reward" in path}
    assert len(rewards) == 7
    assert all(op.get("description") or op.get("summary") for ops in rewards.values() for op in ops.values()
               if isinstance(op, dict) and "responses" in op)
