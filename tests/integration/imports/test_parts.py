"""A big file is staged by two processes, each reading half: the outcome is the one-piece outcome, also when
a document has lines on both sides of the cut, and when the cut falls inside a quoted line break."""
import zlib

import pytest

from importers.sap_b1.pipeline import parts as pipeline_parts
from importers.sap_b1.pipeline import stage as pipeline_stage
from tests.conftest import ACCRUAL_BASIC, _empty_tables
from tests.integration.imports import ledger, samples
from tests.integration.imports.conftest import Importer


def rows_with_a_document_across_the_cut() -> list[str]:
    rows = []
    for entry in range(1, 61):
        for line in range(3):
            rows.append(f"{entry};{entry};{samples.day(9)};C00{1 + entry % 3};PLN;{line};X{line};"
                        f'"Rura; {entry}";110;1;{entry},00;{entry},00')
    # document 5 gets two more lines at the very end: one agreeing, one naming an unknown customer
    rows.append(f"5;5;{samples.day(9)};C003;PLN;7;X7;Późny;110;1;10,00;10,00")
    rows.append(f"7;7;{samples.day(9)};C009;PLN;9;X9;Obcy;110;1;10,00;10,00")
    return rows


def rows_with_a_long_quoted_field() -> list[str]:
    rows = [f"1;1;{samples.day(5)};C001;PLN;0;A;Krótki;110;1;10,00;10,00"]
    long_name = "\r\n".join(f"wiersz {n} opisu" for n in range(300))  # the middle of the file is in here
    rows.append(f'2;2;{samples.day(5)};C002;PLN;0;B;"{long_name}";110;2;25,00;50,00')
    rows.append(f"3;3;{samples.day(5)};C001;PLN;0;C;Krótki;120;1;99,00;99,00")
    return rows


def import_both_ways(app, publish, tmp_path, monkeypatch, rows):
    importer = Importer(app)
    outcomes = []
    for parts_min in (0, 1 << 40):  # in two parts, then in one piece
        publish(ACCRUAL_BASIC)
        monkeypatch.setattr(pipeline_stage, "PART_MIN_BYTES", parts_min)
        folder = tmp_path / str(parts_min)
        folder.mkdir()
        importer(samples.write(folder / "OCRD.csv", samples.CUSTOMERS_HEADER, samples.CUSTOMER_ROWS), "customers")
        run = importer(samples.write(folder / "INV.csv", samples.INVOICES_HEADER, rows), "invoices", chunk_lines=20)
        with importer.session() as session:
            outcomes.append(((run.status, run.rows_read, run.applied, run.quarantined),
                             importer.quarantine(run.id), ledger.dump(session)))
        _empty_tables(app)
    return outcomes


@pytest.mark.postgres
def test_two_parts_give_the_one_piece_outcome(pg_app, publish, tmp_path, monkeypatch):
    path = samples.write(tmp_path / "probe.csv", samples.INVOICES_HEADER, rows_with_a_document_across_the_cut())
    windows = pipeline_parts.cut(str(path), path.stat().st_size, 2, "cp1250")
    assert len(windows) == 2 and windows[1].first_line > 50  # the file really is read in two halves
    data = path.read_bytes()
    buckets = pipeline_stage.bucket_count(len(data), data[:1 << 16], 20)
    assert zlib.crc32(b"13:7") % buckets != 2 % buckets  # C009's late line lands elsewhere, and must be moved
    (parts, q_parts, dump_parts), (whole, q_whole, dump_whole) = import_both_ways(
        pg_app, publish, tmp_path, monkeypatch, rows_with_a_document_across_the_cut())
    assert parts == whole and parts[0] == "done"
    assert q_parts == q_whole and {line for line, _ in q_parts} == {20, 21, 22, 183}  # doc 7 held back whole
    assert "disagree on CardCode" in dict(q_parts)[20]
    assert ledger.compare(dump_parts, dump_whole) == []
    assert dump_parts["lines"][("13:5", 7)][0] == "X7"  # the late line of document 5 joined it


@pytest.mark.postgres
def test_a_cut_inside_a_quoted_line_break_falls_back_to_one_piece(pg_app, publish, tmp_path, monkeypatch):
    (parts, q_parts, dump_parts), (whole, _q, dump_whole) = import_both_ways(
        pg_app, publish, tmp_path, monkeypatch, rows_with_a_long_quoted_field())
    assert parts == whole == ("done", 3, 3, 0)
    assert ledger.compare(dump_parts, dump_whole) == []
    assert dump_parts["lines"][("13:2", 0)][1].startswith("wiersz 0 opisu\r\nwiersz 1 opisu")


def test_windows_are_cut_after_line_feeds_and_count_lines(tmp_path):
    path = tmp_path / "f.csv"
    path.write_bytes(b"h\r\n" + b"a;b\r\n" * 10 + b"c\rd\n" + b"x\n" * 5)
    size = path.stat().st_size
    windows = pipeline_parts.cut(str(path), size, 3, "cp1250")
    data = path.read_bytes()
    assert windows[0].start == 0 and windows[-1].end == size
    for window in windows[1:]:
        assert data[window.start - 1:window.start] == b"\n"
        before = data[:window.start]
        assert window.first_line == 1 + before.count(b"\n") + before.count(b"\r") - before.count(b"\r\n")
    assert len(pipeline_parts.cut(str(path), size, 3, "utf-16")) == 1
