"""1C: an order's promo codes and a product's tags, from our requisites (Промокоды, Метки)."""
from __future__ import annotations

from importers.onec.catalog import parse_catalog
from importers.onec.commerceml import parse_exchange
from tests.integration.onec.cml import card, commerce, item, order, with_requisite


def documents(*docs: str):
    return parse_exchange(commerce("".join(docs)))


def test_an_order_carries_its_promo_codes_and_a_bad_list_is_quarantined():
    buyer = card("c-1", "Иван", phone="+79161234567")
    coded = with_requisite(order("o-1", buyer, [item("sku-1", "Кофе", "1", "100")]), "Промокоды",
                           "LETO10; vip | leto10")
    plain = order("o-2", buyer, [item("sku-1", "Кофе", "1", "100")])
    bad = with_requisite(order("o-3", buyer, [item("sku-1", "Кофе", "1", "100")]), "Промокод", "x" * 65)
    batch = documents(coded, plain, bad)
    by_id = {doc.external_id: doc for doc in batch.documents}
    assert by_id["o-1"].codes == ("LETO10", "vip") and by_id["o-2"].codes == ()
    assert "o-3" not in by_id and any("Промокоды" in error.reason for error in batch.errors)


CATALOG = commerce(
    "<Каталог><Ид>cat</Ид><Товары>"
    "<Товар><Ид>p-1</Ид><Наименование>Кофе</Наименование><ЗначенияРеквизитов><ЗначениеРеквизита>"
    "<Наименование>Метки</Наименование><Значение>eco, new|Eco</Значение></ЗначениеРеквизита>"
    "</ЗначенияРеквизитов></Товар>"
    "<Товар><Ид>p-2</Ид><Наименование>Чай</Наименование></Товар>"
    f"<Товар><Ид>p-3</Ид><Наименование>Сахар</Наименование><ЗначенияРеквизитов><ЗначениеРеквизита>"
    f"<Наименование>Теги</Наименование><Значение>{'x' * 41}</Значение></ЗначениеРеквизита>"
    "</ЗначенияРеквизитов></Товар>"
    "</Товары></Каталог>")


def test_a_product_carries_its_tags_and_one_without_the_requisite_keeps_the_catalog_s():
    batch = parse_catalog(CATALOG)
    tags = {product.sku: product.tags for product in batch.products}
    assert tags == {"p-1": ("eco", "new"), "p-2": None}
    assert [error.reason for error in batch.errors] == ["Метки: the tag 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'… "
                                                        "is longer than 40 characters"]
