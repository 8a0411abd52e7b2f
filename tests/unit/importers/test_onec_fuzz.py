"""Hypothesis mutates CommerceML documents: a bad element is quarantined, a broken file refused, never a crash."""
from __future__ import annotations

from xml.sax.saxutils import escape

from hypothesis import given, settings
from hypothesis import strategies as st

from importers.onec.catalog import parse_catalog
from importers.onec.commerceml import parse_exchange
from importers.onec.safexml import XMLError
from tests.integration.onec import cml

NASTY = ["", " ", "²", "٣", "0", "-1", "0001-01-01", "9999-12-31T23:59:59", "9999-12-31T23:59:59-14:00",
         "0001-01-01T00:00:00+14:00", "00000000", "01.01.0001", "1e400", "-1e400", "9" * 40, "NaN", "Infinity",
         "1,5", "1.234,5", "x" * 3000, "\u00a0", "true", "да", "T", "2024-02-30", "25:61"]


@st.composite
def sale_files(draw):
    values = {name: escape(draw(st.sampled_from(NASTY) | st.text(max_size=10)))
              for name in ("date", "qty", "price", "id", "phone", "spent", "version", "card", "sku")}
    keep = {name: draw(st.booleans()) for name in values}
    pick = {name: (values[name] if not keep[name] else None) for name in values}
    buyer = cml.card(pick["card"] or "K1", "Иван", phone=pick["phone"] or "+7 912 345-67-89")
    items = [cml.item("SKU1", "Товар", "2", "150"),
             f"<Товар><Ид>{pick['sku'] or 'SKU2'}</Ид><Наименование>x</Наименование>"
             f"<ЦенаЗаЕдиницу>{pick['price'] or '10'}</ЦенаЗаЕдиницу><Количество>{pick['qty'] or '1'}</Количество>"
             f"<Сумма>{pick['price'] or '10'}</Сумма></Товар>"]
    docs = [cml.order(pick["id"] or "d1", buyer, items, version=pick["version"], spent=pick["spent"],
                      date=pick["date"] or "2026-03-01"),
            cml.order("d2", cml.card("K2", "Пётр"), [cml.item("SKU1", "Товар", "1", "99")])]
    body = "".join(docs)
    if draw(st.integers(0, 4)) == 0:  # break the XML itself
        cut = draw(st.integers(0, len(body)))
        body = body[:cut] + draw(st.sampled_from(["<", "&", "]]>", "</Документ>", "\x00"])) + body[cut:]
    encoding = draw(st.sampled_from(["windows-1251", "utf-8"]))
    try:
        body.encode("cp1251")
    except UnicodeEncodeError:
        encoding = "utf-8"
    return cml.commerce(body, encoding), len(docs)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(sale_files())
def test_a_sale_file_never_raises_beyond_refusing_the_file(case):
    data, documents = case
    try:
        batch = parse_exchange(data, origin_name="orders.xml")
    except XMLError as exc:  # the file as a whole: one sentence
        assert str(exc)
        return
    # every document is parsed, ignored or quarantined; none is lost
    doc_errors = [e for e in batch.errors if e.extra.get("element") == "Документ"]
    assert len(batch.documents) + len(batch.ignored) + len(doc_errors) >= documents
    assert all(e.reason for e in batch.errors)


@settings(max_examples=30, deadline=None, derandomize=True)
@given(st.sampled_from(NASTY) | st.text(max_size=10), st.sampled_from(NASTY) | st.text(max_size=10))
def test_a_catalog_never_raises_for_one_product(sku, price):
    sku, price = escape(sku), escape(price)
    data = cml.commerce(
        f"<Каталог><Товары><Товар><Ид>{sku}</Ид><Наименование>a</Наименование></Товар>"
        "<Товар><Ид>ok</Ид><Наименование>b</Наименование></Товар></Товары></Каталог>"
        f"<ПакетПредложений><Предложения><Предложение><Ид>{sku}</Ид><Цены><Цена>"
        f"<ЦенаЗаЕдиницу>{price}</ЦенаЗаЕдиницу></Цена></Цены></Предложение></Предложения></ПакетПредложений>",
        "utf-8")
    try:
        batch = parse_catalog(data)
    except XMLError:
        return
    assert "ok" in [p.sku for p in batch.products]


def test_dates_and_numbers_at_the_edges_quarantine_their_document():
    buyer = cml.card("K1", "Иван", phone="+7 912 345-67-89")
    docs = [cml.order("d1", buyer, [cml.item("SKU1", "Товар", "2", "150")], date="0001-01-01T00:00:00+14:00"),
            cml.order("d2", buyer, [cml.item("SKU1", "Товар", "2", "150")], date="9999-12-31T23:59:59-14:00"),
            cml.order("d3", buyer, [cml.item("SKU1", "Товар", "2", "150")], spent="1e400"),
            cml.order("d4", buyer, [cml.item("SKU1", "Товар", "2", "150")])]
    batch = parse_exchange(cml.commerce("".join(docs)), origin_name="orders.xml")
    assert [d.external_id for d in batch.documents] == ["d4"]
    assert len(batch.errors) == 3 and all(e.reason for e in batch.errors)
