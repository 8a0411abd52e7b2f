"""Configuration cached per process (`engine.config_stamp`): never stale after a change another process
committed, never poisoned by a change rolled back; and the order's document written in one statement."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event

from tests.conftest import ACCRUAL_BASIC, EPOCH, auth
from tests.integration.test_api import PLACED

ROOT = Path(__file__).resolve().parents[2]
TEN_PER_LINE = {"policy": "accrual", "rules": [  # 10 points a line, whatever it costs
    {"id": "ten", "scope": "line", "priority": 10,
     "conditions": {"all": [{"name": "line_total", "operator": "greater_than", "value": 0}]},
     "actions": [{"name": "earn_fixed", "params": {"points": 10}}]}]}


def _url(app) -> str:
    from server.extensions import db
    with app.app_context():
        return db.engine.url.render_as_string(hide_password=False)


def _elsewhere(app, code: str) -> None:
    """Run ``code`` in another Python process on the app's database, with a session ``s`` it commits."""
    script = (f"import sqlalchemy as sa\nfrom sqlalchemy.orm import Session\nfrom engine import clock\n"
              f"s = Session(sa.create_engine({_url(app)!r}))\n{textwrap.dedent(code)}\ns.commit()\n")
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120, cwd=ROOT,
                   env={**os.environ, "PYTHONPATH": str(ROOT)})


def _order(client, headers, member, order_id, *, group="120"):
    response = client.post("/api/v1/orders", headers=headers, json={
        "order_id": order_id, "member": member, "placed_at": PLACED, "currency": "PLN", "status": "fulfilled",
        "lines": [{"line_no": 1, "sku": "A", "quantity": 1, "unit_price": "100", "product_group": group}]})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _statements(app, run) -> list[str]:
    from server.extensions import db
    seen: list[str] = []
    with app.app_context():
        engine = db.engine
    listener = lambda _c, _cur, statement, *_a: seen.append(statement)  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        run()
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    return seen


def _member(client, headers) -> str:
    return client.post("/api/v1/members", json={"name": "Ola"}, headers=headers).get_json()["loyalty_id"]


def test_a_policy_published_by_another_process_applies_to_the_next_order(pg_app, keys, publish):
    client, headers = pg_app.test_client(), auth(keys["shop"])
    publish(ACCRUAL_BASIC)
    member = _member(client, headers)
    assert _order(client, headers, member, "C1")["earned"] == "10"
    second = _statements(pg_app, lambda: _order(client, headers, member, "C2"))
    assert not [s for s in second if "FROM policy_versions" in s or "FROM missions" in s
                or "FROM webhook_subscriptions" in s], "the configuration was read again, not cached"
    _elsewhere(pg_app, f"""
        from engine import policies
        from datetime import datetime, UTC
        row = policies.save_draft(s, "accrual", {TEN_PER_LINE!r}, author="elsewhere")
        policies.publish(s, "accrual", by="elsewhere", version=row.version,
                         effective_from=datetime.fromisoformat({EPOCH.isoformat()!r}))
    """)
    assert _order(client, headers, member, "C3")["earned"] == "10"  # 10 a line: one line of 100
    assert _order(client, headers, member, "C4", group="110")["earned"] == "10"  # no ×2 for group 110 now


def test_a_webhook_subscribed_by_another_process_hears_of_the_next_credit(pg_app, keys, publish):
    from engine.models import OutboxMessage
    from server.extensions import db
    client, headers = pg_app.test_client(), auth(keys["shop"])
    publish(ACCRUAL_BASIC)
    member = _member(client, headers)

    def webhooks() -> int:
        with pg_app.app_context():
            return db.session().execute(sa.select(sa.func.count()).select_from(OutboxMessage).where(
                OutboxMessage.channel == "webhook")).scalar_one()

    _order(client, headers, member, "W1")
    assert webhooks() == 0
    _elsewhere(pg_app, """
        from engine.outbox import webhooks
        webhooks.create_subscription(s, name="crm", url="https://crm.example.com/hook",
                                     event_types=["points.credited"], now=clock.now())
    """)
    _order(client, headers, member, "W2")
    assert webhooks() == 1
    _elsewhere(pg_app, "s.execute(sa.text(\"UPDATE webhook_subscriptions SET active = false\"))")
    _order(client, headers, member, "W3")
    assert webhooks() == 1


