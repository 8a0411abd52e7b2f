"""The channels against real servers on loopback: SMTP with STARTTLS and a login, the SMS gateways'
request shapes and answers. No database here: a channel only sends."""
from __future__ import annotations

import pytest

from exporters.channels import email, sms
from tests.support.receivers import HttpReceiver, smsapi_answer, start_smtp


@pytest.fixture
def receiver():
    server = HttpReceiver().start()
    yield server
    server.stop()


def test_email_goes_over_starttls_with_a_login_and_carries_the_delivery_key(tmp_path):
    smtp = start_smtp(starttls_folder=tmp_path, users={"club": "s3cret"})
    try:
        sender = email.SmtpSender(host="127.0.0.1", port=smtp.port, security="starttls", user="club",
                                  password="s3cret", sender="club@example.com", verify_tls=False)
        outcome = sender.send("anna@example.com", "Punkty", "Masz 10 pkt.", delivery_key="msg_abc")
        assert outcome.ok, outcome
        [mail] = smtp.messages
        assert mail.mail_from == "club@example.com" and mail.rcpt_tos == ["anna@example.com"]
        assert b"Message-ID: <msg_abc@example.com>" in mail.content and b"Masz 10 pkt." in mail.content
        refused = sender.send("nobody@example.com", "x", "y", delivery_key="msg_def")
        assert not refused.ok and "no such mailbox" in refused.detail and not refused.retry
        plain = email.SmtpSender(host="127.0.0.1", port=smtp.port, security="none", sender="club@example.com")
        assert not plain.send("anna@example.com", "x", "y", delivery_key="msg_ghi").ok  # TLS is required
        assert len(smtp.messages) == 1
    finally:
        smtp.stop()


def test_smsapi_shape_and_its_error_answer(receiver):
    receiver.answer = smsapi_answer
    gateway = sms.gateway({"gateway": "smsapi", "token": "tok", "sender": "Sklep", "url": receiver.url})
    assert gateway.send("+48 601 234 567", "Zażółć 10 pkt", key="msg_1").ok
    request = receiver.requests[0]
    assert request.path == "/sms.do" and request.headers["authorization"] == "Bearer tok"
    assert request.form == {"to": "48601234567", "message": "Zażółć 10 pkt", "format": "json",
                            "encoding": "utf-8", "from": "Sklep", "idx": "msg_1", "check_idx": "1"}
    receiver.answer = lambda _r: (200, {"error": 101, "message": "Authorization failed"})
    outcome = gateway.send("+48601234567", "x")
    assert not outcome.ok and "101" in outcome.detail and not outcome.retry


def test_smsru_shape(receiver):
    receiver.answer = lambda r: (200, {"status": "OK", "status_code": 100, "sms": {
        r.form["to"]: {"status": "OK", "status_code": 100, "sms_id": "000000-10000000"}}})
    gateway = sms.gateway({"gateway": "smsru", "token": "api-id", "url": receiver.url})
    assert gateway.send("+7 912 345-67-89", "Начислено 10 баллов").ok
    request = receiver.requests[0]
    assert request.path == "/sms/send"
    assert request.form == {"api_id": "api-id", "to": "79123456789", "msg": "Начислено 10 баллов", "json": "1"}
    receiver.answer = lambda r: (200, {"status": "OK", "sms": {r.form["to"]: {
        "status": "ERROR", "status_code": 207, "status_text": "no route"}}})
    assert not gateway.send("+79123456789", "x").ok


def test_turbosms_shape_and_a_server_error_is_retried(receiver):
    receiver.answer = lambda _r: (200, {"response_code": 800, "response_status": "SUCCESS_MESSAGE_ACCEPTED"})
    gateway = sms.gateway({"gateway": "turbosms", "token": "tok", "sender": "SHOP", "url": receiver.url})
    assert gateway.send("+380 67 123 4567", "10 балів").ok
    request = receiver.requests[0]
    assert request.path == "/message/send.json" and request.headers["authorization"] == "Bearer tok"
    assert request.json == {"recipients": ["380671234567"], "sms": {"sender": "SHOP", "text": "10 балів"}}
    receiver.statuses = [503]
    outcome = gateway.send("+380671234567", "x")
    assert not outcome.ok and outcome.retry and outcome.status_code == 503


def test_the_log_gateway_and_an_unknown_name():
    gateway = sms.gateway({"gateway": "log"})
    assert gateway.send("+48601234567", "hello").ok and gateway.sent == [("+48601234567", "hello")]
    with pytest.raises(ValueError, match="smsapi"):
        sms.gateway({"gateway": "carrier-pigeon"})


def test_a_batchs_mails_share_one_connection_and_a_dropped_one_is_opened_again(tmp_path):
    smtp = start_smtp(starttls_folder=tmp_path, users={"club": "s3cret"})
    session = email.SmtpSession(email.SmtpSender(host="127.0.0.1", port=smtp.port, security="starttls", user="club",
                                                 password="s3cret", sender="club@example.com", verify_tls=False))
    try:
        assert session.send("anna@example.com", "1", "one", delivery_key="msg_1").ok
        client = session.client
        refused = session.send("nobody@example.com", "x", "y", delivery_key="msg_2")
        assert not refused.ok and not refused.retry
        assert session.send("anna@example.com", "3", "three", delivery_key="msg_3").ok
        assert session.client is client  # the same logged-in connection
        client.close()  # the connection is gone (the server timed it out while idle)
        assert session.send("anna@example.com", "4", "four", delivery_key="msg_4").ok
        assert session.client is not client
        assert [m.content.split(b"Message-ID: <", 1)[1][:5] for m in smtp.messages] == [b"msg_1", b"msg_3",
                                                                                      b"msg_4"]
        session.close()
        assert session.client is None
    finally:
        session.close()
        smtp.stop()
