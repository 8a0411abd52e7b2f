"""Delivery to 1C: late commits are never skipped, the watermark only moves past settled,
delivered entries, and what 1C itself booked is not echoed back."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select

from engine import clock, members
from engine.members import adjustments
from engine.models import Delivered, DeliveryCursor
from server.extensions import session_factory
from tests.integration.onec.cml import operations, profiles


def _member(app, name: str, phone: str) -> str:
    from server.extensions import db
    with app.app_context():
        session = db.session()
        member = members.create(session, {"name": name, "phone": phone})
        session.commit()
        return member.loyalty_id


def _adjust(session, loyalty_id: str, points: int, key: str):
    member = members.get(session, loyalty_id)
    return adjustments.adjust(session, member, Decimal(points), reason="test", actor="test",
                              key=key, now=clock.now())


def test_an_entry_committed_late_is_still_delivered(pg_app, onec):
    """Entry ids are taken at insert and seen at commit: a cursor on 'the last id sent'
    would skip an entry whose transaction commits after a later one was delivered."""
    first = _member(pg_app, "Анна", "+79120000001")
    second = _member(pg_app, "Борис", "+79120000002")
    database = session_factory(pg_app)
    slow, fast = database.new_session(), database.new_session()
    try:
        early = _adjust(slow, first, 10, "slow")  # id taken, not committed yet
        late = _adjust(fast, second, 20, "fast")
        fast.commit()
        assert early.id < late.id
        client = onec()
        client.checkauth()
        client.init()
        assert [o["id"] for o in operations(client.query())] == [f"bonus-{late.id}"]
        assert client.success() == ["success"]
        slow.commit()
    finally:
        slow.close()
        fast.close()
    client = onec()
    client.checkauth()
    body = client.query()
    assert [o["id"] for o in operations(body)] == [f"bonus-{early.id}"]
    assert [p["id"] for p in profiles(body)] == [first]  # no 1C card: the loyalty id
    assert client.success() == ["success"]


def test_the_watermark_moves_only_past_settled_entries(app, onec):
    anna = _member(app, "Анна", "+79120000001")
    from server.extensions import db
    with app.app_context():
        session = db.session()
        ids = [_adjust(session, anna, 5, f"k{i}").id for i in range(3)]
        session.commit()
    client = onec()
    client.checkauth()
    assert len(operations(client.query())) == 3
    client.success()
    with app.app_context():
        session = db.session()
        cursor = session.execute(select(DeliveryCursor)).scalar_one()
        assert cursor.entry_watermark == 0  # too fresh: a transaction might still commit below
        delivered = session.execute(select(func.count(Delivered.id))
                                    .where(Delivered.kind == "entry")).scalar_one()
        assert delivered == 3
    with clock.travel(timedelta(hours=2)):
        later = onec()
        later.checkauth()
        assert operations(later.query()) == []
        later.success()
    with app.app_context():
        session = db.session()
        cursor = session.execute(select(DeliveryCursor)).scalar_one()
        assert cursor.entry_watermark == max(ids)
        assert session.execute(select(func.count(Delivered.id))
                               .where(Delivered.kind == "entry")).scalar_one() == 0
        session.expire_all()
        _adjust(session, anna, 7, "after")
        session.commit()
    last = onec()
    last.checkauth()
    assert [o["accrued"] for o in operations(last.query())] == ["7"]
