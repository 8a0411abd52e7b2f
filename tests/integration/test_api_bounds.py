"""The HTTP boundary holds: deep JSON, huge integers, edge dates and long names are refused
with a clear 4xx, and whatever still fails is a logged 500 with an error id."""
from __future__ import annotations

import io
import json
import logging
import re

import pytest
from click.testing import CliRunner
from flask import Blueprint

from server.app import create_app
from tests.conftest import ACCRUAL_BASIC, auth

DEEP = "[" * 10_000 + "]" * 10_000
HUGE = 2**70
ORDER = {"order_id": "B-1", "member": "nobody", "placed_at": "2026-03-02T10:00:00+01:00",
         "status": "fulfilled", "currency": "PLN",
         "lines": [{"line_no": 1, "sku": "KR-100", "quantity": 1, "unit_price": 10}]}


@pytest.fixture
def call(client, keys, publish):
    publish(ACCRUAL_BASIC)

    def _call(method, url, key="admin", **kwargs):
        return client.open(url, method=method, headers=auth(keys[key], **kwargs.pop("headers", {})),
                           **kwargs)
    return _call


def _write_urls(app) -> list[tuple[str, str]]:
    urls = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue  # /exchange/1c speaks the 1C protocol, never JSON
        for method in sorted(rule.methods - {"GET", "HEAD", "OPTIONS"}):
            urls.append((method, re.sub(r"<(?:int:)?(\w+)>", lambda m: "1" if "int:" in m.group(0)
                                        else "x", rule.rule)))
    return urls


def test_json_nested_ten_thousand_deep_is_a_400_on_every_write_endpoint(app, call):
    urls = _write_urls(app)
    assert len(urls) >= 15 and ("POST", "/api/v1/orders") in urls
    for method, url in urls:
        for body in (DEEP, '{"a":' * 10_000 + "1" + "}" * 10_000):
            response = call(method, url, data=body, content_type="application/json")
            assert response.status_code == 400, (method, url, response.status_code, response.data[:300])
            data = response.get_json()
            assert data["code"] == "invalid_json" and "64 levels" in data["message"], (method, url)


def test_nesting_within_the_limit_and_brackets_inside_strings_pass(call):
    name = "[" * 500 + "{" * 500
    member = call("POST", "/api/v1/members", json={"name": name, "ext_id": "deep-1",
                                                   "attributes": {"a": [[[[["ok"]]]]]}})
    assert member.status_code == 422  # the name is too long for the schema, not too deep
    assert member.get_json()["code"] == "validation_error"
    member = call("POST", "/api/v1/members", json={"name": "[{" * 50, "ext_id": "deep-2",
                                                   "attributes": {"a": [[[[["ok"]]]]]}})
    assert member.status_code == 201, member.get_json()


def test_policies_load_refuses_deep_json_with_a_sentence(app, tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text('{"policy": "accrual", "rules": ' + DEEP + "}")
    with app.app_context():
        result = CliRunner().invoke(app.cli, ["policies", "load", str(deep)])
    assert result.exit_code == 1 and not isinstance(result.exception, RecursionError)
    assert "nested more than 64 levels deep" in result.output


@pytest.mark.parametrize("method, url, body", [
    ("POST", "/api/v1/orders", {**ORDER, "lines": [{**ORDER["lines"][0], "line_no": HUGE}]}),
    ("POST", "/api/v1/quote", {"lines": [{**ORDER["lines"][0], "line_no": HUGE}]}),
    ("POST", "/api/v1/orders/B-1/returns", {"return_id": "R", "lines": [{"line_no": HUGE, "quantity": 1}]}),
    ("POST", "/api/v1/policies/accrual/publish", {"version": HUGE}),
    ("POST", "/api/v1/policies/accrual/simulate", {"version": HUGE}),
    ("POST", "/api/v1/members/x/adjustments", {"adjustment_id": "a", "points": 1, "reason": "r",
                                               "expire_after_days": HUGE}),
    ("POST", "/api/v1/members/x/adjustments", {"adjustment_id": "a", "points": 1, "reason": "r",
                                               "expire_after_days": 10**9}),
])
def test_huge_integers_in_bodies_are_422(call, method, url, body):
    response = call(method, url, json=body)
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["code"] == "validation_error"


@pytest.mark.parametrize("url", [
    f"/api/v1/imports/1/rows?page={HUGE}", f"/api/v1/imports/1/rows?per_page={HUGE}",
    f"/api/v1/imports?limit={HUGE}", f"/api/v1/members/x/history?before={HUGE}",
    f"/api/v1/exchange/1c/sessions?before={HUGE}",
])
def test_huge_integers_in_queries_are_422(call, url):
    response = call("GET", url)
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["code"] == "validation_error"


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+05:00", "0001-01-01T00:00:00Z",
                                    "9999-12-31T23:59:59-05:00", "9999-12-31T23:59:59Z",
                                    "1899-12-31T23:59:59+00:00", "2201-01-01T00:00:00+00:00"])
