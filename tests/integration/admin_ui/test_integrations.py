"""The integrations page (admins only): API keys created (the key shown once), with scopes, revoked;
the 1C logins and exchange log; the FTP/SFTP sources and the last file their poll fetched."""
from __future__ import annotations

import re

from sqlalchemy import select

from engine import clock, imports
from engine.models import ApiKey, ExchangeSession
from server.extensions import db

SOURCE = {"name": "sap-sftp", "protocol": "sftp", "host": "erp.example.pl", "username": "loyalty",
          "password": "x",
          "host_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB0nkDV1M6nfz4cA4fwXoS7v5q1pH4oOtQ1tC4hZ0W3T",
          "remote_dir": "out", "patterns": {"invoices": "INV_*.csv"}}


def test_keys_created_once_scoped_and_revoked(app, as_role):
    admin = as_role("admin")
    page = admin.get("/admin/integrations")
    assert page.status_code == 200 and 'id="api-keys"' in page.text
    created = admin.post("/admin/integrations/keys", {"name": "webshop", "kind": "shop",
                                                      "scopes": ["members:read"]})
    assert created.status_code == 201
    key = re.search(r'id="new-key-value" readonly value="(lk_[^"]+)"', created.text).group(1)
    assert "Copy it now" in created.text
    assert key not in admin.get("/admin/integrations").text  # shown once
    with app.app_context():
        row = db.session().execute(select(ApiKey).where(ApiKey.name == "webshop")).scalar_one()
        assert (row.kind, row.scopes) == ("shop", "members:read")
        key_id = row.id
    headers = {"Authorization": f"Bearer {key}"}
    assert admin.client.get("/api/v1/members/L000000000", headers=headers).status_code == 404  # a valid key
    assert admin.client.post("/api/v1/members", json={"name": "x"}, headers=headers).status_code == 403  # scope

    clash = admin.post("/admin/integrations/keys", {"name": "webshop", "kind": "shop"})
    assert clash.status_code == 422 and "already exists" in clash.text
    wrong = admin.post("/admin/integrations/keys", {"name": "x", "kind": "nope"})
    assert wrong.status_code == 422
    with app.app_context():
        assert db.session().execute(select(ApiKey.name)).scalars().all() == ["webshop"]

    assert admin.client.post(f"/admin/integrations/keys/{key_id}/revoke").status_code == 400  # no CSRF token
    assert admin.client.get("/api/v1/members/L000000000", headers=headers).status_code == 404
    revoked = admin.post(f"/admin/integrations/keys/{key_id}/revoke", follow_redirects=True)
    assert "webshop is revoked" in revoked.text
    assert admin.client.get("/api/v1/members/L000000000", headers=headers).status_code == 401
    assert admin.post("/admin/integrations/keys/999999/revoke").status_code == 404

    marketer = as_role("marketer")
    assert marketer.get("/admin/integrations").status_code == 403
    assert 'href="/admin/integrations"' not in marketer.get("/admin/").text
    assert marketer.post("/admin/integrations/keys", {"name": "m", "kind": "shop"}).status_code == 403


def test_the_1c_log_and_the_sources_with_their_last_poll(app, as_role):
    now = clock.now()
    with app.app_context():
        session = db.session()
        session.add(ExchangeSession(integration="1c-main", exchange_type="sale", cookie_hash="h" * 64,
                                    sessid="s", state="failed", last_mode="import", started_at=now,
                                    last_seen_at=now, errors=[{"at": now.isoformat(), "mode": "import",
                                                               "reason": "the file is not XML"}]))
        for n in (1, 2):
            imports.begin_run(session, source="sap-sftp", kind="invoices", filename=f"INV_{n}.csv", sha256=str(n) * 64,
                              size=10, actor="import:sap-sftp", now=now)
        session.commit()
    app.config["IMPORT_SOURCES"] = [SOURCE]
    try:
        page = as_role("admin").get("/admin/integrations").text
    finally:
        app.config["IMPORT_SOURCES"] = []
    assert "1c-main" in page and "the file is not XML" in page and "/exchange/1c" in page
    sources = page[page.index('id="sources"'):]
    assert "sftp://loyalty@erp.example.pl:22/out" in sources and "INV_2.csv" in sources
    assert "INV_1.csv" not in sources
