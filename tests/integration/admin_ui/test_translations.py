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
