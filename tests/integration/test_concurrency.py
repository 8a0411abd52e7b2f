"""Parallel redemptions at one balance from several processes (PostgreSQL row locks)."""
from __future__ import annotations

import multiprocessing as mp
import os
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import clock, ledger, members
from engine.documents import orders
from engine.domain import LineDoc, PurchaseDoc
from engine.ledger.check import check
from engine.models import LedgerEntry, Redemption
from tests.conftest import ACCRUAL_BASIC, T0

PROCESSES = 6
PER_PROCESS = 8
POINTS_EACH = 7
BALANCE = 100  # 100 // 7 = 14 redemptions can succeed, 2 points stay


def _at_once(target, arguments: list[tuple]) -> list:
    """``target(*args, start, results)`` in a spawned process for each of ``arguments``, all let go at
    once; what each put on ``results``."""
    ctx = mp.get_context("spawn")
    start, results = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=target, args=(*args, start, results)) for args in arguments]
    for p in procs:
        p.start()
    start.set()
    out = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    return out


def _fire(url: str, key: str, member: str, worker: int, start, results) -> None:
    """One process: its own app, connections and HTTP stack; waits for the others."""
    os.environ["LOYALTY_INSTANCE"] = f"/tmp/loyalty-conc-{os.getpid()}"
    from server.app import create_app
    app = create_app({"TESTING": True, "DATABASE_URL": url, "REDIS_URL": None,
                      "SECRET_KEY": "t", "SECRET_KEY_IS_EPHEMERAL": False})
    client = app.test_client()
    headers = {"Authorization": f"Bearer {key}"}
    client.get("/readyz")  # connect before the start signal
    start.wait()
    codes = []
    for i in range(PER_PROCESS):
        response = client.post("/api/v1/redemptions", headers=headers, json={
            "redemption_id": f"W{worker}-{i}", "member": member, "points": POINTS_EACH})
        codes.append(response.status_code)
        # Every retry of a success is answered with the first result, never a second spend.
        if response.status_code == 201 and i % 3 == 0:
            again = client.post("/api/v1/redemptions", headers=headers, json={
                "redemption_id": f"W{worker}-{i}", "member": member, "points": POINTS_EACH})
            codes.append(("retry", again.status_code))
    results.put(codes)


def test_parallel_redemptions_spend_exactly_what_is_affordable(pg_app):
    from engine import policies
    from server.auth import create_key
    from server.extensions import db
    with pg_app.app_context():
        session = db.session()
        _row, key = create_key(session, "shop", "shop")
        policies.save_draft(session, "accrual", ACCRUAL_BASIC, author="test")
        policies.publish(session, "accrual", by="test", effective_from=T0)
        member = members.create(session, {"name": "Shared"})
        orders.record_purchase(session, PurchaseDoc(
            source="shop", external_id="O1", document_type="order", member_ref=member.loyalty_id,
            placed_at=T0, currency="PLN", status="fulfilled",
            lines=(LineDoc(1, "A", Decimal(1), Decimal(BALANCE * 10), Decimal(BALANCE * 10)),)),
            actor="test", now=T0)
        session.commit()
        loyalty_id = member.loyalty_id

    codes = _at_once(_fire, [(pg_app.config["DATABASE_URL"], key, loyalty_id, n) for n in range(PROCESSES)])

    flat = [c for batch in codes for c in batch]
    firsts = [c for c in flat if not isinstance(c, tuple)]
    retries = [c[1] for c in flat if isinstance(c, tuple)]
    assert firsts.count(201) == BALANCE // POINTS_EACH
    assert set(firsts) <= {201, 422}
    assert set(retries) <= {201}

    with pg_app.app_context():
        session = db.session()
        member = members.get(session, loyalty_id)
        balance = ledger.balance(session, member.account, clock.now())
        assert balance.available == BALANCE % POINTS_EACH and balance.debt == 0
        spent = session.execute(select(func.count(Redemption.id))).scalar_one()
        assert spent == BALANCE // POINTS_EACH
        assert session.execute(select(func.sum(LedgerEntry.amount)).where(
            LedgerEntry.kind == "redemption")).scalar_one() == -POINTS_EACH * spent
        assert check(session) == []


