"""Encoding detection and the streaming CSV record reader (importers/textio.py)."""
import codecs
import io
import itertools

import pytest

from importers.textio import (
    MalformedFile,
    TextFileError,
    UndecodableFile,
    detect_encoding,
    open_text,
    read_records,
    sniff_delimiter,
)

POLISH = "Zażółć gęślą jaźń;Łódź\r\n"


def detect(data: bytes, **kw):
    return detect_encoding(io.BytesIO(data), **kw)


def records(text: str, delimiter=";"):
    return list(read_records(io.StringIO(text, newline=""), delimiter))


@pytest.mark.parametrize("data, encoding, label", [
    (codecs.BOM_UTF8 + POLISH.encode("utf-8"), "utf-8-sig", "UTF-8 (BOM)"),
    (codecs.BOM_UTF16_LE + POLISH.encode("utf-16-le"), "utf-16", "UTF-16LE (BOM)"),
    (codecs.BOM_UTF16_BE + POLISH.encode("utf-16-be"), "utf-16", "UTF-16BE (BOM)"),
    (POLISH.encode("utf-8"), "utf-8", "UTF-8"),
    (POLISH.encode("cp1250"), "cp1250", "cp1250 (declared)"),
])
def test_detection_order_bom_then_utf8_then_legacy(data, encoding, label):
    found = detect(data)
    assert (found.encoding, found.label) == (encoding, label)
    stream = io.BytesIO(data)
    assert open_text(stream, detect_encoding(stream)).read() == POLISH  # BOM gone, CRLF kept


def test_plain_ascii_is_utf8():
    assert detect(b"CardCode;CardName\r\n").label == "UTF-8"


def test_declared_legacy_encoding_is_used_instead_of_cp1250():
    data = "Привет;мир\n".encode("cp1251")
    assert detect(data, legacy="cp1251").encoding == "cp1251"


def test_undecodable_file_is_refused_with_offset_and_encodings_tried():
    # 0x98 is unassigned in cp1250 and invalid as UTF-8.
    data = "Łódź;1\n".encode("cp1250") + b"abc\x98def\n"
    with pytest.raises(UndecodableFile) as caught:
        detect(data)
    error = caught.value
    assert error.tried == ("UTF-8", "cp1250 (declared)")
    assert error.offset == data.index(b"\x98")
    assert f"byte {error.offset}" in str(error) and "UTF-8" in str(error) and "cp1250" in str(error)


def test_offset_is_exact_across_chunks_and_split_characters():
    # A valid two-byte character split across the chunk boundary is not an error;
    # the bad byte far behind it is reported at its absolute offset.
    body = ("x" * 7 + "ł") * 50
    data = body.encode("utf-8") + b"\xff" + b"tail"
    with pytest.raises(UndecodableFile) as caught:
        detect(data, legacy="ascii", chunk_size=8)
    assert caught.value.offsets == {"UTF-8": len(body.encode("utf-8")), "ascii (declared)": 7}
    assert caught.value.offset == 7
    assert detect(body.encode("utf-8"), chunk_size=8).encoding == "utf-8"


def test_bad_byte_after_a_bom_is_refused():
    data = codecs.BOM_UTF8 + b"ok\n" + b"\xc3\x28"
    with pytest.raises(UndecodableFile) as caught:
        detect(data)
    assert caught.value.offset == len(codecs.BOM_UTF8) + 3
    assert "byte-order mark" in str(caught.value)


def test_utf16_without_bom_is_not_read_as_garbage():
    with pytest.raises(UndecodableFile) as caught:
        detect("DocEntry\tDocNum\n".encode("utf-16-le"))
    assert "NUL" in str(caught.value)
    assert detect("DocEntry\tDocNum\n".encode("utf-16-le"), legacy="utf-16-le").encoding == "utf-16-le"


