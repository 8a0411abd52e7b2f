"""parse_exchange on realistic 1C uploads: cards, statuses, versions, delivery, write-offs."""
from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from onec_samples import (
    GOODS,
    IVANOV_DUP,
    IVANOV_WORK,
    card,
    commerce,
    contact,
    document,
    item,
    orders_file,
    single_order_cml3,
)

from engine.onec import ExchangeConfig, load_settings
from importers.onec import HostileXML, parse_exchange
from importers.onec.commerceml import is_newer_version, version_key


@pytest.fixture(scope="module")
def batch():
    return parse_exchange(orders_file(), ExchangeConfig(), "orders.xml")


def by_id(batch):
    return {d.external_id: d for d in batch.documents}


def test_differently_written_phones_of_one_person_normalise_to_one_e164(batch):
    cards = {c.external_id: c for c in batch.customers}
    assert {cards[i].phone for i in ("c-001", "c-002", "c-003")} == {"+79123456789"}
    assert cards["c-001"].phone_raw == "8 (912) 345-67-89"
    assert cards["c-002"].phone_raw == "+7 912 345 67 89"
    assert cards["c-003"].phone_raw == "79123456789"
    assert cards["c-001"].email == "ivanov@example.ru"
    assert all(c.source == "1c" for c in batch.customers)


def test_card_without_phone_is_kept_and_reported(batch):
    [no_phone] = batch.customers_without_phone
    assert no_phone.external_id == "c-004"
    assert no_phone.email == "office@romashka.ru"
    assert no_phone.is_company and no_phone.tax_id == "7701234567"
    assert batch.counts()["customers_without_phone"] == 1


def test_posted_order_with_payment_date_is_paid_with_delivery_as_shipping(batch):
    order = by_id(batch)["ord-1"]
    assert order.status == "paid" and not order.cancelled
    assert order.document_type == "order" and order.channel == "phone"
    assert order.member_ref == "onec:c-001"
    assert order.number == "ТД-000101" and order.version == "3"
    assert order.currency == "RUB"
    assert order.shipping_total == Decimal("300")
    assert [(ln.line_no, ln.sku, ln.quantity, ln.unit_price, ln.line_total) for ln in order.lines] \
        == [(1, "a1b2c3d4-0000-0000-0000-000000000001", Decimal(2), Decimal("1250.50"),
             Decimal("2501.00")),
            (2, "a1b2c3d4-0000-0000-0000-000000000002", Decimal(1), Decimal(990), Decimal(990))]
    # 10:15 in Moscow (UTC+3) is 07:15 UTC.
    assert order.placed_at == datetime(2024, 3, 1, 7, 15, tzinfo=UTC)


def test_write_off_requisite_gives_an_idempotent_write_off(batch):
    order = by_id(batch)["ord-1"]
    assert order.points_spent == Decimal("150.00")
    [write_off] = batch.write_offs
    assert write_off.external_id == "ord-1#writeoff@3"
    assert write_off.points == Decimal("150.00")
    assert write_off.member_ref == "onec:c-001" and write_off.document_external_id == "ord-1"
    again = parse_exchange(orders_file(), ExchangeConfig(), "orders.xml")
    assert again.write_offs[0].external_id == write_off.external_id


def test_cancelled_and_deleted_orders(batch):
    docs = by_id(batch)
    assert docs["ord-2"].status == "cancelled" and docs["ord-2"].cancelled
    assert docs["ord-3"].status == "cancelled" and docs["ord-3"].cancelled
    # The cancelled order's write-off is not applied (its spend is refunded, not taken).
    assert "ord-2" not in {w.document_external_id for w in batch.write_offs}


def test_posted_with_shipment_date_and_final_status_are_fulfilled(batch):
    docs = by_id(batch)
    assert docs["ord-4"].status == "fulfilled"
    assert docs["1077"].status == "fulfilled"


def test_site_order_is_web_and_keyed_by_the_shop_order_id(batch):
    web = by_id(batch)["1077"]
    assert web.channel == "web" and web.number == "77"


def test_return_is_a_correction_of_its_base(batch):
    ret = by_id(batch)["ret-1"]
    assert ret.document_type == "correction" and ret.base_external_id == "ord-1"
    assert ret.status is None and ret.lines[0].line_total == Decimal(990)


def test_bad_document_is_quarantined_and_others_go_through(batch):
    [error] = batch.errors
    assert error.extra == {"element": "Документ", "index": 5, "id": "ord-5"}
    assert "31.02.2024" in error.reason
    assert error.origin.name == "orders.xml" and error.origin.line_no > 1
    assert "<Ид>ord-5</Ид>" in error.raw
    assert len(batch.documents) == 6


