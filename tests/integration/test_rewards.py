"""Rewards through the HTTP API on PostgreSQL and SQLite: the catalog file, orders, statuses, refunds, export."""
from __future__ import annotations

import csv
import io
import threading

from sqlalchemy import func, select

from tests.conftest import auth

HEADER = "ItemCode;ItemName;ItmsGrpCod;Price;Currency;PictureURL;RedeemableForPoints"
ADDRESS = {"name": "Anna Nowak", "line1": "ul. Prosta 1", "postal_code": "00-001", "city": "Warszawa",
           "country": "PL"}


def catalog_file(*rows: str, header: str = HEADER) -> bytes:
    return (header + "\r\n" + "".join(r + "\r\n" for r in rows)).encode("cp1250")


def upload(client, key, data: bytes, name="CATALOG.csv"):
    response = client.post("/api/v1/imports", headers=auth(key),
                           data={"file": (io.BytesIO(data), name), "kind": "catalog", "source": "sap_b1"},
                           content_type="multipart/form-data")
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def call(client, keys, method, url, key="shop", headers=None, **kw):
    return client.open(url, method=method, headers=auth(keys[key], **(headers or {})), **kw)


def enrol(client, keys, ext_id: str, points: str | None = None, **extra) -> str:
    made = call(client, keys, "POST", "/api/v1/members", json={"name": ext_id, "ext_id": ext_id, **extra})
    assert made.status_code == 201, made.get_json()
    loyalty_id = made.get_json()["loyalty_id"]
    if points:
        given = call(client, keys, "POST", f"/api/v1/members/{loyalty_id}/adjustments", key="admin",
                     json={"points": points, "reason": "test", "kind": "bonus", "adjustment_id": f"give-{ext_id}"})
        assert given.status_code == 201, given.get_json()
    return loyalty_id


def balance(client, keys, member: str) -> str:
    return call(client, keys, "GET", f"/api/v1/members/{member}/balance").get_json()["available"]


def by_sku(client, keys, **query) -> dict:
    listed = call(client, keys, "GET", "/api/v1/rewards", query_string={"per_page": 200, **query})
    assert listed.status_code == 200, listed.get_json()
    return {r["sku"]: r for r in listed.get_json()["rewards"]}


def order(client, keys, order_id: str, member: str, items, key="shop", **extra):
    return call(client, keys, "POST", "/api/v1/reward-orders", key=key, json={
        "reward_order_id": order_id, "member": member, "address": ADDRESS,
        "items": [{"sku" if isinstance(ref, str) else "reward_id": ref, "quantity": quantity}
                  for ref, quantity in items], **extra})


def stock(client, keys, sku: str, count):
    found = call(client, keys, "GET", "/api/v1/rewards", key="admin",
                 query_string={"include_inactive": "true", "per_page": 200}).get_json()["rewards"]
    reward_id = next(r["id"] for r in found if r["sku"] == sku)
    patched = call(client, keys, "PATCH", f"/api/v1/rewards/{reward_id}", key="admin", json={"stock": count})
    assert patched.status_code == 200, patched.get_json()
    return patched.get_json()


