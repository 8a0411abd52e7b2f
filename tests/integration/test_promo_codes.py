"""Promo codes through the HTTP API on PostgreSQL and SQLite: batches, the answers, the limits, once ever."""
from __future__ import annotations

import csv
import io
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from engine import clock
from engine.engagement import promo_patterns
from tests.conftest import auth


@pytest.fixture
def fresh_limits(target_app):
    """Counts start at zero (the limiter is one per process; every test here comes from 127.0.0.1)."""
    from server.api.promo_codes import limiter
    with target_app.app_context():
        limiter.reset()
    yield
    target_app.config.pop("PROMO_REDEEM_LIMIT_MEMBER", None)
    target_app.config.pop("PROMO_REDEEM_LIMIT_ADDRESS", None)


@pytest.fixture
def call(client, keys, fresh_limits):
    def _call(method, url, key="shop", **kw):
        return client.open(url, method=method, headers=auth(keys[key]), **kw)
    return _call


def enrol(call, ext_id: str) -> str:
    response = call("POST", "/api/v1/members", json={"name": ext_id, "ext_id": ext_id})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["loyalty_id"]


def make_batch(call, name="paint", pattern="MAL-####-??", count=20, **extra) -> dict:
    response = call("POST", "/api/v1/promo-codes/batches", key="admin",
                    json={"name": name, "pattern": pattern, "count": count, **extra})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def codes_of(call, batch_id: int) -> list[str]:
    response = call("GET", f"/api/v1/promo-codes/batches/{batch_id}/codes.csv", key="admin")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    text = response.get_data(as_text=True)
    response.close()
    return [row["code"] for row in csv.DictReader(io.StringIO(text))]


def redeem(call, code: str, member: str):
    return call("POST", "/api/v1/promo-codes/redeem", json={"code": code, "member": member})


def test_a_generated_batch_is_exported_and_each_code_is_redeemed_once(call):
    batch = make_batch(call, points="25")
    assert (batch["count"], batch["active"], batch["points"]) == (20, True, "25")
    codes = codes_of(call, batch["id"])
    assert len(codes) == len(set(codes)) == 20
    pattern = promo_patterns.Pattern("MAL-####-??")
    assert all(pattern.regex().fullmatch(c) and promo_patterns.check_ok(pattern, c) for c in codes)
    assert not set("01IOBSZ") & set("".join(c[4:] for c in codes).replace("-", ""))

    anna, piotr = enrol(call, "anna"), enrol(call, "piotr")
    first = redeem(call, codes[0].lower().replace("-", "- "), anna)  # typed loosely, found all the same
    assert first.status_code == 201, first.get_json()
    body = first.get_json()
    assert (body["points"], body["batch"], body["balance"]["available"]) == ("25", "paint", "25")
    again = redeem(call, codes[0], anna)  # a retry by the same member: the first answer
    assert again.status_code == 200 and again.get_json()["points"] == "25"
    assert again.get_json()["balance"]["available"] == "25"
    taken = redeem(call, codes[0], piotr)
    assert taken.status_code == 409
    assert taken.get_json()["code"] == "promo_already_used"
    assert anna not in taken.get_data(as_text=True)  # never who used it
    history = call("GET", f"/api/v1/members/{anna}/history").get_json()
    assert [e["kind"] for e in history["entries"]] == ["promo_code"]

    listed = call("GET", "/api/v1/promo-codes/batches", key="admin").get_json()
    assert [(b["name"], b["count"], b["redeemed"]) for b in listed] == [("paint", 20, 1)]
    exported = call("GET", f"/api/v1/promo-codes/batches/{batch['id']}/codes.csv", key="admin")
    assert f"{codes[0]},\"paint\",yes" in exported.get_data(as_text=True)
    exported.close()


