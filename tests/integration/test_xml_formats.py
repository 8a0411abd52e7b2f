"""Same data, same document: XML that always parses, replays identical to the first answer,
ISO 8601 timestamps on every endpoint, line numbers by position."""
from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET

import pytest

from tests.conftest import ACCRUAL_BASIC, auth

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?[+-]\d\d:\d\d$")
XML = {"Accept": "application/xml"}


@pytest.fixture
def call(client, keys, publish):
    publish(ACCRUAL_BASIC)

    def _call(method, url, key="admin", **kwargs):
        return client.open(url, method=method, headers=auth(keys[key], **kwargs.pop("headers", {})),
                           **kwargs)
    return _call


def _order(order_id, member, lines):
    return {"order_id": order_id, "member": member, "placed_at": "2026-03-02T10:00:00+01:00",
            "currency": "PLN", "lines": lines}


def _line(**extra):
    return {"sku": "KR-100", "quantity": 2, "unit_price": "15.00", "product_group": "110", **extra}


def test_control_characters_in_a_name_still_give_parseable_xml(call):
    name = "A\x01B\x0bC\x1f\ufffeD"
    member = call("POST", "/api/v1/members", json={"name": name, "ext_id": "x-1"})
    assert member.status_code == 201, member.get_json()
    ref = member.get_json()["loyalty_id"]
    assert call("GET", f"/api/v1/members/{ref}").get_json()["name"] == name  # JSON keeps it
    response = call("GET", f"/api/v1/members/{ref}?format=xml")
    root = ET.fromstring(response.data)
    assert root.tag == "member" and root.findtext("name") == "A\ufffdB\ufffdC\ufffd\ufffdD"


def test_a_replayed_order_in_xml_is_the_same_document(call):
    ref = call("POST", "/api/v1/members", json={"name": "Ewa", "ext_id": "x-2"}).get_json()["loyalty_id"]
    body = _order("X-1", ref, [_line(line_no=1), _line(line_no=2, sku="KR-200")])
    first = call("POST", "/api/v1/orders", json=body, headers=XML)
    again = call("POST", "/api/v1/orders", json=body, headers=XML)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert ET.fromstring(first.data).tag == ET.fromstring(again.data).tag == "order"
    assert again.data == first.data
    as_json = [call("POST", "/api/v1/orders", json=body) for _ in range(2)]
    assert as_json[0].data == as_json[1].data  # and in JSON, byte for byte (key order too)
    status = {"status": "paid"}
    paid = [call("POST", "/api/v1/orders/X-1/status", json=status, headers={**XML, "Idempotency-Key": "p-1"})
            for _ in range(2)]
    assert ET.fromstring(paid[1].data).tag == "order" and paid[0].data == paid[1].data


def _iso_everywhere(value, path="") -> list[str]:
    """Paths of every timestamp-like value that is not ISO 8601 with an offset."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _iso_everywhere(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _iso_everywhere(v, f"{path}[{i}]")]
    if isinstance(value, str) and re.search(r"\d\d:\d\d:\d\d", value) and not ISO.match(value):
        return [f"{path}={value}"]
    return []


def test_imports_and_simulate_write_iso_8601_in_json_and_xml(call):
    upload = call("POST", "/api/v1/imports", key="erp", data={
        "file": (io.BytesIO(b"CardCode;CardName\r\nC1;A\r\n"), "OCRD.csv"), "kind": "customers"},
        content_type="multipart/form-data")
    assert upload.status_code == 201, upload.get_json()
    run = upload.get_json()
    assert ISO.match(run["timing"]["created_at"]) and ISO.match(run["timing"]["finished_at"])
    assert _iso_everywhere(run) == []
    listed = call("GET", "/api/v1/imports", key="erp").get_json()
    assert _iso_everywhere(listed) == [] and listed["imports"][0]["timing"]["created_at"]
    xml = ET.fromstring(call("GET", f"/api/v1/imports/{run['id']}?format=xml", key="erp").data)
    assert ISO.match(xml.findtext("timing/created_at")), xml.findtext("timing/created_at")

    draft = {"document": {"rules": ACCRUAL_BASIC["rules"]}, "since": "2026-01-01T00:00:00+02:00"}
    simulated = call("POST", "/api/v1/policies/accrual/simulate", json=draft)
    assert simulated.status_code == 200, simulated.get_json()
    data = simulated.get_json()
    assert data["since"] == "2026-01-01T00:00:00+02:00" and ISO.match(data["until"])
    assert _iso_everywhere(data) == []
    xml = ET.fromstring(call("POST", "/api/v1/policies/accrual/simulate?format=xml", json=draft).data)
    assert xml.tag == "simulation" and xml.findtext("since") == "2026-01-01T00:00:00+02:00"
    assert ISO.match(xml.findtext("until"))


def test_line_numbers_default_to_the_position_and_stay_unique(call):
    ref = call("POST", "/api/v1/members", json={"name": "Ola", "ext_id": "x-3"}).get_json()["loyalty_id"]
    lines = [_line(), _line(sku="KR-2"), _line(sku="KR-3")]
    order = call("POST", "/api/v1/orders", json={**_order("L-1", ref, lines), "status": "fulfilled"})
    assert order.status_code == 201, order.get_json()
    assert [line["line_no"] for line in order.get_json()["lines"]] == [1, 2, 3]
    returned = call("POST", "/api/v1/orders/L-1/returns", json={"return_id": "r1", "lines": [
        {"line_no": 2, "quantity": 1}]})
    assert returned.status_code == 201, returned.get_json()
    assert [line["returned_quantity"] for line in returned.get_json()["lines"]] == ["0", "1", "0"]

    mixed = call("POST", "/api/v1/orders", json=_order("L-2", ref, [_line(line_no=10), _line(sku="KR-2")]))
    assert mixed.status_code == 201 and sorted(l["line_no"] for l in mixed.get_json()["lines"]) == [2, 10]
    clash = call("POST", "/api/v1/orders", json=_order("L-3", ref, [_line(), _line(sku="KR-2", line_no=1)]))
    assert clash.status_code == 422
    assert clash.get_json()["details"]["fields"]["lines"] == [
        "line numbers must be unique: line 2 has the number 1, as line 1 does"]
    clash = call("POST", "/api/v1/quote", json={"lines": [_line(line_no=2), _line(sku="KR-2")]})
    assert clash.status_code == 422 and "takes by its position" in str(clash.get_json()["details"])
    quote = call("POST", "/api/v1/quote", json={"lines": [_line(), _line(sku="KR-2")]})
    assert quote.status_code == 200 and [l["line_no"] for l in quote.get_json()["lines"]] == [1, 2]