def test_the_account_lock_does_not_wait_for_foreign_keys_but_still_excludes_writers(pg_app):
    """Two orders of one member at once: each INSERT of a document takes the foreign key's
    FOR KEY SHARE on the account row, then each takes the account lock. With FOR UPDATE the
    second lock waited for the first order's key share and the first for the second's: a
    deadlock (seen in bench_http's mix). The lock is FOR NO KEY UPDATE: it ignores key shares
    and still serialises the ledger writers of the account."""
    import pytest
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    from engine.ledger.locks import lock_account
    from server.extensions import db
    with pg_app.app_context():
        session = db.session()
        account_id = members.create(session, {"name": "Two tills"}).account_id
        session.commit()
        other = db.engine.connect()
        try:
            other.execute(text("SELECT id FROM accounts WHERE id = :id FOR KEY SHARE"), {"id": account_id})
            session.execute(text("SET LOCAL lock_timeout = '1s'"))
            assert lock_account(session, account_id).id == account_id  # not blocked by the key share
            session.rollback()
            other.rollback()

            lock_account(session, account_id)  # a writer holds the account ...
            other.execute(text("SET LOCAL lock_timeout = '500ms'"))
            with pytest.raises(OperationalError, match="lock timeout"):
                lock_account(Session(bind=other), account_id)  # ... so another writer waits
        finally:
            session.rollback()
            other.rollback()
            other.close()


def _twin(url: str, key: str, body: dict, start, results) -> None:
    """One process posting ``body`` once, at the same moment as the others."""
    os.environ["LOYALTY_INSTANCE"] = f"/tmp/loyalty-conc-{os.getpid()}"
    from server.app import create_app
    app = create_app({"TESTING": True, "DATABASE_URL": url, "REDIS_URL": None,
                      "SECRET_KEY": "t", "SECRET_KEY_IS_EPHEMERAL": False})
    client = app.test_client()
    client.get("/readyz")
    start.wait()
    response = client.post("/api/v1/orders", headers={"Authorization": f"Bearer {key}"}, json=body)
    results.put((response.status_code, response.get_data(as_text=True)))


def test_the_same_order_sent_at_once_from_several_processes_accrues_once(pg_app):
    """No key is looked up before the work: the twins all do it, one commits, the others meet its
    document or its record, roll back and answer with its body."""
    import json

    from engine import policies
    from engine.models import Document
    from server.auth import create_key
    from server.extensions import db
    with pg_app.app_context():
        session = db.session()
        _row, key = create_key(session, "shop", "shop")
        policies.save_draft(session, "accrual", ACCRUAL_BASIC, author="test")
        policies.publish(session, "accrual", by="test", effective_from=T0)
        loyalty_id = members.create(session, {"name": "Twin"}).loyalty_id
        session.commit()
    body = {"order_id": "TWIN-1", "member": loyalty_id, "placed_at": clock.now().isoformat(),
            "currency": "PLN", "status": "fulfilled",
            "lines": [{"line_no": 1, "sku": "A", "quantity": 2, "unit_price": "50.00"}]}
    answers = _at_once(_twin, [(pg_app.config["DATABASE_URL"], key, body)] * 4)
    assert {status for status, _ in answers} == {201}, answers
    assert len({text for _, text in answers}) == 1  # the first answer, byte for byte
    earned = Decimal(json.loads(answers[0][1])["earned"])
    assert earned > 0
    with pg_app.app_context():
        session = db.session()
        assert session.execute(select(func.count(Document.id))).scalar_one() == 1
        entries = session.execute(select(LedgerEntry.amount).where(LedgerEntry.kind == "accrual")).scalars().all()
        assert entries == [earned]
        assert check(session) == []
