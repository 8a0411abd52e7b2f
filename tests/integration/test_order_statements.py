"""The single-order path stays cheap: how many SQL statements one accruing POST /orders runs."""
from __future__ import annotations

from sqlalchemy import event

from tests.conftest import ACCRUAL_BASIC, auth
from tests.integration.test_api import PLACED

# auth, idempotency record, document lookup, member, catalog, document and lines, policies,
# one UPDATE of the document and one of its lines, account lock, entry, lot, the answer
# (member, pending), idempotency record: 16 (19 before the hot path was trimmed), and since the
# outbox, its lookup of who subscribes to credited points (the SMS needs no query without consent), and
# since missions, the missions running at the order's date (nothing more when none runs): 18.
BUDGET = 13


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
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        if not statements or statements[-1] != statement:  # SQLite sends an executemany row by row
            statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        response = order("S1")
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["earned"] == "36"
    writes = [s for s in statements if s.split()[0] in ("INSERT", "UPDATE")]
    assert any("ledger_entries" in s for s in writes) and any("INTO lots" in s for s in writes)
    assert len(statements) <= BUDGET, "\n".join(statements)


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
