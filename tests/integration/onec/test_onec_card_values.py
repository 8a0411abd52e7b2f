"""Merged 1C cards are each answered with what 1C sent for them, so they never flip (issue 9, class 7)."""
from __future__ import annotations

import xml.etree.ElementTree as ET

from tests.conftest import auth
from tests.integration.onec.cml import card, cards_file

CARD_1 = card("c-001", "Иванов Иван Иванович", "8 (912) 345-67-89", email="ivan@work.ru")
CARD_2 = card("c-002", "Иванов И. И.", "+7 912 345 67 89", email="ii@home.ru")


def sent(body: bytes) -> dict[str, tuple[str, str | None]]:
    """card id → (name, e-mail) of each profile in a query answer."""
    out = {}
    for node in ET.fromstring(body).findall("Контрагенты/Контрагент"):
        email = next((c.findtext("Значение") for c in node.iter("Контакт")
                      if c.findtext("Тип") == "Почта"), None)
        out[node.findtext("Ид")] = (node.findtext("Наименование"), email)
    return out


def test_merged_cards_keep_their_own_values_until_the_member_changes_here(app, onec, live, keys):
    import requests
    first = sent(onec().exchange({"cards.xml": cards_file(CARD_1, CARD_2)}))
    assert first == {"c-001": ("Иванов Иван Иванович", "ivan@work.ru"),
                     "c-002": ("Иванов И. И.", "ii@home.ru")}
    # 1C books what it was told (each card its own) and sends the cards again: nothing to answer.
    assert sent(onec().exchange({"cards.xml": cards_file(CARD_1, CARD_2)})) == {}
    assert sent(onec().exchange({"cards.xml": cards_file(CARD_2, CARD_1)})) == {}
    # A change made on our side reaches every card, once.
    response = requests.patch(f"{live}/api/v1/members/onec:c-001", headers=auth(keys["shop"]),
                              json={"name": "Jan Iwanow", "email": "jan@new.ru"})
    assert response.status_code == 200, response.text
    changed = sent(onec().exchange({}))
    assert changed == {"c-001": ("Jan Iwanow", "jan@new.ru"), "c-002": ("Jan Iwanow", "jan@new.ru")}
    back = card("c-001", "Jan Iwanow", "8 (912) 345-67-89", email="jan@new.ru"), \
        card("c-002", "Jan Iwanow", "+7 912 345 67 89", email="jan@new.ru")
    assert sent(onec().exchange({"cards.xml": cards_file(*back)})) == {}