def test_the_catalog_file_creates_updates_withdraws_rewards_and_quarantines_bad_rows(client, keys, publish,
                                                                                      settings_doc):
    settings_doc["settings"]["point_value"] = "0.5"  # 1 point pays 0.50 PLN: a 20.01 mug is 40 points
    publish(settings_doc, policy="settings")
    run = upload(client, keys["erp"], catalog_file(
        "R1;Wycieczka do Rzymu;900;5 000,00;PLN;https://cdn.example/rzym.jpg;25 000",
        "R2;Kubek;900;20,01;;;Y",
        "P1;Rura;110;3,50;PLN;;N",
        "R3;Zły;900;10,00;PLN;;-5",
        "R4;Bez ceny;900;;PLN;;Y",
        "R5;Darmowy;900;0,00;PLN;;Y",
        "R7;Ułamek;900;;PLN;;12,5",
        "R8;" + "x" * 201 + ";900;;PLN;;10"))
    assert run["counts"]["applied"] == 3 and run["counts"]["quarantined"] == 5, run
    rows = call(client, keys, "GET", f"/api/v1/imports/{run['id']}/rows", key="erp").get_json()["rows"]
    assert [(r["line_no"], r["reason"]) for r in rows] == [
        (5, 'negative points price "-5" in column RedeemableForPoints'),
        (6, "RedeemableForPoints is Y but the row has no price to turn into points"),
        (7, "the price 0.00 is worth no points at 0.5 per point"),
        (8, "the points price 12.5 has more than 0 decimal places"),
        (9, "ItemName is longer than 200 characters")]
    rewards = by_sku(client, keys)
    assert set(rewards) == {"R1", "R2"}  # P1 is a product only
    trip, mug = rewards["R1"], rewards["R2"]
    assert (trip["points_price"], trip["price"], trip["stock"], trip["picture_state"]) == (
        "25000", "5000", None, "failed")  # fetched inline after the import: the host does not resolve
    assert trip["picture_url"] is None  # nothing kept: never the source's URL
    assert (mug["points_price"], mug["name"], mug["currency"]) == ("40", "Kubek", "PLN")

    # Next day: the mug's price changes, the trip is no longer a reward, a hand-set price is kept.
    patched = call(client, keys, "PATCH", f"/api/v1/rewards/{mug['id']}", key="admin", json={"points_price": "35"})
    assert patched.status_code == 200 and patched.get_json()["points_manual"] is True
    again = upload(client, keys["erp"], catalog_file(
        "R1;Wycieczka do Rzymu;900;5 000,00;PLN;https://cdn.example/rzym.jpg;N",
        "R2;Kubek duży;900;30,00;;;Y",
        "R6;Plecak;900;;PLN;;120"), name="CATALOG2.csv")
    assert again["counts"]["quarantined"] == 0
    rewards = by_sku(client, keys)
    assert set(rewards) == {"R2", "R6"}
    assert (rewards["R2"]["points_price"], rewards["R2"]["name"]) == ("35", "Kubek duży")
    assert rewards["R6"]["points_price"] == "120" and rewards["R6"]["price"] is None
    withdrawn = call(client, keys, "GET", "/api/v1/rewards", key="admin",
                     query_string={"include_inactive": "true"}).get_json()["rewards"]
    assert {r["sku"]: r["active"] for r in withdrawn} == {"R1": False, "R2": True, "R6": True}
    refused = call(client, keys, "GET", "/api/v1/rewards", query_string={"include_inactive": "true"})
    assert refused.status_code == 403


def test_an_order_spends_points_takes_stock_moves_on_and_a_cancel_refunds_once(app, client, keys):
    from engine.models import OutboxMessage, WebhookSubscription
    from server.extensions import db
    with app.app_context():
        db.session().add(WebhookSubscription(name="shipper", url="http://127.0.0.1:9/hook",
                                             event_types=["reward_order.status_changed"], secret="whsec_dGVzdA=="))
        db.session().commit()
    upload(client, keys["erp"], catalog_file("R1;Kubek;900;;PLN;;100", "R2;Plecak;900;;PLN;;250"))
    stock(client, keys, "R1", 5)
    anna = enrol(client, keys, "anna", points="1000")
    placed = order(client, keys, "RO-1", anna, [("R1", 2), ("R2", 1)])
    assert placed.status_code == 201, placed.get_json()
    body = placed.get_json()
    assert (body["status"], body["points"], body["recipient"], body["balance"]["available"]) == (
        "placed", "450", anna, "550")
    assert [(i["sku"], i["quantity"], i["unit_points"]) for i in body["items"]] == [("R1", 2, "100"),
                                                                                   ("R2", 1, "250")]
    assert body["address"]["city"] == "Warszawa"
    assert by_sku(client, keys)["R1"]["stock"] == 3

    replay = order(client, keys, "RO-1", anna, [("R1", 2), ("R2", 1)])  # the shop retries
    assert replay.status_code == 201 and replay.get_json()["reward_order_id"] == "RO-1"
    assert balance(client, keys, anna) == "550" and by_sku(client, keys)["R1"]["stock"] == 3
    other = order(client, keys, "RO-1", anna, [("R1", 1)])
    assert other.status_code == 409 and other.get_json()["code"] == "idempotency_conflict"

    def move(status, **extra):
        return call(client, keys, "POST", "/api/v1/reward-orders/RO-1/status", key="admin",
                    json={"status": status, **extra})
    assert move("shipped").status_code == 409  # not confirmed yet
    assert move("confirmed").get_json()["status"] == "confirmed"
    cancelled = move("cancelled", note="out of mugs after all")
    assert cancelled.status_code == 200, cancelled.get_json()
    assert cancelled.get_json()["balance"]["available"] == "1000"
    assert [h["status"] for h in cancelled.get_json()["history"]] == ["placed", "confirmed", "cancelled"]
    assert move("cancelled").status_code == 200  # again: changes nothing
    assert call(client, keys, "POST", "/api/v1/reward-orders/RO-1/status", key="admin",
                headers={"Idempotency-Key": "k1"}, json={"status": "cancelled"}).status_code == 200
    assert balance(client, keys, anna) == "1000" and by_sku(client, keys)["R1"]["stock"] == 5
    late = move("confirmed")
    assert late.status_code == 409 and late.get_json()["code"] == "reward_order_status"
    history = call(client, keys, "GET", f"/api/v1/members/{anna}/history").get_json()["entries"]
    assert sorted(e["kind"] for e in history) == ["bonus", "redemption", "refund"]
    with app.app_context():
        events = db.session().execute(select(OutboxMessage).where(
            OutboxMessage.trigger == "reward_order.status_changed").order_by(OutboxMessage.id)).scalars().all()
        assert [e.variables["data"]["status"] for e in events] == ["placed", "confirmed", "cancelled"]
        assert events[0].variables["data"]["reward_order_id"] == "RO-1"
    xml = call(client, keys, "GET", "/api/v1/reward-orders/RO-1?format=xml")
    assert xml.mimetype == "application/xml" and b"<reward_order>" in xml.data and b"cancelled" in xml.data
    assert call(client, keys, "POST", "/api/v1/reward-orders/RO-1/status",
                json={"status": "confirmed"}).status_code == 403  # a shop key does not move orders on