def test_dates_at_the_edges_are_422_with_the_range(call, moment):
    cases = [("POST", "/api/v1/orders", {**ORDER, "placed_at": moment}, "placed_at"),
             ("POST", "/api/v1/members", {"ext_id": "edge", "registered_at": moment}, "registered_at"),
             ("POST", "/api/v1/members", {"ext_id": "edge", "birth_date": moment[:10]}, "birth_date"),
             ("POST", "/api/v1/policies/accrual/publish", {"effective_from": moment}, "effective_from"),
             ("POST", "/api/v1/policies/accrual/simulate", {"since": moment}, "since"),
             ("POST", "/api/v1/policies/accrual/simulate", {"until": moment}, "until")]
    for method, url, body, field in cases:
        response = call(method, url, json=body)
        assert response.status_code == 422, (url, field, response.get_json())
        messages = response.get_json()["details"]["fields"][field]
        assert "between the years 1900 and 2200" in json.dumps(messages), (url, messages)


def test_an_upload_file_name_of_300_bytes_is_refused_clearly(call):
    name = "ż" * 140 + ".csv"  # 284 bytes in UTF-8
    multipart = call("POST", "/api/v1/imports", data={
        "file": (io.BytesIO(b"CardCode;CardName\r\nC1;A\r\n"), name), "kind": "customers"},
        content_type="multipart/form-data")
    raw = call("POST", f"/api/v1/imports?kind=customers&filename={'a' * 300}.csv",
               data=b"CardCode;CardName\r\nC1;A\r\n", content_type="text/csv")
    for response in (multipart, raw):
        assert response.status_code == 422, response.get_json()
        assert "longer than" in response.get_json()["message"]


def test_the_openapi_document_shows_the_bounds(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    assert schemas["LineIn"]["properties"]["line_no"]["maximum"] < 2**31
    assert "line_no" not in schemas["LineIn"].get("required", [])
    assert schemas["LineIn"]["properties"]["quantity"]["maximum"] < 2**63
    assert schemas["PublishIn"]["properties"]["version"]["maximum"] < 2**31
    assert schemas["AdjustmentIn"]["properties"]["expire_after_days"]["maximum"] <= 36_600
    assert "1900" in schemas["OrderIn"]["properties"]["placed_at"]["description"]
    rows = spec["paths"]["/api/v1/imports/{run_id}/rows"]["get"]["parameters"]
    assert {p["name"]: p["schema"]["maximum"] for p in rows if p["in"] == "query"} == {
        "page": 1_000_000, "per_page": 500}


def test_any_other_failure_is_a_logged_500_with_an_error_id(tmp_path, caplog):
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
                      "SECRET_KEY": "x", "SECRET_KEY_IS_EPHEMERAL": False})
    boom = Blueprint("boom", __name__)

    @boom.route("/api/v1/boom")
    def explode():
        raise RecursionError("deep down")
    app.register_blueprint(boom)
    client = app.test_client()
    with caplog.at_level(logging.ERROR, logger="server.errors"):
        response = client.get("/api/v1/boom")
        as_xml = client.get("/api/v1/boom?format=xml")
    assert response.status_code == 500 and response.mimetype == "application/json"
    body = response.get_json()
    assert body["code"] == "internal_error" and re.fullmatch(r"[0-9a-f-]{36}", body["error_id"])
    assert body["error_id"] in body["message"] and "deep down" not in json.dumps(body)
    logged = [r for r in caplog.records if body["error_id"] in r.getMessage()]
    assert logged and logged[0].exc_info and logged[0].exc_info[0] is RecursionError
    assert as_xml.status_code == 500 and as_xml.mimetype == "application/xml"
    assert b"<error_id>" in as_xml.data and b"<code>internal_error</code>" in as_xml.data