def test_the_answers_unknown_mistyped_inactive_expired_not_yet_valid(call):
    now = clock.now()
    anna = enrol(call, "anna")
    live = codes_of(call, make_batch(call, "live", points="5")["id"])
    code = live[0]
    wrong_check = code[:-1] + next(c for c in promo_patterns.EITHER if c != code[-1])
    mistyped = redeem(call, wrong_check, anna)
    assert mistyped.status_code == 404
    assert mistyped.get_json()["code"] == "promo_unknown"
    assert mistyped.get_json()["details"] == {"typo": True}
    assert redeem(call, "NO-SUCH-CODE", anna).get_json()["code"] == "promo_unknown"

    late = make_batch(call, "late", points="5", valid_from=(now + timedelta(days=3)).isoformat())
    answer = redeem(call, codes_of(call, late["id"])[0], anna)
    assert (answer.status_code, answer.get_json()["code"]) == (422, "promo_not_yet_valid")
    gone = make_batch(call, "gone", points="5", valid_from=(now - timedelta(days=9)).isoformat(),
                      valid_until=(now - timedelta(days=1)).isoformat())
    answer = redeem(call, codes_of(call, gone["id"])[0], anna)
    assert (answer.status_code, answer.get_json()["code"]) == (422, "promo_expired")

    withdrawn = call("POST", f"/api/v1/promo-codes/batches/{make_batch(call, 'x', points='5')['id']}/deactivate",
                     key="admin")
    assert withdrawn.status_code == 200 and withdrawn.get_json()["active"] is False
    answer = redeem(call, codes_of(call, withdrawn.get_json()["id"])[0], anna)
    assert (answer.status_code, answer.get_json()["code"]) == (422, "promo_inactive")
    assert call("GET", f"/api/v1/members/{anna}/balance").get_json()["available"] == "0"


def test_a_pattern_that_cannot_hold_the_count_is_refused_with_a_sentence(call):
    refused = call("POST", "/api/v1/promo-codes/batches", key="admin",
                   json={"name": "tiny", "pattern": "A-##", "count": 65, "points": "1"})
    assert refused.status_code == 422
    assert refused.get_json()["code"] == "promo_batch_invalid"
    assert "can hold only 64 different codes" in refused.get_json()["message"]
    full = make_batch(call, "full", pattern="A-##", count=64, points="1")  # exactly what it holds
    assert len(set(codes_of(call, full["id"]))) == 64
    assert call("POST", "/api/v1/promo-codes/batches", key="admin",
                json={"name": "full", "pattern": "B-##", "count": 1}).status_code == 409
    shop_key = call("POST", "/api/v1/promo-codes/batches", json={"name": "s", "pattern": "##", "count": 1})
    assert shop_key.status_code == 403


def test_without_points_the_event_policy_decides(call, publish):
    publish({"policy": "event", "rules": [
        {"id": "promo", "conditions": {"all": [
            {"name": "event_type", "operator": "equal_to", "value": "promo_code"}]},
         "actions": [{"name": "award", "params": {"points": 40}}]}]})
    anna = enrol(call, "anna")
    code = codes_of(call, make_batch(call, "policy")["id"])[0]
    answer = redeem(call, code, anna)
    assert answer.status_code == 201 and answer.get_json()["points"] == "40"


def test_wrong_codes_are_limited_per_member_and_per_address(call, target_app):
    target_app.config["PROMO_REDEEM_LIMIT_MEMBER"] = "3/minute"
    target_app.config["PROMO_REDEEM_LIMIT_ADDRESS"] = "5/minute"
    anna, piotr = enrol(call, "anna"), enrol(call, "piotr")
    good = codes_of(call, make_batch(call, "good", points="1", count=6)["id"])
    for code in good[:4]:  # good codes never count
        assert redeem(call, code, anna).status_code == 201
    assert [redeem(call, "WRONG", anna).status_code for _ in range(4)] == [404, 404, 404, 429]
    limited = redeem(call, good[4], anna)
    assert limited.status_code == 429 and limited.get_json()["code"] == "too_many_requests"
    # Piotr is another member, but the same address has spent 3 of its 5 wrong tries.
    assert [redeem(call, "WRONG", piotr).status_code for _ in range(3)] == [404, 404, 429]


def test_the_limiter_counts_in_redis_when_redis_is_configured(redis_url, tmp_path, monkeypatch):
    from server.api.promo_codes import limiter
    from server.app import create_app
    monkeypatch.setenv("LOYALTY_INSTANCE", str(tmp_path))
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'r.db'}", "REDIS_URL": redis_url,
                      "SECRET_KEY": "t", "SECRET_KEY_IS_EPHEMERAL": False})
    with app.app_context():
        assert app.config["RATELIMIT_STORAGE_URI"] == redis_url
        assert type(limiter.storage).__name__ == "RedisStorage"
        assert limiter.storage.check()


