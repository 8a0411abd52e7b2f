"""A balance request stays cheap: the statements one GET /members/{ref}/balance runs."""
from __future__ import annotations

from sqlalchemy import event

from tests.conftest import auth

# the member with its account's debt and open lots (one statement), the policies in force; a member
# without a tier has no pin to read, and the verified key is trusted for a few seconds.
BUDGET = 2


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


def test_the_member_and_its_balance_in_one_statement_equal_the_lookup_and_balance_of(session):
    from datetime import timedelta

    from engine import ledger, members
    from tests.conftest import T0, D
    day = timedelta(days=1)
    member = members.create(session, {"name": "Iza", "ext_id": "u-9", "phone": "+48601234999"}, now=T0 - 90 * day)
    account = ledger.lock_account(session, member.account_id)
    for i, (amount, available, expires) in enumerate([("5", T0 - day, T0 + 30 * day), ("2", T0 - 9 * day, T0 - day),
                                                     ("4", T0 + 3 * day, None), ("1.5", T0 - day, None)]):
        ledger.credit(session, account, kind="adjustment", key=f"iza:{i}", actor="t", now=T0 - 10 * day,
                      lots=[ledger.LotSpec(D(amount), available, expires)])
    ledger.debit(session, account, kind="adjustment", amount=D("9"), key="iza:debt", actor="t", now=T0 - 10 * day,
                 allow_debt=True)
    empty = members.create(session, {"name": "Bez"}, now=T0 - 90 * day)
    merged = members.create(session, {"name": "Old", "erp_code": "E-1"}, now=T0 - 90 * day)
    merged.merged_into_id = member.id
    session.flush()
    for ref, who in (("u-9", None), (member.loyalty_id, member), ("ext:u-9", member), ("phone:601234999", member),
                     ("erp:E-1", member), (merged.loyalty_id, member), (empty.loyalty_id, empty)):
        if who is None:
            try:
                members.get_with_balance(session, ref, T0)
            except members.UnknownMember as exc:
                assert str(exc) == f"no member matches {ref!r}"
            else:
                raise AssertionError("an unknown reference found someone")
            continue
        found, balance = members.get_with_balance(session, ref, T0)
        assert found is who
        assert balance == ledger.balance_of(session, who.account_id, T0), ref
    found, balance = members.get_with_balance(session, member.loyalty_id, T0)
    # Nothing was available when the 9 were taken: all debt; now 5 + 1.5 are (the 2 expired), 4 pending.
    assert (balance.available, balance.pending, balance.debt) == (D("-2.5"), D(4), D(9))
    assert balance.expiring == ((T0 + 30 * day, D(5)),)
