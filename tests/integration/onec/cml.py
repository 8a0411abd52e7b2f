"""CommerceML files as 1C writes them, and a 1C client that speaks the exchange protocol."""
from __future__ import annotations

import io
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass, field

import requests


def requisites(pairs: dict[str, str]) -> str:
    items = "".join(f"<ЗначениеРеквизита><Наименование>{k}</Наименование>"
                    f"<Значение>{v}</Значение></ЗначениеРеквизита>" for k, v in pairs.items())
    return f"<ЗначенияРеквизитов>{items}</ЗначенияРеквизитов>" if pairs else ""


def card(card_id: str, name: str, phone: str | None = None, email: str | None = None,
         phone_type: str = "Телефон мобильный") -> str:
    contacts = ""
    if phone:
        contacts += f"<Контакт><Тип>{phone_type}</Тип><Значение>{phone}</Значение></Контакт>"
    if email:
        contacts += f"<Контакт><Тип>Почта</Тип><Значение>{email}</Значение></Контакт>"
    block = f"<Контакты>{contacts}</Контакты>" if contacts else ""
    return (f"<Контрагент><Ид>{card_id}</Ид><Наименование>{name}</Наименование>"
            f"<Роль>Покупатель</Роль>{block}</Контрагент>")


def item(sku: str, name: str, qty: str, price: str, kind: str = "Товар") -> str:
    total = f"{float(qty) * float(price):.2f}"
    return (f"<Товар><Ид>{sku}</Ид><Наименование>{name}</Наименование>"
            f"<ЦенаЗаЕдиницу>{price}</ЦенаЗаЕдиницу><Количество>{qty}</Количество>"
            f"<Сумма>{total}</Сумма>{requisites({'ТипНоменклатуры': kind})}</Товар>")


def order(doc_id: str, buyer: str, items: list[str], *, version: str | None = None,
          shipped: bool = False, cancelled: bool = False, spent: str | None = None,
          site_order: str | None = None, operation: str = "Заказ товара",
          base: str | None = None, date: str = "2026-03-01") -> str:
    reqs = {"Проведен": "true"}
    if version:
        reqs["НомерВерсии"] = version
    if shipped:
        reqs["Дата отгрузки по 1С"] = f"{date}T12:00:00"
    if cancelled:
        reqs["Отменен"] = "true"
    if spent:
        reqs["БонусовСписано"] = spent
    if site_order:
        reqs["НомерЗаказаНаСайте"] = site_order
    basis = f"<Основание>{base}</Основание>" if base else ""
    return (f"<Документ><Ид>{doc_id}</Ид><Номер>{doc_id.upper()}</Номер><Дата>{date}</Дата>"
            f"<ХозОперация>{operation}</ХозОперация><Роль>Продавец</Роль><Валюта>руб</Валюта>"
            f"<Курс>1</Курс><Сумма>0</Сумма><Контрагенты>{buyer}</Контрагенты>"
            f"<Время>10:15:00</Время>{basis}<Товары>{''.join(items)}</Товары>"
            f"{requisites(reqs)}</Документ>")


def with_requisite(document: str, name: str, value: str) -> str:
    """``document`` (from ``order``) with one more requisite of its own (its items have some too)."""
    extra = requisites({name: value}).removeprefix("<ЗначенияРеквизитов>").removesuffix("</ЗначенияРеквизитов>")
    head, _sep, tail = document.rpartition("<ЗначенияРеквизитов>")
    return f"{head}<ЗначенияРеквизитов>{extra}{tail}"


def commerce(body: str, encoding: str = "windows-1251") -> bytes:
    text = (f'<?xml version="1.0" encoding="{encoding}"?>\n<КоммерческаяИнформация '
            f'ВерсияСхемы="2.08" ДатаФормирования="2026-03-02T09:00:00">{body}'
            "</КоммерческаяИнформация>\n")
    return text.encode("cp1251" if encoding == "windows-1251" else encoding)


def cards_file(*cards: str) -> bytes:
    return commerce(f"<Контрагенты>{''.join(cards)}</Контрагенты>")


