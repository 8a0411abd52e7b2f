"""Pure parts of the outbox: Standard Webhooks signatures (the published vector), the SSRF guard,
template checks, quiet hours and the retry schedule."""
from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from engine.outbox import BACKOFF
from engine.outbox.queue import quiet_until
from exporters import messages
from exporters.channels import webhooks

# The test vector published with the Standard Webhooks reference libraries.
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
STAMP = 1614265330
BODY = '{"test": 2432232314}'
EXPECTED = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_signature_reproduces_the_standard_webhooks_test_vector():
    assert webhooks.sign(SECRET, MSG_ID, STAMP, BODY) == EXPECTED
    assert webhooks.sign(SECRET, MSG_ID, STAMP, BODY.encode()) == EXPECTED


def test_verify_accepts_the_vector_and_refuses_tampering_and_old_timestamps():
    headers = {"webhook-id": MSG_ID, "webhook-timestamp": str(STAMP), "webhook-signature": EXPECTED}
    assert webhooks.verify(SECRET, headers, BODY, now=STAMP + 10)
    assert not webhooks.verify(SECRET, headers, BODY.replace("2", "3"), now=STAMP)
    assert not webhooks.verify(SECRET, {**headers, "webhook-id": "msg_other"}, BODY, now=STAMP)
    assert not webhooks.verify(SECRET, headers, BODY, now=STAMP + webhooks.TOLERANCE + 1)


def test_during_a_rotation_every_secret_signs_and_either_verifies():
    new = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo="
    headers = webhooks.headers_for(MSG_ID, [new, SECRET], BODY.encode(), timestamp=STAMP)
    assert len(headers["webhook-signature"].split()) == 2
    assert webhooks.verify(SECRET, headers, BODY, now=STAMP)
    assert webhooks.verify(new, headers, BODY, now=STAMP)


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/x", "http://localhost/x", "http://10.1.2.3/",
                                 "http://169.254.169.254/latest/meta-data", "http://[::1]/", "ftp://example.com/",
                                 "http:///nohost"])
def test_the_guard_refuses_private_loopback_and_odd_urls(url):
    with pytest.raises(webhooks.UnsafeUrl):
        webhooks.guard(url)


def test_the_guard_lets_the_operator_allow_an_address_or_a_network():
    webhooks.guard("http://127.0.0.1:9/x", ("127.0.0.1",))
    webhooks.guard("http://10.1.2.3/", ("10.0.0.0/8",))
    with pytest.raises(webhooks.UnsafeUrl):
        webhooks.guard("http://10.1.2.3/", ("127.0.0.1",))
    webhooks.guard("http://93.184.215.14/hook")  # a public address needs no leave


def test_template_checks_name_the_unknown_variable_and_what_is_allowed():
    messages.check("points.credited", "sms", "pl", "+{{ amount }} / {{ balance }}")
    with pytest.raises(messages.TemplateError, match="nme.*member_name"):
        messages.check("points.credited", "sms", "en", "Hi {{ nme }}")
    with pytest.raises(messages.TemplateError, match="line 1"):
        messages.check("points.credited", "sms", "en", "{% if %}")
    with pytest.raises(messages.TemplateError, match="subject"):
        messages.check("points.expiring", "email", "en", "{{ points }}", subject="{{ amount }}")
    with pytest.raises(messages.TemplateError, match="no trigger"):
        messages.check("points.creditted", "sms", "en", "x")


def test_the_sandbox_refuses_attribute_tricks_at_render_time():
    from jinja2.exceptions import SecurityError
    with pytest.raises(SecurityError):
        messages.render_text("{{ amount.__class__.__mro__ }}", {"amount": "1"})


def test_every_default_template_passes_its_own_check():
    for (trigger, channel, language), (subject, body) in messages.DEFAULTS.items():
        messages.check(trigger, channel, language, body, subject)
    assert {lang for (_t, _c, lang) in messages.DEFAULTS} == {"en", "pl", "ru"}


WARSAW = ZoneInfo("Europe/Warsaw")


def test_quiet_hours_hold_an_sms_until_the_morning_in_the_program_time_zone():
    window = (time(21, 0), time(8, 0))
    late = datetime(2026, 3, 2, 21, 30, tzinfo=WARSAW).astimezone(UTC)
    assert quiet_until(late, WARSAW, window) == datetime(2026, 3, 3, 8, 0, tzinfo=WARSAW).astimezone(UTC)
    early = datetime(2026, 3, 3, 6, 0, tzinfo=WARSAW).astimezone(UTC)
    assert quiet_until(early, WARSAW, window) == datetime(2026, 3, 3, 8, 0, tzinfo=WARSAW).astimezone(UTC)
    assert quiet_until(datetime(2026, 3, 3, 12, 0, tzinfo=WARSAW), WARSAW, window) is None
    assert quiet_until(late, WARSAW, None) is None


def test_retries_grow_and_last_about_three_days():
    assert all(a < b for a, b in zip(BACKOFF[:5], BACKOFF[1:6], strict=True))
    assert timedelta(days=2, hours=12) < sum(BACKOFF, timedelta()) < timedelta(days=3, hours=12)