def test_a_change_rolled_back_is_never_served(pg_app, keys, publish):
    from engine import policies
    from server.extensions import db
    client, headers = pg_app.test_client(), auth(keys["shop"])
    publish(ACCRUAL_BASIC)
    member = _member(client, headers)
    assert _order(client, headers, member, "R1")["earned"] == "10"
    with pg_app.app_context():
        session = db.session()
        before = session.execute(sa.text("SELECT stamp FROM config_stamp")).scalar_one()
        row = policies.save_draft(session, "accrual", TEN_PER_LINE, author="test")
        policies.publish(session, "accrual", by="test", version=row.version, effective_from=EPOCH)
        # This transaction sees its own change (and caches it under its own stamp, seen by nobody else).
        assert policies.active_ref(session, "accrual").version == row.version
        assert session.execute(sa.text("SELECT stamp FROM config_stamp")).scalar_one() != before
        session.rollback()
        assert session.execute(sa.text("SELECT stamp FROM config_stamp")).scalar_one() == before
    assert _order(client, headers, member, "R2", group="110")["earned"] == "20"  # the ×2 rule still rules


def test_the_stamp_changes_for_others_at_commit(pg_app):
    from engine import clock
    from engine.outbox import webhooks
    from server.extensions import db
    other = sa.create_engine(_url(pg_app))
    read = lambda: other.connect().execute(sa.text("SELECT stamp FROM config_stamp")).scalar_one()  # noqa: E731
    try:
        before = read()
        with pg_app.app_context():
            session = db.session()
            webhooks.create_subscription(session, name="x", url="https://x.example.com/", event_types=["*"],
                                         now=clock.now())
            assert read() == before  # written, not committed: others keep the old stamp (and config)
            session.commit()
        assert read() != before
    finally:
        other.dispose()


def test_the_document_and_lines_written_at_once_are_what_the_objects_hold(pg_app, keys, publish):
    from engine import clock
    from engine.documents import orders
    from engine.domain import LineDoc, Origin, PurchaseDoc
    from engine.models import Document, DocumentLine, Product
    from server.extensions import db
    client, headers = pg_app.test_client(), auth(keys["shop"])
    publish(ACCRUAL_BASIC)
    member = _member(client, headers)
    with pg_app.app_context():
        session = db.session()
        session.add(Product(sku="ECO", name="Kran", product_group="110", tags=["eco", "new"],
                            points_per_unit=Decimal("1.5")))
        session.flush()
        lines = tuple(LineDoc(line_no=n, sku=sku, name="", product_group="", brand="b", quantity=Decimal(q),
                              unit_price=Decimal("12.50"), line_total=Decimal(q) * Decimal("12.50"),
                              is_promo=n == 2) for n, sku, q in ((1, "ECO", "3"), (2, "OTHER", "1"), (7, "ECO", "2")))
        doc = PurchaseDoc(source="shop", external_id="D1", document_type="order", member_ref=member,
                          placed_at=clock.now(), currency="PLN", lines=lines, channel="web", store="s1",
                          shipping_total=Decimal("9.90"), status="fulfilled", origin=Origin("api", "t"),
                          codes=("LATO",))
        statements = _statements(pg_app, lambda: orders.record_purchase(session, doc, actor="t", now=clock.now()))
        document = orders.find(session, "shop", "D1")
        assert not [s for s in statements if s.startswith("UPDATE")]  # written once, complete
        assert len([s for s in statements if "INSERT INTO document_lines" in s]) == 1
        stored = session.connection().execute(sa.select(Document.__table__).where(
            Document.__table__.c.id == document.id)).one()._mapping
        assert {c: getattr(document, c) for c in stored.keys()} == dict(stored)
        stored_lines = [dict(r._mapping) for r in session.connection().execute(
            sa.select(DocumentLine.__table__).where(DocumentLine.__table__.c.document_id == document.id)
            .order_by(DocumentLine.__table__.c.line_no))]
        assert [{c: getattr(line, c) for c in row} for line, row in zip(document.lines, stored_lines)] == stored_lines
        assert stored_lines[0]["tags"] == ["eco", "new"] and stored_lines[1]["tags"] is None
        assert document.earned > 0 and not session.dirty
        session.rollback()


def test_a_statement_of_this_transaction_that_writes_a_stamped_table_is_seen_at_once(pg_app):
    from engine import clock
    from engine.models import WebhookSubscription
    from engine.outbox import triggers, webhooks
    from server.extensions import db
    with pg_app.app_context():
        session = db.session()
        webhooks.create_subscription(session, name="crm", url="https://crm.example.com/hook",
                                     event_types=["*"], now=clock.now())
        session.commit()
        assert [sub.name for sub in triggers.subscribers(session, "points.credited")] == ["crm"]  # cached
        # Not through the unit of work: an UPDATE statement of the session (its trigger gives a new stamp).
        session.execute(sa.update(WebhookSubscription).values(active=False))
        assert triggers.subscribers(session, "points.credited") == []
        session.rollback()
        assert [sub.name for sub in triggers.subscribers(session, "points.credited")] == ["crm"]
