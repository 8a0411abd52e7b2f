"""Hostile and broken uploads: refused with a failure line and a reason, nothing applied."""
from __future__ import annotations

import io
import zipfile

import pytest
import requests
from sqlalchemy import func, select

from engine.models import Document, ImportRun, LedgerEntry, Member
from tests.conftest import auth
from tests.integration.onec.cml import BILLION_LAUGHS, card, commerce, item, lines, order, zipped

GOOD = commerce(order("ord-1", card("c-001", "Иван", "+7 912 345 67 89"),
                      [item("coffee-1", "Кофе", "1", "1000")], shipped=True))
XXE = (b'<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
       b"<r>&x;</r>")


def nothing_applied(app) -> None:
    from server.extensions import db
    with app.app_context():
        session = db.session()
        for model in (Member, Document, LedgerEntry):
            assert session.execute(select(func.count(model.id))).scalar_one() == 0, model


def started(onec):
    client = onec()
    assert client.checkauth()[0] == "success"
    client.init()
    return client


@pytest.mark.parametrize("data", [BILLION_LAUGHS, XXE, b"\x00\x01 not xml at all",
                                  b"<?xml version='1.0'?><other/>"],
                         ids=["billion-laughs", "xxe", "binary", "wrong-root"])
def test_hostile_or_broken_xml_is_refused_and_nothing_is_applied(onec, app, keys, data):
    client = started(onec)
    client.upload("orders.xml", data)
    answer = client.import_("orders.xml")
    assert answer[0] == "failure" and len(answer[1]) > 10, answer
    # mode=query of the same session refuses too: 1C must not think the upload went well.
    assert lines(client.call("query"))[0] == "failure"
    nothing_applied(app)
    from server.extensions import db
    with app.app_context():
        run = db.session().execute(select(ImportRun)).scalar_one()
        assert run.status == "failed" and answer[1] == f"orders.xml: {run.error}"
    log = requests.get(client.base + "/api/v1/exchange/1c/sessions",
                       headers=auth(keys["admin"])).json()["sessions"][0]
    assert log["error_count"] >= 1
    # The same bytes again are refused again, without being parsed twice.
    again = started(onec)
    again.upload("orders.xml", data)
    assert again.import_("orders.xml")[0] == "failure"


def test_billion_laughs_inside_a_zip_is_refused(onec, app):
    client = started(onec)
    client.upload("orders.zip", zipped({"orders.xml": BILLION_LAUGHS}))
    assert client.import_("orders.xml")[0] == "failure"
    nothing_applied(app)


def _zip_with(name: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(zipfile.ZipInfo(name), data, compress_type=zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


@pytest.mark.parametrize("archive, reason", [
    (_zip_with("../../orders.xml", GOOD), "climbs out of its folder"),
    (_zip_with("/etc/orders.xml", GOOD), "absolute path"),
    (_zip_with("orders.xml", b"<" + b" " * (20 * 1024 * 1024) + b"/>"), "zip bomb"),  # ~1000:1
    (b"PK\x03\x04 this is not really a zip", "not a readable zip"),
], ids=["dot-dot", "absolute", "bomb", "broken"])
def test_dangerous_zips_are_refused(onec, app, archive, reason):
    client = started(onec)
    client.upload("orders.zip", archive)
    answer = client.import_("orders.zip")
    assert answer[0] == "failure" and reason in answer[1], answer
    assert lines(client.call("query"))[0] == "failure"
    nothing_applied(app)


def test_unusable_names_and_oversize_chunks_are_refused(onec, app):
    client = started(onec)
    for name in ("..", "", "/tmp/", ".hidden.xml"):
        answer = lines(client.call("file", "POST", GOOD, filename=name))
        assert answer[0] == "failure", name
    too_big = b"<" * (client.file_limit + 1)
    answer = lines(client.call("file", "POST", too_big, filename="big.xml"))
    assert answer[0] == "failure" and "file_limit" in answer[1]
    assert lines(client.call("file", filename="orders.xml"))[0] == "failure"  # GET: no body
    assert lines(client.call("import", filename="never-sent.xml"))[0] == "failure"
    # A path from 1C on Linux keeps only its base name (and never leaves the session).
    client.upload("/home/user/1c/exchange/orders.xml", GOOD)
    assert client.import_("orders.xml")[0] == "success"
