"""What 1C sends, applied through the same pipeline as every source: statuses, versions,
write-offs, web orders, returns and the catalog (over real HTTP)."""
from __future__ import annotations

from decimal import Decimal

import requests
from sqlalchemy import func, select

from engine import clock, ledger, members
from engine.models import Document, LedgerEntry, Member, Product, ProductGroup, QuarantinedRow, Redemption
from tests.conftest import auth
from tests.integration.onec.cml import card, commerce, item, operations, order

IVANOV = card("c-001", "Иванов Иван", "+7 912 345-67-89")
COFFEE = item("coffee-1", "Кофе", "2", "1250.50")  # 2501 → 250 points
CUP = item("cup-1", "Чашка", "1", "300")  # 300 → 30 points


def upload(onec, *docs: str, name: str = "orders.xml", confirm: bool = True) -> bytes:
    return onec().exchange({name: commerce("".join(docs))}, confirm=confirm)


def state(app):
    from server.extensions import db
    with app.app_context():
        session = db.session()
        member = members.resolve(session, "onec:c-001")
        bal = ledger.balance(session, member.account, clock.now()) if member else None
        docs = {d.external_id: (d.status, d.version, d.earned)
                for d in session.execute(select(Document)).scalars()}
        return bal, docs


def test_cancellation_after_accrual_takes_the_points_back(onec, app):
    body = upload(onec, order("ord-1", IVANOV, [COFFEE], version="1", shipped=True))
    assert [o["accrued"] for o in operations(body)] == ["250"]
    assert state(app)[0].available == 250
    body = upload(onec, order("ord-1", IVANOV, [COFFEE], version="2", shipped=True,
                              cancelled=True), name="cancel.xml")
    bal, docs = state(app)
    assert bal.available == 0 and docs["ord-1"] == ("cancelled", "2", 0)
    ops = operations(body)
    assert [(o["kind"], o["spent"], o["balance"]) for o in ops] == [("reversal", "250", "0")]


def test_an_older_or_equal_version_is_ignored(onec, app):
    upload(onec, order("ord-1", IVANOV, [COFFEE], version="5", shipped=True))
    upload(onec, order("ord-1", IVANOV, [COFFEE], version="3", cancelled=True), name="old.xml")
    upload(onec, order("ord-1", IVANOV, [COFFEE], version="5", cancelled=True), name="same.xml")
    bal, docs = state(app)
    assert docs["ord-1"] == ("fulfilled", "5", 250) and bal.available == 250


def test_lines_of_a_newer_version_replace_the_old_ones_before_accrual(onec, app):
    upload(onec, order("ord-1", IVANOV, [COFFEE], version="1"))  # placed: earns nothing yet
    upload(onec, order("ord-1", IVANOV, [COFFEE, CUP], version="2", shipped=True), name="v2.xml")
    bal, docs = state(app)
    assert docs["ord-1"] == ("fulfilled", "2", 280) and bal.available == 280


