"""POST /api/v1/imports and the run resources, JSON and XML, on both databases (jobs run inline)."""
import io
import xml.etree.ElementTree as ET

from tests.conftest import ACCRUAL_BASIC, auth
from tests.integration.imports import samples


def payload(header, rows, encoding="cp1250") -> bytes:
    return (header + "\r\n" + "".join(r + "\r\n" for r in rows)).encode(encoding)


def upload(client, key, data: bytes, kind: str, name: str, **headers):
    return client.post("/api/v1/imports", headers=auth(key, **headers),
                       data={"file": (io.BytesIO(data), name), "kind": kind, "source": "sap_b1"},
                       content_type="multipart/form-data")


def test_upload_imports_and_reports_the_run(client, keys, publish):
    publish(ACCRUAL_BASIC)
    erp = keys["erp"]
    first = upload(client, erp, payload(samples.CUSTOMERS_HEADER, samples.CUSTOMER_ROWS), "customers", "OCRD.csv")
    assert first.status_code == 201, first.get_json()
    body = first.get_json()
    assert (body["status"], body["kind"], body["counts"]["applied"], body["counts"]["quarantined"]) == (
        "done", "customers", 3, 2)
    assert first.headers["Location"] == f"/api/v1/imports/{body['id']}"

    invoices = upload(client, erp, payload(samples.INVOICES_HEADER, samples.invoice_rows()), "invoices", "INV.csv")
    run = invoices.get_json()
    assert invoices.status_code == 201 and run["status"] == "done" and run["already_imported"] is False
    assert run["counts"] == {"rows_read": 9, "applied": 3, "duplicates": 0, "quarantined": 4, "skipped": 0}
    assert run["progress"]["percent"] == 100 and run["encoding"] == "cp1250 (declared)"
    assert run["origin"] == {"via": "upload"} and run["actor"] == "api:test-erp"

    got = client.get(f"/api/v1/imports/{run['id']}", headers=auth(erp)).get_json()
    assert got["sha256"] == run["sha256"] and got["counts"] == run["counts"]
    balance = client.get("/api/v1/members/erp:C001/balance", headers=auth(keys["shop"])).get_json()
    assert str(balance["available"]) == "502"

    page = client.get(f"/api/v1/imports/{run['id']}/rows?per_page=2", headers=auth(erp)).get_json()
    assert page["total"] == 4 and [r["line_no"] for r in page["rows"]] == [5, 6]
    assert page["rows"][0]["reason"] == 'unparseable number "12,3,4" in column Quantity'
    assert "12,3,4" in page["rows"][0]["raw"]
    second = client.get(f"/api/v1/imports/{run['id']}/rows?per_page=2&page=2", headers=auth(erp)).get_json()
    assert [r["line_no"] for r in second["rows"]] == [7, 9]
    assert second["rows"][0]["reason"].startswith("unknown customer C009")

    listed = client.get("/api/v1/imports?kind=invoices", headers=auth(erp)).get_json()
    assert [r["id"] for r in listed["imports"]] == [run["id"]]


def test_same_bytes_again_change_nothing_and_raw_body_works(client, keys, publish):
    publish(ACCRUAL_BASIC)
    erp = keys["erp"]
    upload(client, erp, payload(samples.CUSTOMERS_HEADER, samples.CUSTOMER_ROWS), "customers", "OCRD.csv")
    data = payload(samples.INVOICES_HEADER, samples.invoice_rows())
    first = client.post("/api/v1/imports?kind=invoices&filename=INV_1.csv", headers=auth(erp), data=data,
                        content_type="text/csv").get_json()
    again = upload(client, erp, data, "invoices", "INV_again.csv")
    assert again.status_code == 200
    body = again.get_json()
    assert body["already_imported"] is True and body["id"] == first["id"] and body["filename"] == "INV_1.csv"
    assert body["counts"]["applied"] == 3
    balance = client.get("/api/v1/members/erp:C001/balance", headers=auth(keys["shop"])).get_json()
    assert str(balance["available"]) == "502"


def test_xml_answers_and_errors(client, keys, publish):
    publish(ACCRUAL_BASIC)
    erp = keys["erp"]
    response = upload(client, erp, payload(samples.CUSTOMERS_HEADER, samples.CUSTOMER_ROWS), "customers",
                      "OCRD.csv", Accept="application/xml")
    assert response.status_code == 201 and response.mimetype == "application/xml"
    root = ET.fromstring(response.data)
    assert root.tag == "import" and root.findtext("status") == "done"
    assert root.find("counts").findtext("applied") == "3"
    rows = ET.fromstring(client.get(f"/api/v1/imports/{root.findtext('id')}/rows?format=xml",
                                    headers=auth(erp)).data)
    assert rows.tag == "quarantine" and [r.findtext("line_no") for r in rows.find("rows")] == ["6", "7"]

    bad = upload(client, erp, b"x", "orders", "x.csv", Accept="application/xml")
    assert bad.status_code == 422 and ET.fromstring(bad.data).findtext("code") == "validation_error"
    assert client.get("/api/v1/imports/999", headers=auth(erp)).status_code == 404
    assert client.get(f"/api/v1/imports/{2 ** 70}/rows", headers=auth(erp)).status_code == 404
    assert client.get("/api/v1/imports").status_code == 401
    assert upload(client, keys["shop"], b"a;b", "customers", "x.csv").status_code == 403


def test_a_file_that_cannot_be_read_fails_its_run_with_a_reason(client, keys, publish):
    publish(ACCRUAL_BASIC)
    data = b"\xff\xfeD\x00" + b"\x00\xd8" * 3  # a UTF-16 byte-order mark, then an unpaired surrogate
    body = upload(client, keys["erp"], data, "invoices", "broken.csv").get_json()
    assert body["status"] == "failed" and "UTF-16LE" in body["error"] and body["counts"]["applied"] == 0
