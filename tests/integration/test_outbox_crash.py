"""A worker killed between the send and its commit: the message is not lost and arrives once.

A real RQ worker (``loyalty worker --burst``, a subprocess) takes the delivery
job; the SMS gateway on loopback receives the request and, before it
answers, the test kills the worker and its work horse with SIGKILL — so the
send happened but its outcome was never committed. When the claim runs out,
`deliver_due` sends again with the same delivery key, and the gateway
(like SMSAPI with ``check_idx``) counts one message.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from engine import clock, members
from engine.documents import orders
from engine.domain import LineDoc, PurchaseDoc
from engine.models import OutboxMessage
from engine.outbox.queue import LEASE
from tests.conftest import ACCRUAL_BASIC
from tests.support.receivers import HttpReceiver, smsapi_answer

ROOT = Path(__file__).resolve().parents[2]


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    if int(stat.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(entry))
            except (OSError, ValueError, IndexError):
                continue
    return out


def test_a_worker_killed_after_sending_loses_nothing_and_the_gateway_sees_one_message(
        pg_app, redis_url, publish, monkeypatch):
    publish(ACCRUAL_BASIC)
    from redis import Redis

    from server import jobs
    from server.app import create_app
    from server.extensions import db
    Redis.from_url(redis_url).flushdb()
    gateway = HttpReceiver(answer=smsapi_answer).start()
    worker = None

    def kill_the_worker(_request):
        for pid in _children(worker.pid) + [worker.pid]:  # the work horse is in a group of its own
            os.kill(pid, signal.SIGKILL)

    try:
        queued_app = create_app({"TESTING": True, "DATABASE_URL": pg_app.config["DATABASE_URL"],
                                 "REDIS_URL": redis_url, "SECRET_KEY": "t"})
        with queued_app.app_context():
            session = db.session()
            member = members.create(session, {"name": "Ola", "phone": "+48601234567", "consent_sms": True})
            orders.record_purchase(session, PurchaseDoc(
                source="shop", external_id="O-1", document_type="order", member_ref=member.loyalty_id,
                placed_at=clock.now(), currency="PLN", status="fulfilled",
                lines=(LineDoc(1, "A", Decimal(1), Decimal(100), Decimal(100)),)), actor="test", now=clock.now())
            session.commit()  # the delivery job is queued on Redis after this commit, not run
        assert gateway.requests == []
        gateway.before_answer = kill_the_worker
        env = {**os.environ, "DATABASE_URL": pg_app.config["DATABASE_URL"], "REDIS_URL": redis_url,
               "LOYALTY_INSTANCE": "/tmp/loyalty-outbox-worker-test", "SMS_GATEWAY": "smsapi",
               "SMS_TOKEN": "t", "SMS_API_URL": gateway.url, "SMS_QUIET_HOURS": ""}
        worker = subprocess.Popen([str(Path(sys.executable).with_name("loyalty")), "worker", "--burst",
                                   "-q", jobs.OUTBOX], cwd=ROOT, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        worker.wait(timeout=120)
        assert worker.returncode == -signal.SIGKILL, worker.stdout.read().decode()[-2000:]
        assert len(gateway.requests) == 1  # it was sent …
        with pg_app.app_context():
            message = db.session().execute(select(OutboxMessage)).scalar_one()
            assert message.state == "queued" and message.attempts == 1  # … but never recorded
            assert [a.outcome for a in message.attempt_rows] == [None]

        gateway.before_answer = None
        monkeypatch.setitem(pg_app.config, "SMS", {"gateway": "smsapi", "token": "t", "url": gateway.url})
        monkeypatch.setitem(pg_app.config, "SMS_QUIET_HOURS", "")
        with pg_app.app_context():
            assert jobs.deliver_due() == {"queued": 0}  # the dead worker's claim still holds
            with clock.travel(LEASE + timedelta(seconds=1)):
                assert jobs.deliver_due() == {"queued": 1}
                assert jobs.deliver_due() == {"queued": 0}
            session = db.session()
            session.expire_all()
            message = session.execute(select(OutboxMessage)).scalar_one()
            assert message.state == "sent" and message.attempts == 2
            assert [a.outcome for a in message.attempt_rows] == ["unknown", "sent"]
        keys = [r.form["idx"] for r in gateway.requests]
        assert len(keys) == 2 and len(set(keys)) == 1 and keys[0] == message.delivery_key
        assert {r.form["message"] for r in gateway.requests} == {"You earned 10 points. Your balance: 10 points."}
    finally:
        if worker is not None and worker.poll() is None:
            worker.kill()
        gateway.stop()