def test_write_offs_post_differences_and_never_overdraw(onec, app, keys):
    upload(onec, order("ord-1", IVANOV, [COFFEE], version="1", shipped=True))  # 250 points
    upload(onec, order("ord-2", IVANOV, [CUP], version="1", spent="100"), name="w1.xml")
    assert state(app)[0].available == 150
    # A newer version with a larger write-off posts only the difference (+50).
    upload(onec, order("ord-2", IVANOV, [CUP], version="2", spent="150"), name="w2.xml")
    assert state(app)[0].available == 100
    # A smaller one refunds what was written off and spends the new amount: net 120.
    upload(onec, order("ord-2", IVANOV, [CUP], version="3", spent="120"), name="w3.xml")
    assert state(app)[0].available == 130
    # More than the balance: refused whole, reported; the balance does not move.
    client = onec()
    body = client.exchange({"big.xml": commerce(order("ord-3", IVANOV, [CUP], version="1",
                                                      spent="500"))})
    assert state(app)[0].available == 130
    log = requests.get(client.base + "/api/v1/exchange/1c/sessions",
                       headers=auth(keys["admin"])).json()["sessions"][0]
    assert log["counts"]["write_offs_refused"] == 1 and log["counts"]["quarantined"] == 1
    detail = requests.get(f"{client.base}/api/v1/exchange/1c/sessions/{log['id']}",
                          headers=auth(keys["admin"])).json()
    errors = [m for m in detail["files"][0]["messages"] if m["level"] == "error"]
    assert "was refused" in errors[0]["reason"] and "130 points available" in errors[0]["reason"]
    assert detail["files"][0]["quarantined"] == 1
    from server.extensions import db
    with app.app_context():
        session = db.session()
        spent = session.execute(select(Redemption.points, Redemption.status)
                                .where(Redemption.order_external_id == "ord-2")
                                .order_by(Redemption.id)).all()
        assert spent == [(100, "cancelled"), (50, "cancelled"), (120, "active")]
        assert session.execute(select(func.count(QuarantinedRow.id))).scalar_one() == 1
    # Write-offs made in 1C are not echoed back as operations; the balance travels.
    assert all(o["kind"] != "redemption" for o in operations(body))
    # Cancelling the order in 1C refunds its write-off.
    upload(onec, order("ord-2", IVANOV, [CUP], version="4", cancelled=True), name="c.xml")
    assert state(app)[0].available == 250


def test_a_web_order_updates_the_shops_own_order(onec, app, keys, live):
    shop = auth(keys["shop"])
    member = requests.post(live + "/api/v1/members", headers=shop,
                           json={"name": "Web", "ext_id": "u-7", "phone": "+7 912 777 00 00"})
    assert member.status_code == 201, member.text
    placed = clock.now().replace(microsecond=0).isoformat()
    response = requests.post(live + "/api/v1/orders", headers=shop, json={
        "order_id": "1077", "member": "ext:u-7", "placed_at": placed, "currency": "RUB",
        "lines": [{"line_no": 1, "sku": "coffee-1", "quantity": 1, "unit_price": "500",
                   "line_total": "500"}]})
    assert response.status_code == 201, response.text
    buyer = card("c-web", "Web", "+7 912 777 00 00")
    upload(onec, order("site-77", buyer, [COFFEE], version="1", shipped=True, site_order="1077"),
           order("site-78", buyer, [CUP], version="1", shipped=True, site_order="1078"))
    from server.extensions import db
    with app.app_context():
        session = db.session()
        docs = {(d.source, d.external_id): (d.status, d.earned)
                for d in session.execute(select(Document)).scalars()}
    # 1077 keeps the shop's lines (500 → 50 points); unknown 1078 is created under "shop".
    assert docs == {("shop", "1077"): ("fulfilled", 50), ("shop", "1078"): ("fulfilled", 30)}


def test_a_return_from_1c_takes_back_what_its_goods_earned(onec, app):
    upload(onec, order("ord-1", IVANOV, [COFFEE, CUP], version="1", shipped=True))  # 280
    ret = order("ret-1", IVANOV, [CUP], operation="Возврат товара", base="ord-1")
    upload(onec, ret, name="return.xml")
    bal, docs = state(app)
    assert bal.available == 250 and docs["ord-1"][2] == 250


def test_cards_without_phone_are_kept_and_reported(onec, app, keys):
    client = onec()
    client.exchange({"cards.xml": commerce(
        "<Контрагенты>" + card("c-9", "ООО Ромашка") + card("c-8", "Пётр", "12") +
        "</Контрагенты>")})
    log = requests.get(client.base + "/api/v1/exchange/1c/sessions",
                       headers=auth(keys["admin"])).json()["sessions"][0]
    assert log["counts"]["customers"] == 2 and log["counts"]["customers_without_phone"] == 2
    from server.extensions import db
    with app.app_context():
        names = sorted(m.name for m in db.session().execute(select(Member)).scalars())
    assert names == ["ООО Ромашка", "Пётр"]


