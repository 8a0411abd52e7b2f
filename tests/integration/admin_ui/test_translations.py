"""The Polish and Russian catalogs: complete, compiled, and used by the pages."""
from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[3] / "admin_ui" / "translations"


@pytest.mark.parametrize("lang", ["pl", "ru"])
def test_every_text_is_translated_and_compiled(lang):
    template = read_po((ROOT / "messages.pot").open("rb"))
    po = read_po((ROOT / lang / "LC_MESSAGES" / "messages.po").open("rb"))
    mo = read_mo((ROOT / lang / "LC_MESSAGES" / "messages.mo").open("rb"))
    ids = {m.id if isinstance(m.id, str) else m.id[0] for m in template if m.id}
    for message in po:
        if message.id:
            key = message.id if isinstance(message.id, str) else message.id[0]
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            assert all(strings), f"{lang}: {key!r} is not translated"
            assert not message.fuzzy, f"{lang}: {key!r} is fuzzy"
            ids.discard(key)
            compiled = mo.get(message.id if isinstance(message.id, str) else message.id[0])
            assert compiled is not None, f"{lang}: {key!r}: compile again"
            got = tuple(compiled.string) if isinstance(compiled.string, list | tuple) else (compiled.string,)
            assert got == strings, f"{lang}: {key!r}: compile again"
    assert not ids, f"{lang}: texts missing from the catalog: {sorted(ids)[:5]}"


def test_the_login_page_in_russian(client):
    page = client.get("/admin/login", headers={"Accept-Language": "ru-RU,ru;q=0.9"})
    assert "Вход в управление программой лояльности" in page.text and 'lang="ru"' in page.text


def test_every_label_of_the_rule_vocabulary_has_a_translatable_text():
    import rules
    from admin_ui.vocabulary_labels import LABELS
    labels = set()
    for policy in rules.export_vocabulary().values():
        labels.add(policy["label"])
        labels.update(v["label"] for v in policy["variables"])
        for action in policy["actions"]:
            labels.add(action["label"])
            labels.update(p["label"] for p in action["params"])
        for operators in policy["variable_type_operators"].values():
            labels.update(o["label"] for o in operators)
    assert not sorted(labels - set(LABELS)), "add these to admin_ui/vocabulary_labels.py and translate them"


def test_the_rule_editor_speaks_polish_and_offers_the_catalog(app, as_role, publish):
    import json
    import re

    from engine.models import Product, ProductGroup
    from server.extensions import db
    from tests.conftest import ACCRUAL_BASIC
    publish(ACCRUAL_BASIC)
    with app.app_context():
        session = db.session()
        session.add(ProductGroup(code="110", name="Zawory"))
        session.add(Product(sku="A-1", name="Zawór", product_group="120", brand="Kan-therm"))
        session.add(Product(sku="A-2", name="Rura", product_group="110", brand="Tece"))
        session.commit()
    page = as_role("marketer").get("/admin/rules/accrual", headers={"Accept-Language": "pl"}).text
    vocabulary = json.loads(re.search(r'id="vocabulary-data">(.*?)</script>', page, re.S).group(1))
    labels = {v["name"]: v["label"] for v in vocabulary["variables"]}
    assert labels["product_group"] == "Grupa produktów" and labels["brand"] == "Marka"
    assert {a["name"]: a["label"] for a in vocabulary["actions"]}["multiply"] == "Pomnóż"
    catalog = json.loads(re.search(r'id="catalog-data">(.*?)</script>', page, re.S).group(1))
    assert catalog == {"product_group": [["110", "110 · Zawory"], ["120", "120"]],
                       "brand": [["Kan-therm", "Kan-therm"], ["Tece", "Tece"]]}