def test_payment_document_is_ignored_not_an_error(batch):
    [ignored] = batch.ignored
    assert ignored.extra["id"] == "pay-1" and "Выплата безналичных денег" in ignored.reason


def test_single_document_cml3_with_namespace_and_container():
    batch = parse_exchange(single_order_cml3(), origin_name="documents.xml")
    [doc] = batch.documents
    assert doc.external_id == "solo-1" and doc.status == "fulfilled"  # СтатусЗаказа = Отгружен
    assert doc.origin.line_no == 4
    assert [c.phone for c in batch.customers] == ["+79123456789"]
    assert batch.schema_version == "3.1"


def test_single_document_with_single_card_and_line():
    data = commerce(document("x-1", "1", cards=[IVANOV_DUP], items=[GOODS[0]]), "UTF-8")
    batch = parse_exchange(data)
    assert len(batch.documents) == 1 and len(batch.documents[0].lines) == 1
    assert batch.documents[0].status == "placed"


def test_configured_requisite_names_and_status_texts():
    config = load_settings({
        "requisites": {"cancelled": ["Отменён клиентом"], "payment_date": "ОплаченДата",
                       "points_spent": "СписаноБаллов"},
        "status_text": {"Ждёт курьера": "paid"},
    })
    docs = [
        document("a", "1", cards=[IVANOV_WORK], reqs={"Отменён клиентом": "Да"}),
        document("b", "2", cards=[IVANOV_WORK], items=[GOODS[0]],
                 reqs={"Проведен": "true", "ОплаченДата": "2024-03-01", "СписаноБаллов": "5"}),
        document("c", "3", cards=[IVANOV_WORK], reqs={"Статус заказа": "ждет  курьера"}),
        document("d", "4", cards=[IVANOV_WORK], reqs={"Отменен": "true"}),  # default name no longer
    ]
    batch = parse_exchange(commerce("".join(docs)), config)
    docs = by_id(batch)
    assert docs["a"].status == "cancelled"
    assert docs["b"].status == "paid" and batch.write_offs[0].points == Decimal(5)
    assert docs["c"].status == "paid"
    assert docs["d"].status == "placed"


def test_unposted_document_is_not_successful_unless_configured():
    doc = document("u", "1", cards=[IVANOV_WORK], reqs={"Дата оплаты по 1С": "2024-03-01"})
    assert parse_exchange(commerce(doc)).documents[0].status == "placed"
    relaxed = load_settings({"require_posted": False})
    assert parse_exchange(commerce(doc), relaxed).documents[0].status == "paid"


def test_returned_status_text_wins_over_a_shipment():
    doc = document("r", "1", cards=[IVANOV_WORK], reqs={
        "Проведен": "true", "Дата отгрузки по 1С": "2024-03-02", "Статус заказа": "Возвращен"})
    assert parse_exchange(commerce(doc)).documents[0].status == "returned"


def test_generic_card_needs_the_buyer_phone_or_bonus_card():
    retail = card("retail", "Розничный покупатель", [contact("Телефон", "+7 495 000-00-00")])
    config = load_settings({"ignored_counterparty_ids": ["retail"]})
    docs = [document("g1", "1", cards=[retail], reqs={"ТелефонПокупателя": "8-912-345-67-89"}),
            document("g2", "2", cards=[retail], reqs={"БонуснаяКарта": "LOY-0042"}),
            document("g3", "3", cards=[retail])]
    batch = parse_exchange(commerce("".join(docs)), config)
    refs = {d.external_id: d.member_ref for d in batch.documents}
    assert refs == {"g1": "phone:+79123456789", "g2": "LOY-0042"}
    assert batch.errors[0].extra["id"] == "g3" and "no customer" in batch.errors[0].reason


@pytest.mark.parametrize("reqs, extra, reason", [
    ({"Отменен": "может быть"}, "", "neither true nor false"),
    ({"БонусовСписано": "-5"}, "", "negative"),
    ({"БонусовСписано": "1,000.5"}, "", "mixes"),
    ({"ТелефонПокупателя": "12"}, "", "not a valid phone"),
], ids=["bool", "negative-write-off", "ambiguous-decimal", "bad-phone"])
def test_bad_values_quarantine_the_document(reqs, extra, reason):
    doc = document("bad", "1", cards=[IVANOV_WORK], reqs=reqs, extra=extra)
    batch = parse_exchange(commerce(doc))
    assert not batch.documents and reason in batch.errors[0].reason
    assert [c.external_id for c in batch.customers] == ["c-001"]  # the card itself is fine


