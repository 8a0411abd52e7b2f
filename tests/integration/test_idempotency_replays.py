"""Retries under an idempotency key, now that the key is not looked up before the work: the work of a
retry runs, then rolls back, and the stored answer is replayed (`server.idempotency.idempotent`)."""
from __future__ import annotations

import sqlalchemy as sa

from tests.integration.test_api import enrol, place, shop  # noqa: F401  (the fixture)


def _counts(app) -> dict:
    from server.extensions import db
    with app.app_context():
        session = db.session()
        return {table: session.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
                for table in ("documents", "document_lines", "ledger_entries", "lots", "outbox_messages",
                              "idempotency_records", "redemptions")}


def test_a_retried_order_writes_nothing_and_answers_the_first_body(app, shop):  # noqa: F811
    member = enrol(shop)["loyalty_id"]
    first = place(shop, "O-1", member, status="fulfilled")
    assert first.status_code == 201 and first.get_json()["earned"] != "0", first.get_json()
    before = _counts(app)
    for _ in range(2):
        again = place(shop, "O-1", member, status="fulfilled")
        assert again.status_code == 201 and again.headers.get("Idempotent-Replayed") == "true"
        assert again.get_data() == first.get_data()
    assert _counts(app) == before


def test_a_retry_whose_work_would_now_fail_still_gets_the_first_answer(app, shop):  # noqa: F811
    """The work of the retry raises (the points it spends are gone): the first answer, not the error."""
    member = enrol(shop)["loyalty_id"]
    assert shop("POST", f"/api/v1/members/{member}/adjustments", key="admin",
                json={"adjustment_id": "seed", "points": 10, "reason": "seed"}).status_code == 201
    body = {"redemption_id": "R-1", "member": member, "points": 10}
    headers = {"Idempotency-Key": "pay-1"}
    first = shop("POST", "/api/v1/redemptions", json=body, headers=headers)
    assert first.status_code == 201, first.get_json()
    # The same key on a request whose own work fails (another redemption id, nothing left to spend)
    # is a different request: refused as a conflict, not answered with the work's error.
    other = shop("POST", "/api/v1/redemptions", json={**body, "redemption_id": "R-2"}, headers=headers)
    assert other.status_code == 409 and other.get_json()["code"] == "idempotency_conflict"
    # A body that does not validate under a used key: the conflict too, as when the key was looked up first.
    invalid = shop("POST", "/api/v1/redemptions", json={"member": member}, headers=headers)
    assert invalid.status_code == 409 and invalid.get_json()["code"] == "idempotency_conflict"
    before = _counts(app)
    again = shop("POST", "/api/v1/redemptions", json=body, headers=headers)
    assert again.status_code == 201 and again.get_data() == first.get_data()
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert _counts(app) == before


def test_an_error_is_not_stored_and_a_fixed_retry_under_the_key_succeeds(app, shop):  # noqa: F811
    member = enrol(shop)["loyalty_id"]
    headers = {"Idempotency-Key": "pay-2"}
    body = {"redemption_id": "R-9", "member": member, "points": 5}
    before = _counts(app)
    refused = shop("POST", "/api/v1/redemptions", json=body, headers=headers)
    assert refused.status_code == 422 and refused.get_json()["code"] == "insufficient_points"
    assert _counts(app) == before
    assert shop("POST", f"/api/v1/members/{member}/adjustments", key="admin",
                json={"adjustment_id": "seed", "points": 10, "reason": "seed"}).status_code == 201
    done = shop("POST", "/api/v1/redemptions", json=body, headers=headers)
    assert done.status_code == 201 and done.headers.get("Idempotent-Replayed") is None, done.get_json()
    assert done.get_json()["balance"]["available"] == "5"
