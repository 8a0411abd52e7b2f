"""Each admin page and write through the Flask test client, on PostgreSQL and SQLite."""
from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from engine import clock, ledger, members, reports
from engine.members import adjustments
from engine.models import LedgerEntry, Member, PolicyVersion
from server.extensions import db
from tests.conftest import ACCRUAL_BASIC
from tests.integration.imports import samples


def _member(app, **data):
    with app.app_context():
        session = db.session()
        member = members.create(session, {"name": "Anna Kowalska", **data})
        session.commit()
        return member.loyalty_id


def _credit(app, ref, points, key, days_ago=0, expire_after_days=None):
    with app.app_context():
        session = db.session()
        member = members.get(session, ref)
        adjustments.adjust(session, member, Decimal(points), reason="test", actor="test", key=key,
                           now=clock.now() - timedelta(days=days_ago), expire_after_days=expire_after_days)
        session.commit()


def test_dashboard_shows_the_sums_of_the_ledger(app, as_role):
    ref = _member(app)
    _credit(app, ref, 120, "a1", days_ago=3, expire_after_days=40)
    _credit(app, ref, 30, "a2", days_ago=1)
    with app.app_context():
        session = db.session()
        now = clock.now()
        periods = reports.points_by_period(session, now - timedelta(days=30), now)
        assert len(periods) in (30, 31) and sum(p.issued for p in periods) == 150
        liability = reports.liability(session, now)
        assert liability.points == 150 and liability.expiring[30] == 0 and liability.expiring[60] == 120
        assert reports.member_counts(session, now).enrolled == 1
        weeks = reports.points_by_period(session, now - timedelta(weeks=26), now, bucket="week")
        assert all(p.start.weekday() == 0 for p in weeks) and sum(p.issued for p in weeks) == 150
    browser = as_role("viewer")
    page = browser.get("/admin/")
    assert page.status_code == 200
    assert 'id="liability-points">150<' in page.text and 'id="total-issued">150<' in page.text
    data = json.loads(page.text.split('id="points-data">')[1].split("</script>")[0])
    assert sum(Decimal(v) for v in data["issued"]) == 150 and len(data["labels"]) == len(data["issued"])
    for view in ("week", "month"):
        assert browser.get(f"/admin/?view={view}").status_code == 200


def test_member_search_by_any_identity_with_pages(app, as_role):
    ref = _member(app, phone="+48 601 234 567", email="Anna@Example.com", erp_code="C-77", ext_id="shop-9")
    for i in range(30):
        _member(app, name=f"Zenon {i:02d}")
    browser = as_role("viewer")
    for query in ("kowalsk", "601-234-567", "0048601234567", "anna@example.com", "C-77", "shop-9", ref):
        page = browser.get("/admin/members", query_string={"q": query})
        assert page.status_code == 200 and ref in page.text and "1 member found" in page.text, query
    first = browser.get("/admin/members", query_string={"q": "zenon"})
    assert "30 members found" in first.text and "Zenon 00" in first.text and "Zenon 29" not in first.text
    second = browser.get("/admin/members", query_string={"q": "zenon", "page": 2})
    assert "Zenon 29" in second.text and "Page 2 of 2" in second.text


def test_member_page_shows_balance_lots_and_the_ledger_in_words(app, as_role, publish, keys):
    from tests.conftest import auth
    publish(ACCRUAL_BASIC)
    ref = _member(app)
    browser = as_role("viewer")
    order = browser.client.post("/api/v1/orders", headers=auth(keys["shop"]), json={
        "order_id": "A-17", "member": ref, "placed_at": clock.now().isoformat(), "currency": "PLN",
        "status": "fulfilled", "lines": [{"line_no": 1, "sku": "X", "quantity": 1, "unit_price": 120,
                                          "product_group": "110"}]})
    assert order.status_code == 201, order.get_json()
    page = browser.get(f"/admin/members/{ref}")
    assert page.status_code == 200
    assert 'id="balance">24<' in page.text
    assert "Order A-17 under the accrual rules v1: rule “base” +12, rule “group-110-x2” +12." in page.text
    assert 'id="lots"' in page.text and 'id="orders"' in page.text and "A-17" in page.text
    assert browser.get("/admin/members/NOPE").status_code == 404