CATALOG = commerce(
    "<Классификатор><Ид>cls</Ид><Группы><Группа><Ид>g-coffee</Ид><Наименование>Кофе"
    "</Наименование><Группы><Группа><Ид>g-beans</Ид><Наименование>Зерно</Наименование>"
    "</Группа></Группы></Группа></Группы></Классификатор>"
    "<Каталог СодержитТолькоИзменения=\"false\"><Ид>cat</Ид><Товары><Товар><Ид>coffee-1</Ид>"
    "<Наименование>Кофе «Арабика»</Наименование><Группы><Ид>g-beans</Ид></Группы></Товар>"
    "</Товары></Каталог>")
OFFERS = commerce(
    "<ПакетПредложений><Ид>p</Ид><ТипыЦен><ТипЦены><Ид>t1</Ид><Наименование>Розничная"
    "</Наименование><Валюта>руб</Валюта></ТипЦены></ТипыЦен><Предложения><Предложение>"
    "<Ид>coffee-1</Ид><Наименование>Кофе «Арабика»</Наименование><Цены><Цена>"
    "<ИдТипаЦены>t1</ИдТипаЦены><ЦенаЗаЕдиницу>1250.50</ЦенаЗаЕдиницу><Валюта>руб</Валюта>"
    "</Цена></Цены></Предложение></Предложения></ПакетПредложений>")


def test_catalog_exchange_brings_groups_products_and_prices(onec, app):
    client = onec("catalog")
    assert client.checkauth()[0] == "success"
    client.init()
    client.upload("import.xml", CATALOG)
    client.upload("offers.xml", OFFERS)
    assert client.import_("import.xml")[0] == "success"
    assert client.import_("offers.xml")[0] == "success"
    from tests.integration.onec.cml import lines
    assert lines(client.call("query"))[0] == "failure"  # query belongs to type=sale
    from server.extensions import db
    with app.app_context():
        session = db.session()
        product = session.execute(select(Product)).scalar_one()
        assert (product.sku, product.name, product.product_group, product.price,
                product.currency) == ("coffee-1", "Кофе «Арабика»", "g-beans",
                                      Decimal("1250.5"), "RUB")
        groups = {g.code: g.parent_code for g in session.execute(select(ProductGroup)).scalars()}
        assert groups == {"g-coffee": None, "g-beans": "g-coffee"}
        assert session.execute(select(func.count(LedgerEntry.id))).scalar_one() == 0


DELETED = commerce(
    "<Каталог СодержитТолькоИзменения=\"true\"><Ид>cat</Ид><Товары><Товар><Ид>coffee-1</Ид>"
    "<Наименование>Кофе «Арабика»</Наименование><ПометкаУдаления>true</ПометкаУдаления>"
    "</Товар></Товары></Каталог>")


def test_a_product_deleted_in_1c_is_no_longer_offered_but_kept(onec, app):
    client = onec("catalog")
    assert client.checkauth()[0] == "success"
    client.init()
    client.upload("import.xml", CATALOG)
    assert client.import_("import.xml")[0] == "success"
    client.upload("import.xml", DELETED)
    assert client.import_("import.xml")[0] == "success"
    from server.extensions import db
    with app.app_context():
        product = db.session().execute(select(Product)).scalar_one()
        assert product.sku == "coffee-1" and product.active is False
    # Listed again (a new file: the same bytes again would change nothing): offered again.
    client.upload("import.xml", CATALOG.replace("«Арабика»".encode("cp1251"),
                                                "«Арабика» 1 кг".encode("cp1251")))
    assert client.import_("import.xml")[0] == "success"
    with app.app_context():
        assert db.session().execute(select(Product)).scalar_one().active is True
