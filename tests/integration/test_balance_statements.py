"""A balance request stays cheap: the statements one GET /members/{ref}/balance runs."""
from __future__ import annotations

from sqlalchemy import event

from tests.conftest import auth

# the member, the policies in force, the account's debt with its open lots (one statement); a member
# without a tier has no pin to read, and the verified key is trusted for a few seconds.
BUDGET = 3


def test_a_balance_request_runs_at_most_its_statement_budget(app, client, keys):
    from server.extensions import db
    headers = auth(keys["shop"])
    member = client.post("/api/v1/members", json={"name": "Ola"}, headers=headers).get_json()["loyalty_id"]
    assert client.get(f"/api/v1/members/{member}/balance", headers=headers).status_code == 200  # warm
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        response = client.get(f"/api/v1/members/{member}/balance", headers=headers)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["available"] == "0"
    assert not any("FROM accounts \n" in s or s.startswith("UPDATE") for s in statements), statements
    assert len(statements) <= BUDGET, "\n".join(statements)