def test_fixed_encoding_skips_the_utf8_attempt():
    # Upper-case "SPÓŁKA" in cp1250 is, by accident, valid UTF-8 (Ó Ł = 0xD3 0xA3).
    data = "HYDRO SPÓŁKA;1\n".encode("cp1250")
    assert detect(data).encoding == "utf-8"
    assert detect(data, fixed=True).encoding == "cp1250"
    stream = io.BytesIO(data)
    assert "SPÓŁKA" in open_text(stream, detect_encoding(stream, fixed=True)).read()


def test_detection_rewinds_the_stream():
    stream = io.BytesIO(POLISH.encode("cp1250"))
    detect_encoding(stream)
    assert stream.tell() == 0


@pytest.mark.parametrize("header, expected", [
    ("CardCode;CardName;Phone1", ";"),
    ("CardCode\tCardName\tPhone1", "\t"),
    ("CardCode,CardName,Phone1", ","),
    ('"CardCode";"Card;Name,x";"Phone1"', ";"),
])
def test_delimiter_sniffed_from_header(header, expected):
    assert sniff_delimiter(header) == expected


def test_delimiter_prefers_the_one_that_yields_expected_names():
    assert sniff_delimiter("DocEntry,Doc;Num,DocDate", expected=("DocEntry", "DocDate")) == ","


def test_ambiguous_delimiter_is_refused():
    with pytest.raises(TextFileError, match="column separator"):
        sniff_delimiter("a;b,c")
    with pytest.raises(TextFileError):
        sniff_delimiter("OneColumnOnly")


def test_records_quotes_blank_lines_crlf_and_line_numbers():
    text = ('h1;h2;h3\r\n'
            '\r\n'
            '1;"a;b";3\r\n'
            ';;\r\n'
            '2;"multi\r\nline";4\r\n'
            '3;Rura 1/2" stal;5\r\n'
            '5;"x""y";7\r\n'
            '   \n'
            '6;last;8')
    got = [(r.line_no, r.fields) for r in records(text)]
    assert got == [
        (1, ["h1", "h2", "h3"]),
        (3, ["1", "a;b", "3"]),
        (5, ["2", "multi\r\nline", "4"]),
        (7, ["3", 'Rura 1/2" stal', "5"]),
        (8, ["5", 'x"y', "7"]),
        (10, ["6", "last", "8"]),
    ]
    assert records(text)[2].raw == '2;"multi\r\nline";4'


def test_quoted_line_break_after_an_even_number_of_quotes():
    got = records('6;ab"c;"d\r\ne";8\r\n7;x;y\r\n')
    assert [(r.line_no, r.fields) for r in got] == [(1, ["6", 'ab"c', "d\r\ne", "8"]), (3, ["7", "x", "y"])]


def test_broken_quotes_make_a_row_error_and_reading_goes_on():
    got = records('1;"abc"d;3\n2;ok;4\n')
    assert got[0].error and "quotes" in got[0].error and got[0].raw == '1;"abc"d;3'
    assert (got[1].line_no, got[1].fields, got[1].error) == (2, ["2", "ok", "4"], None)


@pytest.mark.parametrize("text", ['a;b\n1;"unclosed\n2;3\n', 'a;b\n1;"unclosed'])
def test_quote_open_at_end_of_file_refuses_the_file(text):
    with pytest.raises(MalformedFile) as caught:
        records(text)
    assert caught.value.line_no == 2


def test_reader_streams_without_reading_ahead():
    def endless():
        for n in itertools.count():
            yield f"{n};value {n}\r\n"

    first = list(itertools.islice(read_records(endless(), ";"), 3))
    assert [r.fields for r in first] == [["0", "value 0"], ["1", "value 1"], ["2", "value 2"]]


def test_a_line_without_end_is_refused_not_loaded(monkeypatch):
    import importers.textio as textio
    monkeypatch.setattr(textio, "MAX_LINE", 64)
    text = "a;b\n" + "x" * 500 + "\n"
    with pytest.raises(MalformedFile, match="longer than 64 characters") as caught:
        records(text)
    assert caught.value.line_no == 2