def test_a_marketer_adjusts_with_a_reason_once(app, as_role):
    ref = _member(app)
    browser = as_role("marketer")
    browser.get(f"/admin/members/{ref}")
    form_token = browser.client.get(f"/admin/members/{ref}").text.split('name="token" type="hidden" value="')[1][:32]
    missing = browser.post(f"/admin/members/{ref}/adjust", {"points": "15", "reason": "", "token": form_token})
    assert missing.status_code == 422
    data = {"points": "15", "reason": "apology for a late parcel", "token": form_token}
    assert browser.post(f"/admin/members/{ref}/adjust", data).status_code == 302
    assert browser.post(f"/admin/members/{ref}/adjust", data).status_code == 302  # a double submit
    too_much = browser.post(f"/admin/members/{ref}/adjust", {"points": "-100", "reason": "x", "token": "other"})
    assert too_much.status_code == 422 and "Only 15 points are available." in too_much.text
    with app.app_context():
        session = db.session()
        member = members.get(session, ref)
        assert ledger.balance(session, member.account, clock.now()).available == 15
        entry = session.execute(select(LedgerEntry)).scalar_one()
        assert (entry.reason, entry.actor) == ("apology for a late parcel", "admin:marketer@example.com")
    page = browser.get(f"/admin/members/{ref}")
    assert "Manual adjustment by admin:marketer@example.com: apology for a late parcel" in page.text


def test_block_and_unblock(app, as_role):
    ref = _member(app)
    browser = as_role("admin")
    browser.get(f"/admin/members/{ref}")
    assert browser.post(f"/admin/members/{ref}/status", {"status": "blocked"}).status_code == 302
    with app.app_context():
        assert db.session().execute(select(Member.status)).scalar_one() == "blocked"
    assert 'id="member-status">blocked<' in browser.get(f"/admin/members/{ref}").text
    assert browser.post(f"/admin/members/{ref}/status", {"status": "active"}).status_code == 302
    with app.app_context():
        assert db.session().execute(select(Member.status)).scalar_one() == "active"


def _payload(header, rows) -> bytes:
    return (header + "\r\n" + "".join(r + "\r\n" for r in rows)).encode("cp1250")


def test_upload_a_file_and_read_its_quarantined_rows(app, as_role):
    browser = as_role("marketer")
    browser.get("/admin/imports")
    data = _payload(samples.CUSTOMERS_HEADER, samples.CUSTOMER_ROWS)
    response = browser.post("/admin/imports", {"kind": "customers", "file": (io.BytesIO(data), "OCRD.csv")},
                            content_type="multipart/form-data")
    assert response.status_code == 302
    run_url = response.headers["Location"]
    page = browser.get(run_url)
    assert page.status_code == 200 and "OCRD.csv" in page.text and 'value="100"' in page.text
    assert page.text.count("<pre class=\"raw\">") == 2
    progress = browser.get(run_url + "/progress", headers={"HX-Request": "true"})
    assert progress.status_code == 200 and progress.headers.get("HX-Refresh") == "true"
    download = browser.get(run_url + "/quarantine.csv")
    rows = list(csv.reader(io.StringIO(download.text)))
    assert download.mimetype == "text/csv" and rows[0] == ["line", "reason", "raw"] and len(rows) == 3
    assert all(row[0].isdigit() and row[1] and row[2] for row in rows[1:])
    listing = browser.get("/admin/imports")
    assert "OCRD.csv" in listing.text
    again = browser.post("/admin/imports", {"kind": "customers", "file": (io.BytesIO(data), "again.csv")},
                         content_type="multipart/form-data", follow_redirects=True)
    assert "were imported before" in again.text
    viewer = as_role("viewer")
    viewer.get("/admin/imports")
    assert viewer.post("/admin/imports", {"kind": "customers", "file": (io.BytesIO(b"x"), "x.csv")},
                       content_type="multipart/form-data").status_code == 403


def test_rules_validate_save_and_publish(app, as_role, publish):
    publish(ACCRUAL_BASIC)
    marketer = as_role("marketer")
    page = marketer.get("/admin/rules/accrual")
    assert page.status_code == 200 and "group-110-x2" in page.text
    vocabulary = json.loads(page.text.split('id="vocabulary-data">')[1].split("</script>")[0])
    assert "multiply" in {a["name"] for a in vocabulary["actions"]}  # the visual editor is built from it
    assert 'id="vocabulary-data"' not in marketer.get("/admin/rules/settings").text  # settings: JSON only
    broken = json.loads(json.dumps(ACCRUAL_BASIC))
    broken["rules"][0]["actions"][0]["params"]["points"] = "many"
    checked = marketer.post("/admin/rules/accrual/validate", {"document": json.dumps(broken)},
                            headers={"HX-Request": "true"})
    assert checked.status_code == 200 and "rules[0].actions[0].params.points" in checked.text
    not_json = marketer.post("/admin/rules/accrual/validate", {"document": "{oops"})
    assert "not valid JSON" in not_json.text and "line 1" in not_json.text
    assert marketer.post("/admin/rules/accrual", {"document": json.dumps(broken)}).status_code == 422
    better = json.loads(json.dumps(ACCRUAL_BASIC))
    better["rules"][0]["actions"][0]["params"]["points"] = 2
    assert marketer.post("/admin/rules/accrual/validate", {"document": json.dumps(better)}).text.count(
        "The document is valid.") == 1
    assert marketer.post("/admin/rules/accrual", {"document": json.dumps(better), "comment": "double"}
                         ).status_code == 302
    assert marketer.post("/admin/rules/accrual/publish", {"version": 2}).status_code == 403
    admin = as_role("admin")
    assert "Publish draft v2" in admin.get("/admin/rules/accrual").text
    assert admin.post("/admin/rules/accrual/publish", {"version": 2, "comment": "go"}).status_code == 302
    with app.app_context():
        row = db.session().execute(select(PolicyVersion).where(PolicyVersion.version == 2)).scalar_one()
        assert (row.status, row.author, row.published_by) == (
            "published", "admin:marketer@example.com", "admin:admin@example.com")
        assert row.document["rules"][0]["actions"][0]["params"]["points"] == 2
    assert "v2" in admin.get("/admin/rules").text


