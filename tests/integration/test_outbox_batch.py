"""Delivery a batch at a time: a constant number of statements, and the same guarantees as one at a time.

A real SMS gateway on loopback (SMSAPI's shape) receives the sends; the
messages are real rows, claimed and recorded by `engine.outbox.batch` on
PostgreSQL and SQLite. A batch cut off after its sends (the worker died
before recording) is sent again only where it was not recorded, with the
same delivery keys.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, select

from engine import clock, outbox
from engine.models import OutboxMessage
from exporters.channels import dispatch
from tests.support.receivers import HttpReceiver, smsapi_answer


@pytest.fixture
def gateway(app, monkeypatch):
    receiver = HttpReceiver(answer=smsapi_answer).start()
    monkeypatch.setitem(app.config, "SMS", {"gateway": "smsapi", "token": "t", "url": receiver.url})
    monkeypatch.setitem(app.config, "SMS_QUIET_HOURS", "")
    yield receiver
    receiver.stop()


def _write(session, count: int, start: int = 0) -> list[int]:
    """``count`` queued SMS, committed without the after-commit delivery (the test delivers them)."""
    outbox.enqueue_many(session, [
        {"trigger": "points.credited", "channel": "sms", "cause_key": f"batch:{n}", "recipient": f"+4860000{n:04d}",
         "language": "en", "variables": {"amount": "10", "balance": str(n)}} for n in range(start, start + count)],
        clock.now())
    ids = outbox.pending_ids(session)
    session.commit()
    return ids


def _messages(session) -> list[OutboxMessage]:
    session.expire_all()
    return list(session.execute(select(OutboxMessage).order_by(OutboxMessage.id)).scalars())


def _statements(app, job, *args) -> int:
    from server.extensions import db
    seen = []

    def count(*_args):
        seen.append(1)
    event.listen(db.engine, "before_cursor_execute", count)
    try:
        with app.app_context():
            job(*args)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    return len(seen)


def test_a_batch_costs_the_same_statements_for_4_messages_as_for_40(app, ctx, session, gateway):
    from server import jobs
    few, many = _write(session, 4), _write(session, 40, start=4)
    assert _statements(app, jobs.deliver_messages, few) == _statements(app, jobs.deliver_messages, many) <= 12
    rows = _messages(session)
    assert [m.state for m in rows] == ["sent"] * 44
    assert [[a.outcome for a in m.attempt_rows] for m in rows] == [["sent"]] * 44
    keys = [r.form["idx"] for r in gateway.requests]
    assert sorted(keys) == sorted(m.delivery_key for m in rows)
    assert gateway.requests[4].form["message"] == "You earned 10 points. Your balance: 4 points."


def test_a_batch_cut_off_after_its_sends_resends_only_the_unrecorded_with_the_same_keys(app, ctx, session,
                                                                                        gateway):
    from server import jobs
    ids = _write(session, 6)
    claims = outbox.claim_batch(session, ids, clock.now())
    session.commit()
    channels = dispatch.from_config(app.config)
    results = [(c, dispatch.send(session, c, channels)) for c in claims]
    channels.close()
    assert len(gateway.requests) == 6 and all(o.ok for _, o in results)
    outbox.record_batch(session, results[:3], clock.now())
    session.commit()  # … and the worker dies before recording the other three
    assert jobs.deliver_due() == {"queued": 0}  # their claims still hold
    with clock.travel(outbox.LEASE + timedelta(seconds=1)):
        assert jobs.deliver_due() == {"queued": 3}
    rows = _messages(session)
    assert [m.state for m in rows] == ["sent"] * 6
    assert [[a.outcome for a in m.attempt_rows] for m in rows] == [["sent"]] * 3 + [["unknown", "sent"]] * 3
    resent = [r.form["idx"] for r in gateway.requests[6:]]
    assert resent == [m.delivery_key for m in rows[3:]]
    assert len({r.form["idx"] for r in gateway.requests}) == 6


def test_a_claim_taken_over_after_it_ran_out_is_neither_renewed_nor_recorded_by_the_late_worker(app, ctx, session,
                                                                                                gateway):
    ids = _write(session, 2)
    late = outbox.claim_batch(session, ids, clock.now())
    session.commit()
    assert [c.number for c in late] == [1, 1]
    assert outbox.claim_batch(session, ids, clock.now()) == []  # held
    with clock.travel(outbox.LEASE / 2):
        assert outbox.renew(session, late[:1], clock.now()) == late[:1]  # still this worker's: extended
        session.commit()
    with clock.travel(outbox.LEASE + timedelta(seconds=1)):
        taken = outbox.claim_batch(session, ids, clock.now())  # the other one's claim ran out
        session.commit()
        assert [(c.message_id, c.number) for c in taken] == [(ids[1], 2)]
        assert outbox.renew(session, late, clock.now()) == late[:1]
        session.commit()
        ok = dispatch.Outcome(True, 200, "late")
        outbox.record_batch(session, [(c, ok) for c in late], clock.now())
        session.commit()
        assert [m.state for m in _messages(session)] == ["sent", "queued"]  # the late outcome left #2 alone
        outbox.record_batch(session, [(c, ok) for c in taken], clock.now())
        session.commit()
    assert [(m.state, m.attempts) for m in _messages(session)] == [("sent", 1), ("sent", 2)]
    assert outbox.claim_batch(session, [], clock.now()) == []


def test_a_failed_send_in_a_batch_is_retried_after_its_delay_and_the_rest_are_sent(app, ctx, session, gateway):
    from server import jobs
    ids = _write(session, 3)
    gateway.statuses = [200, 500]  # the second request fails
    assert jobs.deliver_messages(ids)["states"] == {"sent": 2, "failed": 1}
    rows = _messages(session)
    assert [m.state for m in rows] == ["sent", "failed", "sent"]
    assert rows[1].next_attempt_at > clock.now() and rows[1].last_error
    with clock.travel(timedelta(seconds=6)):
        assert jobs.deliver_due() == {"queued": 1}
    assert [m.state for m in _messages(session)] == ["sent"] * 3
    assert gateway.requests[1].form["idx"] == gateway.requests[3].form["idx"]


def test_a_batch_slower_than_half_its_claim_records_as_it_goes_and_renews_the_rest(app, ctx, session, gateway,
                                                                                   monkeypatch):
    from server import jobs
    ids = _write(session, 5)
    monkeypatch.setattr(outbox, "LEASE", timedelta(0))  # the worker thinks every send is late: renew before each
    renewed = []
    monkeypatch.setattr(outbox, "renew", lambda *a, **k: renewed.append(len(a[1])) or outbox.batch.renew(*a, **k))
    assert jobs.deliver_messages(ids)["states"] == {"sent": 5}
    assert renewed == [5, 4, 3, 2, 1]
    rows = _messages(session)
    assert [(m.state, m.attempts, m.claimed_until) for m in rows] == [("sent", 1, None)] * 5
    assert sorted(r.form["idx"] for r in gateway.requests) == sorted(m.delivery_key for m in rows)
