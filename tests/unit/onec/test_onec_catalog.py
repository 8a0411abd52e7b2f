"""type=catalog: nested product groups, products and prices from 1C's import.xml / offers.xml."""
from __future__ import annotations

from decimal import Decimal

import pytest
from onec_samples import commerce

from engine.onec import ExchangeConfig, load_settings
from importers.onec import BadXML, ProductGroup, parse_catalog

IMPORT_XML = commerce("""
  <Классификатор>
    <Ид>cls-1</Ид>
    <Наименование>Классификатор (Основной каталог товаров)</Наименование>
    <Группы>
      <Группа>
        <Ид>g-coffee</Ид>
        <Наименование>Кофе</Наименование>
        <Группы>
          <Группа><Ид>g-beans</Ид><Наименование>Зерновой</Наименование></Группа>
          <Группа>
            <Ид>g-ground</Ид><Наименование>Молотый</Наименование>
            <Группы><Группа><Ид>g-turk</Ид><Наименование>Для турки</Наименование></Группа></Группы>
          </Группа>
        </Группы>
      </Группа>
      <Группа><Ид>g-ware</Ид><Наименование>Посуда &amp; аксессуары</Наименование></Группа>
    </Группы>
    <ТипыЦен>
      <ТипЦены><Ид>pt-retail</Ид><Наименование>Розничная</Наименование>
        <Валюта>руб</Валюта></ТипЦены>
      <ТипЦены><Ид>pt-opt</Ид><Наименование>Оптовая</Наименование><Валюта>руб</Валюта></ТипЦены>
    </ТипыЦен>
  </Классификатор>
  <Каталог СодержитТолькоИзменения="false">
    <Ид>cat-1</Ид>
    <ИдКлассификатора>cls-1</ИдКлассификатора>
    <Наименование>Основной каталог товаров</Наименование>
    <Товары>
      <Товар>
        <Ид>p-1</Ид><Артикул>ARB-1000</Артикул><Наименование>Арабика 1 кг</Наименование>
        <БазоваяЕдиница Код="796">шт</БазоваяЕдиница>
        <Группы><Ид>g-beans</Ид></Группы>
        <Изготовитель><Ид>m-1</Ид><Наименование>Lavazza</Наименование></Изготовитель>
      </Товар>
      <Товар>
        <Ид>p-2</Ид><Артикул>TRK-1</Артикул><Наименование>Турка медная</Наименование>
        <Группы><Ид>g-ware</Ид></Группы>
      </Товар>
      <Товар Статус="Удален"><Ид>p-3</Ид><Наименование>Снят с продажи</Наименование></Товар>
      <Товар><Наименование>Без Ид</Наименование></Товар>
    </Товары>
  </Каталог>""")

OFFERS_XML = commerce("""
  <ПакетПредложений СодержитТолькоИзменения="false">
    <Ид>cat-1#</Ид><Наименование>Пакет предложений</Наименование><ИдКаталога>cat-1</ИдКаталога>
    <Предложения>
      <Предложение>
        <Ид>p-1</Ид><Наименование>Арабика 1 кг</Наименование>
        <Цены>
          <Цена><Представление>1 250,50 руб. за шт</Представление><ИдТипаЦены>pt-retail</ИдТипаЦены>
            <ЦенаЗаЕдиницу>1250.50</ЦенаЗаЕдиницу><Валюта>руб</Валюта><Единица>шт</Единица></Цена>
          <Цена><ИдТипаЦены>pt-opt</ИдТипаЦены><ЦенаЗаЕдиницу>1100</ЦенаЗаЕдиницу>
            <Валюта>руб</Валюта></Цена>
        </Цены>
      </Предложение>
      <Предложение>
        <Ид>p-2#v-small</Ид><Наименование>Турка (0,3 л)</Наименование>
        <Цены><Цена><ИдТипаЦены>pt-retail</ИдТипаЦены><ЦенаЗаЕдиницу>990</ЦенаЗаЕдиницу>
          <Валюта>RUB</Валюта></Цена></Цены>
      </Предложение>
      <Предложение>
        <Ид>p-9</Ид><Наименование>Только цена</Наименование>
        <Цены><Цена><ИдТипаЦены>pt-retail</ИдТипаЦены><ЦенаЗаЕдиницу>10,5</ЦенаЗаЕдиницу>
          </Цена></Цены>
      </Предложение>
      <Предложение>
        <Ид>p-bad</Ид>
        <Цены><Цена><ИдТипаЦены>pt-retail</ИдТипаЦены><ЦенаЗаЕдиницу>дорого</ЦенаЗаЕдиницу>
          </Цена></Цены>
      </Предложение>
    </Предложения>
  </ПакетПредложений>""")


@pytest.fixture(scope="module")
def batch():
    return parse_catalog(IMPORT_XML, OFFERS_XML, ExchangeConfig())


def test_nested_groups_keep_their_parents(batch):
    assert batch.groups == [
        ProductGroup("g-coffee", "Кофе", None), ProductGroup("g-beans", "Зерновой", "g-coffee"),
        ProductGroup("g-ground", "Молотый", "g-coffee"),
        ProductGroup("g-turk", "Для турки", "g-ground"),
        ProductGroup("g-ware", "Посуда & аксессуары", None)]


def test_products_with_group_brand_and_first_price(batch):
    products = {p.sku: p for p in batch.products}
    arabica = products["p-1"]
    assert (arabica.name, arabica.product_group, arabica.brand) == ("Арабика 1 кг", "g-beans",
                                                                    "Lavazza")
    assert arabica.price == Decimal("1250.50") and arabica.currency == "RUB"
    assert arabica.source == "1c"
    # The variant's offer prices its product when the product has no offer of its own.
    assert products["p-2"].price == Decimal("990")
    # An offer for a product this upload did not describe still carries its price.
    assert products["p-9"].price == Decimal("10.5") and products["p-9"].name == "Только цена"


def test_deleted_products_bad_rows_and_counts(batch):
    assert batch.deleted_skus == ["p-3"]
    reasons = sorted(e.reason for e in batch.errors)
    assert any("no Ид" in r for r in reasons) and any("дорого" in r for r in reasons)
    assert batch.counts() == {"groups": 5, "products": 3, "deleted": 1, "errors": 2}
    assert not batch.only_changes


def test_price_type_by_name_and_article_as_sku():
    config = load_settings({"price_type": "Оптовая", "sku_source": "article"})
    batch = parse_catalog(IMPORT_XML, OFFERS_XML, config)
    products = {p.sku: p for p in batch.products}
    assert products["ARB-1000"].price == Decimal("1100")
    assert products["TRK-1"].price is None  # no wholesale price for the turk


def test_catalog_without_offers_and_hostile_offers():
    batch = parse_catalog(IMPORT_XML)
    assert all(p.price is None for p in batch.products)
    with pytest.raises(BadXML):
        parse_catalog(IMPORT_XML, b"<not-closed>")
