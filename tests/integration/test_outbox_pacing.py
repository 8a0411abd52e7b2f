"""The per-gateway rate limit: deliveries wait for a slot and are never dropped, inline and across processes.

Measured on a real HTTP receiver on loopback: the spacing of the requests it
sees is what the gateway would see.
"""
from __future__ import annotations

import multiprocessing
import uuid

import requests

from engine import clock
from server import pacing
from tests.integration import test_outbox as base
from tests.integration.test_outbox import enrol
from tests.support.receivers import smsapi_answer

shop, receiver = base.shop, base.receiver  # the outbox tests' fixtures


def _gaps(times: list[float]) -> list[float]:
    times = sorted(times)
    return [b - a for a, b in zip(times, times[1:], strict=False)]


def test_inline_deliveries_are_paced_to_the_gateways_rate(shop, receiver, target_app, monkeypatch):
    receiver.answer = smsapi_answer
    for n in range(6):
        enrol(shop, f"u-{n}", phone=f"60100010{n}")
    monkeypatch.setitem(target_app.config, "SMS_RATE", 5.0)  # one SMS every 0.2 s
    # Six messages committed at once (the digest), delivered inline one after another.
    result = target_app.test_cli_runner().invoke(args=["notify", "digest", "--month", clock.now().strftime("%Y-%m")])
    assert result.exit_code == 0 and '"messages": 6' in result.output, result.output
    assert len(receiver.requests) == 6  # all of them: waited, none dropped
    gaps = _gaps([r.at for r in receiver.requests])
    assert min(gaps) >= 0.1, gaps  # a slot every 0.2 s; a late send shortens only the next gap
    assert sum(gaps) >= 0.95, gaps


def _send_paced(redis_url: str, key: str, url: str, count: int, rate: float) -> None:
    from redis import Redis
    pacer = pacing.Pacer(Redis.from_url(redis_url))
    for n in range(count):
        pacer.wait(key, rate)
        requests.post(url + "/sms.do", data={"n": str(n)}, timeout=5)


def test_two_processes_share_one_gateways_rate_through_redis(redis_url, receiver):
    key = f"sms:test-{uuid.uuid4().hex}"
    fork = multiprocessing.get_context("fork")
    workers = [fork.Process(target=_send_paced, args=(redis_url, key, receiver.url, 8, 20.0)) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
        assert worker.exitcode == 0
    assert len(receiver.requests) == 16
    gaps = _gaps([r.at for r in receiver.requests])
    # 16 slots of 50 ms: 0.75 s at least for the lot, where each process alone would take 0.35 s.
    assert sum(gaps) >= 0.7, gaps
    assert sorted(gaps)[len(gaps) // 2] >= 0.04, gaps  # spaced all along, not in bursts


def test_no_rate_means_no_wait_and_a_rate_per_channel():
    pacer = pacing.Pacer()
    assert pacer.slot("sms:x", 0) == 0 and pacer.slot("sms:x", 0) == 0
    assert pacer.slot("sms:y", 2) == 0 and 0.45 < pacer.slot("sms:y", 2) <= 0.5
    config = {"SMS": {"gateway": "smsapi"}, "SMS_RATE": 7, "SMTP": {"host": "mail"}, "SMTP_RATE": 3}
    assert pacing.limit_for("sms", config) == ("sms:smsapi", 7.0)
    assert pacing.limit_for("email", config) == ("email:mail", 3.0)
    assert pacing.limit_for("webhook", config) == ("webhook:any", 0.0)