def test_versions_compared_rule_by_rule(app, as_role, publish):
    publish(ACCRUAL_BASIC)
    changed = json.loads(json.dumps(ACCRUAL_BASIC))
    changed["rules"][1]["actions"][0]["params"]["factor"] = 3
    changed["rules"].append({"id": "weekend", "scope": "document", "priority": 1,
                             "actions": [{"name": "earn_fixed", "params": {"points": 5}}]})
    del changed["rules"][0]
    changed["rules"].insert(0, {"id": "base-2", "scope": "line", "priority": 10,
                                "actions": [{"name": "earn_per_amount", "params": {"points": 2, "amount": 10}}]})
    publish(changed)
    page = as_role("viewer").get("/admin/rules/accrual/diff")
    assert page.status_code == 200
    assert '<tr class="diff-added">\n    <td>base-2</td>' in page.text
    assert '<tr class="diff-changed">\n    <td>group-110-x2</td>' in page.text
    assert '<tr class="diff-added">\n    <td>weekend</td>' in page.text
    assert '<tr class="diff-removed">\n    <td>base</td>' in page.text
    same = as_role("viewer").get("/admin/rules/accrual/diff?from=2&to=2")
    assert same.text.count('class="diff-same"') == 3


def test_a_running_import_is_polled_by_htmx(app, as_role):
    from engine.models import ImportRun
    with app.app_context():
        session = db.session()
        run = ImportRun(source="sap_b1", kind="customers", filename="big.csv", sha256="0" * 64, status="running",
                        progress={"phase": "parsing", "done": 250, "total": 1000})
        session.add(run)
        session.commit()
        run_id = run.id
    browser = as_role("viewer")
    page = browser.get(f"/admin/imports/{run_id}")
    assert f'hx-get="/admin/imports/{run_id}/progress"' in page.text and 'hx-trigger="every 1s"' in page.text
    partial = browser.get(f"/admin/imports/{run_id}/progress", headers={"HX-Request": "true"})
    assert 'value="25.0"' in partial.text and "HX-Refresh" not in partial.headers
    assert "<html" not in partial.text  # only the bar is swapped in


def test_a_marketer_simulates_a_draft_on_real_orders(app, as_role, publish, keys):
    from tests.conftest import auth
    publish(ACCRUAL_BASIC)
    ref = _member(app)
    marketer = as_role("marketer")
    for n, group in enumerate(("110", "120"), start=1):
        order = marketer.client.post("/api/v1/orders", headers=auth(keys["shop"]), json={
            "order_id": f"S-{n}", "member": ref, "placed_at": (clock.now() - timedelta(days=2)).isoformat(),
            "currency": "PLN", "status": "fulfilled",
            "lines": [{"sku": "X", "quantity": 1, "unit_price": 100, "product_group": group}]})
        assert order.status_code == 201, order.get_json()
    assert 'id="simulation"' in marketer.get("/admin/rules/accrual").text
    draft = json.loads(json.dumps(ACCRUAL_BASIC))
    draft["rules"][0]["actions"][0]["params"]["points"] = 3  # three points per 10 instead of one
    result = marketer.post("/admin/rules/accrual/simulate", {"document": json.dumps(draft)},
                           headers={"HX-Request": "true"})
    assert result.status_code == 200
    totals = result.text.split('id="simulation-totals"')[1].split("</table>")[0]
    # In force: 10 + 10 (base) + 10 (x2 on group 110) = 30; the draft: 30 + 30 + 30 = 90.
    assert "<td class=\"num\">90</td><td class=\"num\">30</td>" in totals.replace("\n", ""), totals
    assert "2 documents" in result.text and "group-110-x2" in result.text and 'class="sim-chart"' in result.text
    broken = json.loads(json.dumps(ACCRUAL_BASIC))
    broken["rules"][0]["actions"][0]["params"]["points"] = "many"
    refused = marketer.post("/admin/rules/accrual/simulate", {"document": json.dumps(broken)})
    assert "rules[0].actions[0].params.points" in refused.text
    viewer = as_role("viewer")
    assert 'id="simulation"' not in viewer.get("/admin/rules/accrual").text
    assert viewer.post("/admin/rules/accrual/simulate", {"document": json.dumps(draft)}).status_code == 403