def test_no_overdraft_no_stock_and_the_refusals_change_nothing(client, keys):
    upload(client, keys["erp"], catalog_file("R1;Kubek;900;;PLN;;100", "R2;Rower;900;;PLN;;5000",
                                             "R3;Stary;900;;PLN;;10", "2;Numer;900;;PLN;;7"))
    stock(client, keys, "R1", 1)
    call(client, keys, "PATCH", f"/api/v1/rewards/{by_sku(client, keys)['R3']['id']}", key="admin",
         json={"active": False})
    anna = enrol(client, keys, "anna", points="300")
    poor = order(client, keys, "RO-1", anna, [("R2", 1)])
    assert poor.status_code == 422 and poor.get_json()["code"] == "insufficient_points"
    assert order(client, keys, "RO-2", anna, [("R1", 2)]).get_json()["code"] == "reward_out_of_stock"
    assert order(client, keys, "RO-3", anna, [("R3", 1)]).get_json()["code"] == "reward_inactive"
    assert order(client, keys, "RO-4", anna, [("NOPE", 1)]).status_code == 404
    assert order(client, keys, "RO-5", anna, [("R1", 1), ("R1", 1)]).status_code == 422
    bad_address = call(client, keys, "POST", "/api/v1/reward-orders", json={
        "reward_order_id": "RO-6", "member": anna, "items": [{"sku": "R1"}], "address": {"name": "x"}})
    assert bad_address.status_code == 422 and "line1" in bad_address.get_data(as_text=True)
    piotr = enrol(client, keys, "piotr")
    stranger = order(client, keys, "RO-7", anna, [("R1", 1)], recipient=piotr)
    assert stranger.status_code == 422 and stranger.get_json()["code"] == "reward_recipient_refused"
    both = call(client, keys, "POST", "/api/v1/reward-orders", json={
        "reward_order_id": "RO-8", "member": anna, "items": [{"sku": "R1", "reward_id": 1}], "address": ADDRESS})
    assert both.status_code == 422
    assert balance(client, keys, anna) == "300" and by_sku(client, keys)["R1"]["stock"] == 1
    assert call(client, keys, "GET", "/api/v1/reward-orders/RO-1").status_code == 404
    affordable = call(client, keys, "GET", "/api/v1/rewards", query_string={"member": anna}).get_json()
    assert [r["sku"] for r in affordable["rewards"]] == ["R1", "2"] and affordable["total"] == 2

    # A SKU of digits is a SKU, never another reward's id; an id is given as reward_id.
    numeric = order(client, keys, "RO-9", anna, [("2", 1), (by_sku(client, keys)["R1"]["id"], 1)])
    assert numeric.status_code == 201, numeric.get_json()
    assert [(i["sku"], i["unit_points"]) for i in numeric.get_json()["items"]] == [("R1", "100"), ("2", "7")]


def test_a_company_employee_receives_what_the_company_account_pays(client, keys):
    upload(client, keys["erp"], catalog_file("R1;Kubek;900;;PLN;;100"))
    assert call(client, keys, "POST", "/api/v1/companies", json={"name": "Instal-Pol", "erp_code": "K1"}
                ).status_code == 201
    boss = enrol(client, keys, "boss", points="500", phone="602345678", company_erp_code="K1")
    worker = enrol(client, keys, "worker", phone="603456789", company_erp_code="K1")
    placed = order(client, keys, "RO-K", boss, [("R1", 1)], recipient=worker)
    assert placed.status_code == 201, placed.get_json()
    assert (placed.get_json()["member"], placed.get_json()["recipient"]) == (boss, worker)
    assert balance(client, keys, worker) == "400"  # the company's one account


