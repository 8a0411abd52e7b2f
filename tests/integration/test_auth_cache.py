"""The per-process cache of verified API keys honours a revocation committed by another process."""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from tests.conftest import auth

ROOT = Path(__file__).resolve().parents[2]
# Another process revokes the key through the same service the admin UI calls, and commits; its
# `forget_keys` empties its own cache, not this one's.
REVOKE = """
import sys
from server.app import create_app
from server.auth import revoke_key
from server.extensions import db
from engine.models import ApiKey
app = create_app({"DATABASE_URL": sys.argv[1], "REDIS_URL": None, "SECRET_KEY": "t", "SECRET_KEY_IS_EPHEMERAL": False})
with app.app_context():
    session = db.session()
    revoke_key(session, session.query(ApiKey).filter_by(name=sys.argv[2]).one().id)
    session.commit()
"""


def test_a_key_revoked_by_another_process_is_refused_here_once_its_ttl_ran_out(pg_app, keys, tmp_path):
    from engine import clock
    from server import auth as auth_module
    client = pg_app.test_client()
    headers = auth(keys["shop"])
    member = client.post("/api/v1/members", json={"name": "Ola"}, headers=headers).get_json()["loyalty_id"]
    balance = f"/api/v1/members/{member}/balance"
    assert client.get(balance, headers=headers).status_code == 200  # verified, and now cached here
    subprocess.run([sys.executable, "-c", REVOKE, pg_app.config["DATABASE_URL"], "test-shop"], check=True,
                   cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), "LOYALTY_INSTANCE": str(tmp_path)},
                   timeout=120)
    # Within KEY_TTL of its verification it may still pass here (the documented bound; that the cache
    # answers without a query is test_order_statements'); past it, this process asks the database again.
    with clock.travel(auth_module.KEY_TTL + timedelta(seconds=1)):
        refused = client.get(balance, headers=headers)
        assert refused.status_code == 401
        assert refused.get_json()["message"] == "the API key is unknown or revoked"
    assert client.get(balance, headers=headers).status_code == 401  # and not cached as valid again
    assert client.get(balance, headers=auth(keys["admin"])).status_code == 200  # other keys unaffected