def zipped(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buffer.getvalue()


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<\xd0\x9a\xd0\xbe\xd0\xbc>&lol4;</\xd0\x9a\xd0\xbe\xd0\xbc>"""


def lines(response: requests.Response) -> list[str]:
    return response.text.replace("\r", "").rstrip("\n").split("\n")


@dataclass
class OneC:
    """A 1C client: HTTP Basic at checkauth, then the cookie it was told (set by hand, as 1C
    does from the answer's lines, not from Set-Cookie), and sessid echoed in every URL."""

    base: str
    login: str
    password: str
    kind: str = "sale"
    cookie: str | None = None
    sessid: str | None = None
    zip: bool = False
    file_limit: int = 0
    log: list[tuple[str, str]] = field(default_factory=list)

    def call(self, mode: str, method: str = "GET", data: bytes | None = None, auth=None,
             **params) -> requests.Response:
        query = {"type": self.kind, "mode": mode, **params}
        if self.sessid and mode != "checkauth":
            query["sessid"] = self.sessid
        headers = {"User-Agent": "1C+Enterprise/8.3"}
        if self.cookie and mode != "checkauth":
            headers["Cookie"] = self.cookie
        response = requests.request(method, self.base + "/exchange/1c", params=query, data=data,
                                    headers=headers, auth=auth, timeout=60)
        assert response.headers["Content-Type"].startswith(
            ("text/plain", "application/xml")), response.text[:300]
        self.log.append((mode, response.text[:200]))
        return response

    def checkauth(self, password: str | None = None) -> list[str]:
        answer = lines(self.call("checkauth", auth=(self.login, password or self.password)))
        if answer[0] == "success":
            self.cookie = f"{answer[1]}={answer[2]}"
            extra = dict(line.split("=", 1) for line in answer[3:] if "=" in line)
            self.sessid = extra.get("sessid")
        return answer

    def init(self) -> dict[str, str]:
        answer = dict(line.split("=", 1) for line in lines(self.call("init", version="3.1")))
        self.zip, self.file_limit = answer["zip"] == "yes", int(answer["file_limit"])
        return answer

    def upload(self, name: str, data: bytes, chunk: int | None = None) -> None:
        size = min(chunk or self.file_limit, self.file_limit)
        for start in range(0, max(len(data), 1), size):
            answer = lines(self.call("file", "POST", data[start:start + size], filename=name))
            assert answer[0] == "success", answer

    def import_(self, name: str, attempts: int = 50) -> list[str]:
        for _ in range(attempts):
            answer = lines(self.call("import", filename=name))
            if answer[0] != "progress":
                return answer
        return answer

    def query(self) -> bytes:
        response = self.call("query")
        assert response.headers["Content-Type"].startswith("application/xml"), response.text
        return response.content

    def success(self) -> list[str]:
        return lines(self.call("success"))

    def exchange(self, files: dict[str, bytes], *, chunk: int | None = None,
                 zipped_as: str | None = None, confirm: bool = True) -> bytes:
        """A whole session: checkauth → init → file → import → query → success."""
        assert self.checkauth()[0] == "success"
        self.init()
        if zipped_as:
            assert self.zip
            self.upload(zipped_as, zipped(files), chunk)
            names = list(files)
        else:
            for name, data in files.items():
                self.upload(name, data, chunk)
            names = list(files)
        for name in names:
            answer = self.import_(name)
            assert answer[0] == "success", answer
        body = self.query()
        if confirm:
            assert self.success()[0] == "success"
        return body


def operations(body: bytes) -> list[dict]:
    """The bonus operations of a query answer: Ид, kind, amount, member card, balance."""
    root = ET.fromstring(body)
    out = []
    for doc in root.findall("Документ"):
        reqs = {r.findtext("Наименование"): r.findtext("Значение")
                for r in doc.iter("ЗначениеРеквизита")}
        out.append({"id": doc.findtext("Ид"), "kind": reqs.get("ВидБонуснойОперации"),
                    "accrued": reqs.get("БонусовНачислено"), "spent": reqs.get("БонусовСписано"),
                    "balance": reqs.get("БонусныйБаланс"), "basis": doc.findtext("Основание"),
                    "card": doc.findtext("Контрагенты/Контрагент/Ид")})
    return out


def profiles(body: bytes) -> list[dict]:
    root = ET.fromstring(body)
    out = []
    for node in root.findall("Контрагенты/Контрагент"):
        reqs = {r.findtext("Наименование"): r.findtext("Значение")
                for r in node.iter("ЗначениеРеквизита")}
        out.append({"id": node.findtext("Ид"), "name": node.findtext("Наименование"),
                    "balance": reqs.get("БонусныйБаланс"), "loyalty_id": reqs.get("БонуснаяКарта")})
    return out
