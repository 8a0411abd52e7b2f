"""The monthly digest, mission completions and the triggers other rooms call, end to end with real parts:
orders through the shop API, the digest through `loyalty notify digest`, SMS to an HTTP receiver on loopback."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from engine import clock, members, outbox
from engine.models import OutboxMessage
from tests.integration import test_outbox as base
from tests.integration.test_missions import MISSION_POLICY, define, order
from tests.integration.test_outbox import buy, enrol
from tests.support.receivers import smsapi_answer

shop, receiver = base.shop, base.receiver  # the outbox tests' fixtures


def _messages(app, **where) -> list[OutboxMessage]:
    from server.extensions import db
    with app.app_context():
        query = select(OutboxMessage).order_by(OutboxMessage.id)
        for name, value in where.items():
            query = query.where(getattr(OutboxMessage, name) == value)
        return list(db.session().execute(query).scalars())


def _digest(app, *args):
    return app.test_cli_runner().invoke(args=["notify", "digest", *args])


def test_the_digest_run_twice_sends_once_with_the_months_figures_in_the_members_language(
        shop, receiver, target_app):
    receiver.answer = smsapi_answer
    jan = enrol(shop, "u-1")
    ola = enrol(shop, "u-2", name="Ola", phone="602 000 111", attributes={"language": "pl"})
    enrol(shop, "u-3", name="Nobody", phone="603 000 111", consent_sms=False)
    buy(shop, "O-1", jan, "100.00")
    buy(shop, "O-2", ola, "250.00")
    receiver.requests.clear()
    month = clock.now().strftime("%Y-%m")
    first = _digest(target_app, "--month", month)
    assert first.exit_code == 0, first.output
    assert '"members": 2' in first.output and '"messages": 2' in first.output
    again = _digest(target_app, "--month", month)
    assert again.exit_code == 0 and '"messages": 0' in again.output
    texts = sorted(r.form["message"] for r in receiver.requests)
    assert texts == [f"{month}: +10 / -0 points. Balance: 10.", f"{month}: +25 / -0 pkt. Saldo: 25 pkt."]
    digests = _messages(target_app, trigger="digest.monthly")
    assert [(m.state, m.language, m.variables["earned"]) for m in digests] == [("sent", "en", "10"),
                                                                               ("sent", "pl", "25")]


def test_consent_withdrawn_gets_no_digest_and_a_bad_month_changes_nothing(shop, receiver, target_app):
    member = enrol(shop)
    buy(shop, "O-1", member, "100.00")
    from server.extensions import db
    with target_app.app_context():
        session = db.session()
        members.update(session, members.get(session, member["loyalty_id"]), {"consent_sms": False})
        session.commit()
    receiver.requests.clear()
    for bad in ("2026-13", "last month", "2999-01"):
        result = _digest(target_app, "--month", bad)
        assert result.exit_code == 2 and "--month" in result.output, result.output
    assert _digest(target_app, "--month", clock.now().strftime("%Y-%m")).exit_code == 0
    assert receiver.requests == [] and _messages(target_app, trigger="digest.monthly") == []


def test_the_default_month_is_the_one_before():
    tz = ZoneInfo("Europe/Warsaw")
    # 00:30 on 1 December in Warsaw is still 30 November in UTC: the program's zone decides.
    assert outbox.digest.parse_month(None, datetime(2026, 11, 30, 23, 30, tzinfo=ZoneInfo("UTC")), tz).month == 11


@pytest.fixture
def mission_shop(shop, publish):
    publish(MISSION_POLICY)
    return shop


def test_a_mission_completion_sends_one_message_and_one_webhook(mission_shop, receiver, target_app):
    receiver.answer = smsapi_answer
    sub = mission_shop("POST", "/api/v1/webhooks", key="admin", json={
        "name": "crm", "url": receiver.url + "/hooks", "event_types": ["mission.completed"]})
    assert sub.status_code == 201, sub.get_json()
    mission = define(mission_shop)
    member = enrol(mission_shop)["loyalty_id"]
    joined = mission_shop("POST", f"/api/v1/members/{member}/missions/{mission['id']}/join")
    assert joined.status_code == 200
    order(mission_shop, "O-1", member, [("130", 1, 200)])
    assert receiver.requests == []  # tools earn no ordinary points, and the target is not reached yet
    order(mission_shop, "O-2", member, [("130", 1, 150)])
    sms = [r.form["message"] for r in receiver.requests if r.path == "/sms.do"]
    assert sms == ['Mission "Buy 300 PLN of tools" completed: +50 points. Balance: 50.']
    [hook] = [r for r in receiver.requests if r.path == "/hooks"]
    assert hook.json["type"] == "mission.completed" and hook.json["data"]["reward"] == "50"
    assert len(_messages(target_app, trigger="mission.completed")) == 2


def test_notify_and_publish_event_for_other_rooms_triggers(shop, receiver, target_app):
    """What the tiers and rewards rooms call: once per cause, documented variables only."""
    receiver.answer = smsapi_answer
    member = enrol(shop)
    from server.extensions import db
    with target_app.app_context():
        session = db.session()
        row = members.get(session, member["loyalty_id"])
        for _ in range(2):
            outbox.notify(session, row, "tier.changed", f"tier:{row.id}:1",
                          {"tier": "Gold", "previous_tier": "Silver", "direction": "up"}, clock.now())
        outbox.notify(session, row, "reward_order.status_changed", "reward_order:7:shipped",
                      {"reward": "Mug", "order_number": "R-7", "status": "shipped", "previous_status": "paid"},
                      clock.now())
        with pytest.raises(ValueError, match="tier.changd"):
            outbox.notify(session, row, "tier.changd", "x", {}, clock.now())
        session.commit()
        assert session.execute(select(func.count(OutboxMessage.id))).scalar_one() == 2
    assert sorted(r.form["message"] for r in receiver.requests) == [
        "Your reward order R-7 (Mug): shipped.", "Your tier is now Gold (was Silver)."]
    assert {"tier.changed", "reward_order.status_changed", "mission.completed"} <= set(outbox.EVENT_TYPES)


def test_the_digest_goes_a_batch_at_a_time_and_resumes_where_it_stopped(shop, receiver, target_app):
    receiver.answer = smsapi_answer
    for n in range(3):
        enrol(shop, f"u-{n}", phone=f"60100020{n}")
    month = clock.now().strftime("%Y-%m")
    from server.extensions import db
    with target_app.app_context():
        session = db.session()
        commits = []
        # A run that "crashes" after its first batch of two: those two are committed, the third is not.
        with pytest.raises(RuntimeError):
            outbox.send_digest(session, clock.now(), month, batch=2,
                               commit=lambda: (session.commit(), commits.append(1), _stop(len(commits))))
        session.rollback()
        report = outbox.send_digest(session, clock.now(), month, batch=2, commit=session.commit)
        assert report == {"month": month, "members": 3, "messages": 1}
    assert len(_messages(target_app, trigger="digest.monthly")) == 3 and len(receiver.requests) == 3


def _stop(commits: int) -> None:
    if commits == 1:
        raise RuntimeError("the worker stopped")


def test_the_digest_is_on_the_cron_schedule_next_to_the_nightly_jobs(app, monkeypatch):
    from server import jobs, schedule
    from server.extensions import rq
    monkeypatch.setattr(rq, "_cron_job_data", [])
    monkeypatch.setitem(app.config, "DIGEST_CRON", "0 7 1 * *")
    schedule.register(app)
    crons = {job["func"]: (job["cron"], job["queue_name"]) for job in rq._cron_job_data}
    assert crons[jobs.run_digest] == ("0 7 1 * *", "default")
    assert jobs.run_daily in crons and jobs.deliver_due in crons
