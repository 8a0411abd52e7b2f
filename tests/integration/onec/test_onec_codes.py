"""1C orders with promo codes (our requisite Промокоды): stored, earning by a code rule, and replaced by a
newer version before the order earned (over real HTTP)."""
from __future__ import annotations

from sqlalchemy import select

from engine.models import Document
from tests.conftest import ACCRUAL_BASIC
from tests.integration.onec.cml import card, commerce, item, order, with_requisite

IVANOV = card("c-001", "Иванов Иван", "+7 912 345-67-89")
COFFEE = item("coffee-1", "Кофе", "2", "1250.50")  # 2501 → 250 points
CODE_RULE = {"id": "leto", "scope": "document",
             "conditions": {"all": [{"name": "order_codes", "operator": "contains", "value": "LETO"}]},
             "actions": [{"name": "earn_fixed", "params": {"points": 40}}]}


def coded(document: str, codes: str) -> str:
    return with_requisite(document, "Промокоды", codes)


def test_codes_of_a_newer_version_replace_the_old_ones_and_a_code_rule_earns(onec, app, publish):
    publish({"policy": "accrual", "rules": [*ACCRUAL_BASIC["rules"], CODE_RULE]})
    onec().exchange({"v1.xml": commerce(coded(order("ord-1", IVANOV, [COFFEE], version="1"), "OTHER"))})
    onec().exchange({"v2.xml": commerce(coded(order("ord-1", IVANOV, [COFFEE], version="2", shipped=True),
                                              "leto, VIP"))})
    from server.extensions import db
    with app.app_context():
        document = db.session().execute(select(Document).where(Document.external_id == "ord-1")).scalar_one()
        assert (document.version, document.codes, document.earned) == ("2", ["leto", "VIP"], 290)