def test_return_without_base_is_an_error():
    doc = document("r", "1", cards=[IVANOV_WORK], operation="Возврат товара")
    assert "Основание" in parse_exchange(commerce(doc)).errors[0].reason


def test_newer_version_in_the_same_file_wins():
    docs = [document("v", "1", cards=[IVANOV_WORK], reqs={"НомерВерсии": "5", "Отменен": "true"}),
            document("v", "1", cards=[IVANOV_WORK], reqs={"НомерВерсии": "4"})]
    batch = parse_exchange(commerce("".join(docs)))
    [doc] = batch.documents
    assert doc.version == "5" and doc.status == "cancelled"
    assert "newer version" in batch.ignored[0].reason


def test_version_comparison():
    assert version_key("12") == (0, 12)
    assert version_key("AAAAAAAAB9A=") == (1, 2000)
    assert is_newer_version("10", "9") and not is_newer_version("9", "10")
    assert not is_newer_version("7", "7")
    assert is_newer_version("AAAAAAAAB9E=", "AAAAAAAAB9A=")
    assert is_newer_version("x-1", "y-2")  # incomparable: applied
    assert is_newer_version(None, "3") and is_newer_version("3", None)


def test_time_zone_and_regions_are_configurable():
    config = load_settings({"time_zone": "Asia/Almaty", "phone_regions": ["KZ", "RU"],
                                       "default_currency": "KZT"})
    kz = card("kz-1", "Серик", [contact("Телефон мобильный", "8 (701) 123-45-67")])
    doc = document("k", "1", cards=[kz], date="2024-03-01", time="05:00:00")
    batch = parse_exchange(commerce(doc.replace("<Валюта>руб</Валюта>", "")), config)
    assert batch.customers[0].phone == "+77011234567"
    assert batch.documents[0].placed_at == datetime(2024, 3, 1, 0, 0, tzinfo=UTC)
    assert batch.documents[0].currency == "KZT"


def test_root_level_customer_cards_are_read_and_merged():
    body = f"<Контрагенты>{IVANOV_WORK}{card('c-001', '', [contact('Телефон', '+79123456789')])}" \
           f"{card('', 'без Ид')}</Контрагенты>"
    batch = parse_exchange(commerce(body))
    [ivanov] = batch.customers
    assert ivanov.name == "Иванов Иван Иванович" and ivanov.phone == "+79123456789"
    assert "no Ид" in batch.errors[0].reason and batch.errors[0].origin.line_no


def test_hostile_upload_is_refused_as_a_whole():
    data = ('<?xml version="1.0"?><!DOCTYPE КоммерческаяИнформация [<!ENTITY a "b">]>'
            "<КоммерческаяИнформация/>").encode()
    with pytest.raises(HostileXML):
        parse_exchange(data)


def test_oversized_upload_is_refused_with_the_configured_limit():
    config = load_settings({"max_xml_bytes": 1000, "file_limit": 1000})
    with pytest.raises(HostileXML, match="over the limit"):
        parse_exchange(orders_file(), config)


def test_web_order_pattern_and_documents_without_id():
    config = load_settings({"web_order_pattern": r"site-(?P<id>\d+)"})
    docs = [document("site-1042", "1042", cards=[IVANOV_WORK]),
            document("", "ТД-9", cards=[IVANOV_WORK]).replace("<Ид></Ид>", "", 1)]
    batch = parse_exchange(commerce("".join(docs)), config)
    assert [(d.external_id, d.channel) for d in batch.documents] == [("1042", "web"),
                                                                     ("ТД-9", "phone")]


def test_delivery_ids_services_and_article_skus():
    delivery = item("ORDER_DELIVERY", "Доставка", "1", "348", "348")
    assembly = item("svc-1", "Сборка", "1", "500", "500", kind="Услуга")
    goods = GOODS[0].replace("<Наименование>", "<Артикул>ARB-1000</Артикул><Наименование>", 1)
    doc = document("s", "1", cards=[IVANOV_WORK], items=[goods, delivery, assembly])
    default = parse_exchange(commerce(doc)).documents[0]
    assert default.shipping_total == Decimal(848) and len(default.lines) == 1
    config = load_settings({"services_are_delivery": False, "sku_source": "article"})
    custom = parse_exchange(commerce(doc), config).documents[0]
    assert custom.shipping_total == Decimal(348)
    assert [(ln.sku, ln.is_service) for ln in custom.lines] == [("ARB-1000", False),
                                                                ("svc-1", True)]