def test_the_longest_ids_the_schemas_allow_fit_the_columns_below(call, keys):
    """PostgreSQL enforces column lengths (SQLite does not): ids composed from two
    maximal inputs must still fit, or be refused with a sentence — never a 500."""
    member = call("POST", "/api/v1/members", json={"name": "Long", "ext_id": "e" * 64}).get_json()
    ref = member["loyalty_id"]
    order_id = "o" * 100
    order = call("POST", "/api/v1/orders", json={**ORDER, "order_id": order_id, "member": ref})
    assert order.status_code == 201, order.get_json()
    returned = call("POST", f"/api/v1/orders/{order_id}/returns",
                    json={"return_id": "r" * 60, "lines": [{"line_no": 1, "quantity": 1}]})
    assert returned.status_code == 422 and "return_id" in returned.get_json()["details"]["fields"]
    shorter = "p" * 80
    assert call("POST", "/api/v1/orders", json={**ORDER, "order_id": shorter, "member": ref}).status_code == 201
    short = call("POST", f"/api/v1/orders/{shorter}/returns",  # 80 + len("/returns/") + 11 = 100
                 json={"return_id": "r" * 11, "lines": [{"line_no": 1, "quantity": 1}]})
    assert short.status_code == 201, short.get_json()
    long_key = {"headers": {"Idempotency-Key": "k" * 200}, "json": {"points": 5, "reason": "r" * 500}}
    adjusted = [call("POST", f"/api/v1/members/{ref}/adjustments", **long_key) for _ in range(2)]
    assert [a.status_code for a in adjusted] == [201, 201], adjusted[0].get_json()
    assert adjusted[0].get_json()["entry"]["id"] == adjusted[1].get_json()["entry"]["id"]
    adjusted = call("POST", f"/api/v1/members/{ref}/adjustments",
                    json={"adjustment_id": "a" * 100, "points": 5, "reason": "ok"})
    assert adjusted.status_code == 201, adjusted.get_json()
    redeemed = call("POST", "/api/v1/redemptions", json={"redemption_id": "d" * 100, "member": ref,
                                                         "points": 1, "order_id": order_id})
    assert redeemed.status_code in (201, 422), redeemed.get_json()
    company = call("POST", "/api/v1/companies", json={"name": "n" * 200, "erp_code": "c" * 64,
                                                      "tax_id": "t" * 32})
    assert company.status_code == 201, company.get_json()


def test_nul_characters_are_refused_wherever_text_comes_in(call):
    """PostgreSQL cannot store U+0000 in text: refused up front with a sentence."""
    refusals = [call("POST", "/api/v1/members", data='{"name": "A\\u0000B", "ext_id": "n-1"}',
                     content_type="application/json"),
                call("POST", "/api/v1/members", json={"name": "ok", "ext_id": "n-2", "attributes": {"k\x00": 1}}),
                call("GET", "/api/v1/members/x%00y"),
                call("GET", "/api/v1/imports?kind=a%00"),
                call("POST", "/api/v1/members", json={"ext_id": "n-3"}, headers={"Idempotency-Key": "a\x00"})]
    for response in refusals:
        assert response.status_code == 422, (response.status_code, response.get_json())
        assert "NUL character" in response.get_json()["message"]
    literal = call("POST", "/api/v1/members", data='{"name": "A\\\\u0000B", "ext_id": "n-4"}',
                   content_type="application/json")
    assert literal.status_code == 201 and literal.get_json()["name"] == "A\\u0000B"


def test_a_huge_json_body_is_a_413_before_it_is_read(call, app):
    huge = '{"name": "' + "x" * (app.config["MAX_JSON_BYTES"] + 1) + '"}'
    response = call("POST", "/api/v1/members", data=huge, content_type="application/json")
    assert response.status_code == 413 and response.get_json()["code"] == "payload_too_large"
    wide = json.dumps({"ext_id": "wide", "attributes": {f"k{i}": [i] * 50 for i in range(100)}})
    assert call("POST", "/api/v1/members", data=wide, content_type="application/json").status_code == 201


def test_huge_integers_in_paths_are_not_found(app, call):
    rules = [rule for rule in app.url_map.iter_rules() if "<int:" in rule.rule]
    assert rules
    for rule in rules:
        url = re.sub(r"<int:\w+>", str(HUGE), rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = call(method, url, json={})
            assert response.status_code in (404, 422), (method, url, response.get_json())
