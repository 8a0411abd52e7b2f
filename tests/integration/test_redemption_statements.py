"""A redemption stays cheap: the statements one POST /redemptions runs, and what its retries answer."""
from __future__ import annotations

from tests.conftest import auth
from tests.support.statements import counted

# member with its account's lock (one statement on PostgreSQL), the redemption (looked for once, under the
# lock), the published policies (SQLite only: PostgreSQL's come from the process's cache under the
# configuration's stamp), the redemption's INSERT, the open lots (their sum is the available points),
# the entry with its allocations and the lots' remainders (one statement on PostgreSQL), the answer's
# balance, the idempotency record: 7 on PostgreSQL, 13 on SQLite (both ran 16: the redemption looked for
# twice, the entry's key, the sum of the lots, the allocation and the lot's UPDATE, the answer's member
# read again, the idempotency key looked up before the work, the account lock's own statement).
BUDGET = {"postgresql": 7, "sqlite": 13}


def _member_with_points(client, keys, points: int) -> str:
    member = client.post("/api/v1/members", json={"name": "Ala"}, headers=auth(keys["shop"])).get_json()["loyalty_id"]
    response = client.post(f"/api/v1/members/{member}/adjustments", headers=auth(keys["admin"]),
                           json={"adjustment_id": f"seed-{member}", "points": points, "reason": "seed"})
    assert response.status_code == 201, response.get_json()
    return member


def test_a_redemption_runs_at_most_its_statement_budget(app, client, keys):
    from server.extensions import db
    member = _member_with_points(client, keys, 50)
    headers = auth(keys["shop"])
    warm = client.post("/api/v1/redemptions", headers=headers,
                       json={"redemption_id": "W1", "member": member, "points": "1"})
    assert warm.status_code == 201, warm.get_json()
    with counted(app) as statements:
        response = client.post("/api/v1/redemptions", headers=headers,
                               json={"redemption_id": "S1", "member": member, "points": "3"})
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["balance"]["available"] == "46"
    assert response.get_json()["member"] == member
    with app.app_context():
        dialect = db.engine.dialect.name
    assert len(statements) <= BUDGET[dialect], "\n".join(statements)
    if dialect == "postgresql":  # the account's lock came with the member
        assert not [s for s in statements if s.startswith("SELECT accounts")], statements
        assert any("FOR NO KEY UPDATE OF accounts" in s for s in statements if s.startswith("SELECT members"))


def test_a_retry_answers_the_first_body_even_after_the_member_was_blocked(app, client, keys):
    from engine import members
    from server.extensions import db
    member = _member_with_points(client, keys, 10)
    headers = auth(keys["shop"])
    body = {"redemption_id": "B1", "member": member, "points": "4"}
    first = client.post("/api/v1/redemptions", headers=headers, json=body)
    assert first.status_code == 201, first.get_json()
    with app.app_context():
        session = db.session()
        members.get(session, member).status = "blocked"
        session.commit()
    # The idempotency record answers a retry with its key; the redemption row answers one without it.
    again = client.post("/api/v1/redemptions", headers=headers, json=body)
    assert again.status_code == 201 and again.get_data() == first.get_data()
    other_key = client.post("/api/v1/redemptions", headers={**headers, "Idempotency-Key": "k-B1"}, json=body)
    assert other_key.status_code == 201, other_key.get_json()
    assert other_key.get_json()["points"] == "4" and other_key.get_json()["balance"]["available"] == "6"
    # A new redemption of the blocked member is refused; one naming nobody known is not found.
    refused = client.post("/api/v1/redemptions", headers=headers, json={**body, "redemption_id": "B2"})
    assert refused.status_code == 422 and refused.get_json()["code"] == "redemption_not_allowed"
    unknown = client.post("/api/v1/redemptions", headers=headers,
                          json={**body, "redemption_id": "B3", "member": "L999"})
    assert unknown.status_code == 404, unknown.get_json()
    conflict = client.post("/api/v1/redemptions", headers={**headers, "Idempotency-Key": "k-B1x"},
                           json={**body, "member": "L999"})
    assert conflict.status_code == 409 and conflict.get_json()["code"] == "redemption_conflict"


def test_a_redemption_naming_a_merged_away_member_spends_from_the_member_it_was_merged_into(app, client, keys):
    """The lookup that locks the account meets the old member (its old account locked): the redemption
    falls back to `members.resolve`, which follows the merge, and spends from the target's account."""
    from engine import clock, members
    from engine.members.merges import merge_members
    from server.extensions import db
    target = _member_with_points(client, keys, 10)
    old = client.post("/api/v1/members", json={"name": "Ola"}, headers=auth(keys["shop"])).get_json()["loyalty_id"]
    with app.app_context():
        session = db.session()
        merge_members(session, members.get(session, old), members.get(session, target), actor="t",
                      now=clock.now(), reason="test")
        session.commit()
    response = client.post("/api/v1/redemptions", headers=auth(keys["shop"]),
                           json={"redemption_id": "M1", "member": old, "points": "4"})
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["member"] == target and response.get_json()["balance"]["available"] == "6"
