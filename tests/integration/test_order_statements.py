"""The single-order path stays cheap: how many SQL statements one accruing POST /orders runs."""
from __future__ import annotations

from sqlalchemy import event

from tests.conftest import ACCRUAL_BASIC, auth
from tests.integration.test_api import PLACED
from tests.support.statements import counted

# the member read ahead in one statement (with the configuration's stamp, whether the
# document is known, the lines' catalog rows and, for a paid or fulfilled order, the account's lock), the
# document with its lines (one statement, inserted once with status and points), the entry with its lot
# (one statement: the lot is inserted from the entry's RETURNING), the idempotency record: 4 on
# PostgreSQL, where published policies, running missions and webhook subscribers come from the process's
# cache while the stamp is unchanged (`engine.config_stamp`); 12 on SQLite, which reads them every time.
# It ran 19 before the hot path was trimmed, then 18 with the outbox and missions, then 8, then 5; the API key
# (trusted for a few seconds per process), the document's UPDATEs, the answer's member and pending sum
# went since, the document lookup, catalog and account lock joined the member's statement, and the
# idempotency key is no longer looked up first (its record's unique key answers a retry at the end).
BUDGET = {"postgresql": 4, "sqlite": 12}


def test_an_accruing_order_runs_at_most_its_statement_budget(app, client, keys, publish):
    from server.extensions import db
    publish(ACCRUAL_BASIC)
    headers = auth(keys["shop"])
    member = client.post("/api/v1/members", json={"name": "Jan"}, headers=headers).get_json()["loyalty_id"]
    def order(order_id):
        return client.post("/api/v1/orders", headers=headers, json={
            "order_id": order_id, "member": member, "placed_at": PLACED, "currency": "PLN",
            "status": "fulfilled", "lines": [
                {"line_no": n, "sku": f"SKU{n}", "quantity": 2, "unit_price": "34.80",
                 "product_group": "110"} for n in (1, 2, 3)]})

    assert order("W1").status_code == 201  # warm: the compiled policy is cached per process
    with app.app_context():
        engine = db.engine
    with counted(app) as statements:
        response = order("S1")
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["earned"] == "36"
    writes = [s for s in statements if s.split()[0] in ("INSERT", "UPDATE", "WITH")]
    assert any("ledger_entries" in s for s in writes) and any("INTO lots" in s for s in writes)
    assert len(statements) <= BUDGET[engine.dialect.name], "\n".join(statements)
    assert not [s for s in statements if s.startswith("SELECT") and "idempotency_records" in s]


def test_reads_do_not_stamp_their_key_every_time(app, client, keys):
    from server.extensions import db
    headers = auth(keys["shop"])
    member = client.post("/api/v1/members", json={"name": "Ewa"}, headers=headers).get_json()["loyalty_id"]
    from datetime import timedelta

    from engine import clock
    from engine.models import ApiKey
    from server import auth as auth_module
    with app.app_context():  # the key was last used an hour ago, and this process has not stamped it
        session = db.session()
        for key in session.query(ApiKey):
            key.last_used_at = clock.now() - timedelta(hours=1)
        session.commit()
        engine = db.engine
    auth_module._STAMPED.clear()
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        for _ in range(3):  # a read's transaction rolls back: the row alone could not throttle the stamp
            assert client.get(f"/api/v1/members/{member}/balance", headers=headers).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len([s for s in statements if s.startswith("UPDATE api_keys")]) == 1  # the first read only


def test_a_revoked_key_stops_working_within_the_key_ttl(app, client, keys):
    from datetime import timedelta

    from engine import clock
    from engine.models import ApiKey
    from server import auth as auth_module
    from server.extensions import db
    headers = auth(keys["shop"])
    member = client.post("/api/v1/members", json={"name": "Ola"}, headers=headers).get_json()["loyalty_id"]
    with app.app_context():  # revoked behind this process's back (another node, a script)
        session = db.session()
        session.query(ApiKey).filter(ApiKey.name == "test-shop").update({"revoked_at": clock.now()})
        session.commit()
    balance = f"/api/v1/members/{member}/balance"
    assert client.get(balance, headers=headers).status_code == 200  # trusted for KEY_TTL, no query
    with clock.travel(auth_module.KEY_TTL + timedelta(seconds=1)):
        assert client.get(balance, headers=headers).status_code == 401
    assert client.get(balance, headers=headers).status_code == 401  # not cached as valid again
    auth_module.forget_keys()
    assert client.get(balance, headers=headers).status_code == 401