def test_the_shipping_export_by_api_and_cli(app, client, keys, tmp_path):
    upload(client, keys["erp"], catalog_file('R1;"Kubek; duży";900;;PLN;;100', "R2;=HYPERLINK(1);900;;PLN;;50"))
    anna = enrol(client, keys, "anna", points="500")
    assert order(client, keys, "RO-1", anna, [("R1", 1), ("R2", 2)]).status_code == 201
    assert order(client, keys, "RO-2", anna, [("R2", 1)]).status_code == 201
    call(client, keys, "POST", "/api/v1/reward-orders/RO-2/status", key="admin", json={"status": "confirmed"})
    got = call(client, keys, "GET", "/api/v1/reward-orders/export.csv", key="admin",
               query_string={"status": "placed"})
    assert got.status_code == 200 and got.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(got.get_data(as_text=True))))
    got.close()
    assert [(r["reward_order_id"], r["sku"], r["item"], r["quantity"], r["points"]) for r in rows] == [
        ("RO-1", "R1", "Kubek; duży", "1", "100"), ("RO-1", "R2", "'=HYPERLINK(1)", "2", "100")]
    assert rows[0]["address_city"] == "Warszawa" and rows[0]["recipient_name"] == "anna"
    assert call(client, keys, "GET", "/api/v1/reward-orders/export.csv").status_code == 403

    cli = app.test_cli_runner()
    out = tmp_path / "ship.csv"
    done = cli.invoke(args=["rewards", "export", str(out), "--status", "confirmed"])
    assert done.exit_code == 0, done.output
    assert [r["reward_order_id"] for r in csv.DictReader(out.open(encoding="utf-8"))] == ["RO-2"]
    moved = cli.invoke(args=["rewards", "status", "RO-2", "shipped", "--note", "DPD 123"])
    assert moved.exit_code == 0 and "shipped" in moved.output
    refused = cli.invoke(args=["rewards", "status", "RO-2", "cancelled"])
    assert refused.exit_code != 0 and "cannot become cancelled" in refused.output
    assert cli.invoke(args=["rewards", "set", "R1", "--stock", "7"]).exit_code == 0
    listed = cli.invoke(args=["rewards", "list"])
    assert "R1\t100 points\tstock 7" in listed.output


def test_twenty_parallel_orders_for_the_last_three_items_three_succeed(pg_app, keys):
    from engine.models import LedgerEntry, Reward
    from server.extensions import db
    client = pg_app.test_client()
    upload(client, keys["erp"], catalog_file("R1;Hulajnoga;900;;PLN;;100"))
    stock(client, keys, "R1", 3)
    people = [enrol(client, keys, f"m{n}", points="150") for n in range(20)]
    start = threading.Barrier(20)
    answers: list[int] = []

    def attempt(n: int, member: str) -> None:
        own = pg_app.test_client()
        start.wait()
        answers.append(order(own, keys, f"RO-{n}", member, [("R1", 1)]).status_code)

    threads = [threading.Thread(target=attempt, args=(n, m)) for n, m in enumerate(people)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(answers) == [201] * 3 + [409] * 17
    assert sorted(int(balance(client, keys, m)) for m in people) == [50] * 3 + [150] * 17
    with pg_app.app_context():
        session = db.session()
        assert session.execute(select(Reward.stock)).scalar_one() == 0
        assert session.execute(select(func.count()).where(LedgerEntry.kind == "redemption")).scalar_one() == 3


def test_parallel_cancels_refund_once_and_give_the_stock_back_once(pg_app, keys):
    from engine.models import LedgerEntry
    from server.extensions import db
    client = pg_app.test_client()
    upload(client, keys["erp"], catalog_file("R1;Hulajnoga;900;;PLN;;100"))
    stock(client, keys, "R1", 2)
    anna = enrol(client, keys, "anna", points="300")
    assert order(client, keys, "RO-1", anna, [("R1", 2)]).status_code == 201
    start = threading.Barrier(8)
    answers: list[int] = []

    def cancel() -> None:
        own = pg_app.test_client()
        start.wait()
        answers.append(call(own, keys, "POST", "/api/v1/reward-orders/RO-1/status", key="admin",
                            json={"status": "cancelled"}).status_code)

    threads = [threading.Thread(target=cancel) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert answers == [200] * 8
    assert balance(client, keys, anna) == "300" and by_sku(client, keys)["R1"]["stock"] == 2
    with pg_app.app_context():
        assert db.session().execute(select(func.count()).where(LedgerEntry.kind == "refund")).scalar_one() == 1
