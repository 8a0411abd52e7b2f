"""CommerceML samples shaped like what 1C (УТ 11, УНФ, Bitrix-style exchange) really sends."""
from __future__ import annotations


def requisites(pairs: dict[str, str]) -> str:
    items = "".join(
        f"""
        <ЗначениеРеквизита>
          <Наименование>{name}</Наименование>
          <Значение>{value}</Значение>
        </ЗначениеРеквизита>""" for name, value in pairs.items())
    return f"<ЗначенияРеквизитов>{items}\n      </ЗначенияРеквизитов>" if pairs else ""


def contact(kind: str, value: str) -> str:
    return f"<Контакт><Тип>{kind}</Тип><Значение>{value}</Значение></Контакт>"


def card(card_id: str, name: str, contacts: list[str] = (), role: str = "Покупатель",
         extra: str = "") -> str:
    block = f"<Контакты>{''.join(contacts)}</Контакты>" if contacts else ""
    return f"""
        <Контрагент>
          <Ид>{card_id}</Ид>
          <Наименование>{name}</Наименование>
          <ПолноеНаименование>{name}</ПолноеНаименование>
          <Роль>{role}</Роль>{extra}
          {block}
        </Контрагент>"""


def item(item_id: str, name: str, qty: str, price: str, total: str, kind: str = "Товар") -> str:
    return f"""
        <Товар>
          <Ид>{item_id}</Ид>
          <Наименование>{name}</Наименование>
          <БазоваяЕдиница Код="796" НаименованиеПолное="Штука">шт</БазоваяЕдиница>
          <ЦенаЗаЕдиницу>{price}</ЦенаЗаЕдиницу>
          <Количество>{qty}</Количество>
          <Сумма>{total}</Сумма>
          {requisites({"ВидНоменклатуры": kind, "ТипНоменклатуры": kind})}
        </Товар>"""


def document(doc_id: str, number: str, *, cards: list[str] = (), items: list[str] = (),
             reqs: dict[str, str] | None = None, operation: str = "Заказ товара",
             date: str = "2024-03-01", time: str = "10:15:00", total: str = "0",
             extra: str = "") -> str:
    cards_xml = f"<Контрагенты>{''.join(cards)}</Контрагенты>" if cards else ""
    items_xml = f"<Товары>{''.join(items)}</Товары>" if items else ""
    return f"""
    <Документ>
      <Ид>{doc_id}</Ид>
      <Номер>{number}</Номер>
      <Дата>{date}</Дата>
      <ХозОперация>{operation}</ХозОперация>
      <Роль>Продавец</Роль>
      <Валюта>руб</Валюта>
      <Курс>1</Курс>
      <Сумма>{total}</Сумма>
      {cards_xml}
      <Время>{time}</Время>{extra}
      {items_xml}
      {requisites(reqs or {})}
    </Документ>"""


def commerce(body: str, encoding: str = "windows-1251", version: str = "2.08") -> bytes:
    text = (f'<?xml version="1.0" encoding="{encoding}"?>\n'
            f'<КоммерческаяИнформация ВерсияСхемы="{version}" '
            f'ДатаФормирования="2024-03-02T09:00:00">{body}\n</КоммерческаяИнформация>\n')
    return text.encode("cp1251" if encoding.lower() in ("windows-1251", "cp1251") else encoding)


IVANOV_WORK = card("c-001", "Иванов Иван Иванович",
                   [contact("Телефон рабочий", "8 (912) 345-67-89"),
                    contact("Почта", "ivanov@example.ru")])
IVANOV_DUP = card("c-002", "Иванов И. И.", [contact("Телефон мобильный", "+7 912 345 67 89")])
IVANOV_DUP2 = card("c-003", "ИВАНОВ ИВАН", [contact("ТелефонМобильный", "79123456789")])
NO_PHONE = card("c-004", "ООО «Ромашка»", [contact("Почта", "office@romashka.ru")],
                extra="<ОфициальноеНаименование>ООО «Ромашка»</ОфициальноеНаименование>"
                      "<ИНН>7701234567</ИНН><КПП>770101001</КПП>")
GOODS = [item("a1b2c3d4-0000-0000-0000-000000000001", "Кофе зерновой «Арабика» 1 кг",
              "2", "1 250,50", "2501,00"),
         item("a1b2c3d4-0000-0000-0000-000000000002#5f5f", "Турка медная", "1", "990", "990")]
DELIVERY = item("d0000000-0000-0000-0000-00000000dead", "Доставка курьером", "1", "300", "300",
                kind="Услуга")


def orders_file() -> bytes:
    """Eight documents in windows-1251, as a УТ 11 "обмен с сайтом" upload."""
    docs = [
        document("ord-1", "ТД-000101", cards=[IVANOV_WORK], items=GOODS + [DELIVERY],
                 total="3791.00", reqs={"Номер по 1С": "ТД-000101", "Проведен": "true",
                                        "Дата оплаты по 1С": "2024-03-01T12:00:00",
                                        "Дата отгрузки по 1С": "T", "НомерВерсии": "3",
                                        "БонусовСписано": "150,00",
                                        "Статус заказа": "К отгрузке"}),
        document("ord-2", "ТД-000102", cards=[IVANOV_DUP], items=GOODS[:1], total="2501",
                 reqs={"Проведен": "true", "Отменен": "true", "БонусовСписано": "10"}),
        document("ord-3", "ТД-000103", cards=[IVANOV_DUP2], items=GOODS[:1], total="2501",
                 reqs={"ПометкаУдаления": "true", "Проведен": "false"}),
        document("ord-4", "ТД-000104", cards=[NO_PHONE], items=GOODS[1:], total="990",
                 reqs={"Проведен": "true", "Дата отгрузки по 1С": "2024-03-05T18:00:00"}),
        document("ord-5", "ТД-000105", cards=[IVANOV_WORK], items=GOODS[:1], date="31.02.2024"),
        document("pay-1", "ПП-7", cards=[IVANOV_WORK], operation="Выплата безналичных денег"),
        document("ret-1", "ВТ-1", cards=[IVANOV_WORK], items=GOODS[1:], total="990",
                 operation="Возврат товара", extra="<Основание>ord-1</Основание>",
                 reqs={"Проведен": "true"}),
        document("site-77", "77", cards=[IVANOV_WORK], items=GOODS[:1], total="2501",
                 reqs={"НомерЗаказаНаСайте": "1077", "Финальный статус": "true"}),
    ]
    return commerce("".join(docs))


def single_order_cml3() -> bytes:
    """One document, CommerceML 3.1 with a namespace and Контейнер, UTF-8 with a BOM."""
    body = f"""
  <Контейнер>{document("solo-1", "42", cards=[IVANOV_DUP], items=[GOODS[0]],
                           reqs={"СтатусЗаказа": "Отгружен"})}
  </Контейнер>"""
    text = ('\ufeff<?xml version="1.0" encoding="UTF-8"?>\n'
            '<КоммерческаяИнформация xmlns="urn:1C.ru:commerceml_3" ВерсияСхемы="3.1" '
            f'ДатаФормирования="2024-03-02T09:00:00">{body}\n</КоммерческаяИнформация>\n')
    return text.encode("utf-8")