def test_fifty_parallel_redemptions_of_one_code_one_succeeds(pg_app, keys, fresh_limits):
    from engine.models import LedgerEntry, PromoCode
    from server.extensions import db
    client = pg_app.test_client()

    def call(method, url, key="shop", **kw):
        return client.open(url, method=method, headers=auth(keys[key]), **kw)

    code = codes_of(call, make_batch(call, "race", points="10", count=1)["id"])[0]
    people = [enrol(call, f"m{n}") for n in range(50)]
    start = threading.Barrier(50)
    answers: list[int] = []

    def attempt(member: str) -> None:
        own = pg_app.test_client()
        start.wait()
        answers.append(own.post("/api/v1/promo-codes/redeem", headers=auth(keys["shop"]),
                                json={"code": code, "member": member}).status_code)

    threads = [threading.Thread(target=attempt, args=(m,)) for m in people]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(answers) == [201] + [409] * 49
    with pg_app.app_context():
        session = db.session()
        assert session.execute(select(func.count()).where(LedgerEntry.kind == "promo_code")).scalar_one() == 1
        assert session.execute(select(func.count()).where(PromoCode.redeemed_at.is_not(None))).scalar_one() == 1


def test_the_cli_generates_exports_and_imports_batches(app, call, tmp_path):
    cli = app.test_cli_runner()
    made = cli.invoke(args=["promo", "generate", "--batch", "cans", "--pattern", "CAN-***", "--count", "30",
                            "--points", "15", "--expires", "2999-01-01"])
    assert made.exit_code == 0, made.output
    assert "30 codes" in made.output
    too_many = cli.invoke(args=["promo", "generate", "--batch", "big", "--pattern", "#", "--count", "9"])
    assert too_many.exit_code != 0 and "can hold only 8 different codes" in too_many.output
    out = tmp_path / "cans.csv"
    assert cli.invoke(args=["promo", "export", "cans", str(out)]).exit_code == 0
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert len(rows) == 30 and {r["redeemed"] for r in rows} == {"no"}

    partner = tmp_path / "partner.csv"
    partner.write_text("code,note\nPARTNER-001,a\npartner-002 ,b\n", encoding="utf-8")
    imported = cli.invoke(args=["promo", "import", str(partner), "--points", "7"])
    assert imported.exit_code == 0, imported.output
    again = cli.invoke(args=["promo", "import", str(partner), "--batch", "again"])
    assert again.exit_code != 0 and "belong to another batch" in again.output
    anna = enrol(call, "anna")
    assert redeem(call, "partner-002", anna).get_json()["points"] == "7"
    assert redeem(call, rows[0]["code"], anna).get_json()["points"] == "15"
    listed = cli.invoke(args=["promo", "list"])
    assert "partner\timported\t2 codes\t1 used" in listed.output
    assert cli.invoke(args=["promo", "deactivate", "partner"]).exit_code == 0
    assert redeem(call, "PARTNER-001", anna).get_json()["code"] == "promo_inactive"


def test_batches_sharing_a_pattern_never_share_a_code(call):
    first = codes_of(call, make_batch(call, "one", pattern="A-##", count=40, points="1")["id"])
    second = codes_of(call, make_batch(call, "two", pattern="A-##", count=20, points="1")["id"])
    assert len(set(first) | set(second)) == 60  # of the 64 the pattern holds
    crowded = call("POST", "/api/v1/promo-codes/batches", key="admin",
                   json={"name": "three", "pattern": "A-##", "count": 10, "points": "1"})
    assert crowded.status_code == 422 and "other batches with the pattern A-##" in crowded.get_json()["message"]
    assert [b["name"] for b in call("GET", "/api/v1/promo-codes/batches", key="admin").get_json()] == ["two", "one"]


def test_a_blocked_member_redeems_nothing_and_the_code_stays_good(call):
    anna, piotr = enrol(call, "anna"), enrol(call, "piotr")
    code = codes_of(call, make_batch(call, "b", points="3", count=1)["id"])[0]
    assert call("PATCH", f"/api/v1/members/{anna}", json={"status": "blocked"}).status_code == 200
    refused = redeem(call, code, anna)
    assert (refused.status_code, refused.get_json()["code"]) == (422, "member_refused")
    assert redeem(call, code, piotr).status_code == 201
