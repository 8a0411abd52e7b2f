"""Hypothesis mutates rows of valid SAP files: no exception ever leaves an import, every row is accounted
for, and importing the same bytes again changes nothing (through the pipeline, the CLI and POST /imports)."""
from __future__ import annotations

import io

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from engine.models import ImportChunk, ImportRun, QuarantinedRow
from tests.conftest import auth
from tests.integration.imports import samples
from tests.integration.imports.ledger import compare, dump

D1, D2 = samples.day(9), samples.day(8)
FILES = {
    "customers": (samples.CUSTOMERS_HEADER, [
        "C001;Hurtownia Łódź;7251234567;;601 234 567;biuro@lodz.pl;100;20230115",
        "C002;Zakład Żółw;;+48 22 123 45 67;;zolw@example.pl;100;15.03.2023",
        "C003;Instalacje Śląsk;;;;;200;20230301"]),
    "invoices": (samples.INVOICES_HEADER + ";CANCELED;BaseType;BaseEntry;BaseLine", [
        f"1;1001;{D1};C001;PLN;0;RM-15;Rura;110;2;1 234,50;2 469,00;N;;;",
        f"1;1001;{D1};C001;PLN;1;ZK-12;Zawór;120;3;34,80;104,40;N;;;",
        f"2;1002;{D2};C002;PLN;0;KL-2;Kolano;120;1;55,00;55,00;N;;;",
        f"3;1003;{D2};C001;PLN;0;RM-15;Rura;110;2;1 234,50;2 469,00;C;13;1;0"]),
    "catalog": ("ItemCode;ItemName;ItmsGrpCod;Price;Currency;PictureURL;RedeemableForPoints", [
        "R1;Kubek;900;20,01;PLN;https://cdn.example/k.jpg;Y",
        "R2;Wycieczka;900;5 000,00;;;25 000",
        "P1;Rura;110;3,50;PLN;;N"]),
    "credit_notes": (samples.CREDIT_HEADER, [
        f"7;501;{D2};C001;PLN;0;RM-15;Rura;110;1;1 234,50;1 234,50;13;1;0",
        f"8;502;{D2};C002;PLN;0;KL-2;Kolano;120;1;55,00;55,00;13;2;0"]),
}
NASTY = ["", " ", "²", "٣", "0", "-1", "00010101", "99991231", "00000000", "10000101", "1e400", "-1e400",
         "9" * 40, "1,5e3", "NaN", "Infinity", "1 234,50", "1.234", '"', '""', '"x', ";", "\t", "C", "Y", "tYES",
         "13", "14", "\x00", "\ufeff", "Ω" * 300, "x" * 5000, "12,3,4", "0,0001", "2024-02-30", "\u00a0"]


@st.composite
def mutated(draw):
    kind = draw(st.sampled_from(sorted(FILES)))
    header, rows = FILES[kind]
    rows = list(rows)
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(rows) - 1))
        fields = rows[at].split(";")
        how = draw(st.sampled_from(["field", "field", "field", "drop", "extra", "splice", "text"]))
        if how == "field":  # keys, dates and line numbers first: DocEntry/CardCode, DocDate, LineNum
            column = draw(st.sampled_from([0, 0, 2, 5]) | st.integers(0, len(fields) - 1))
            fields[min(column, len(fields) - 1)] = draw(st.sampled_from(NASTY) | st.text(max_size=8))
        elif how == "drop":
            fields.pop(draw(st.integers(0, len(fields) - 1)))
        elif how == "extra":
            fields.append(draw(st.sampled_from(NASTY)))
        elif how == "text":
            fields = draw(st.text(max_size=40)).split(";")
        row = ";".join(fields)
        if how == "splice":
            cut = draw(st.integers(0, len(row)))
            row = row[:cut] + draw(st.sampled_from(['"', "\r\n", "\n", ";", "\x00", "\r"])) + row[cut:]
        rows[at] = row
    if draw(st.booleans()):
        rows.append(rows[draw(st.integers(0, len(rows) - 1))])  # a row twice
    encoding = draw(st.sampled_from(["cp1250", "utf-8", "utf-8-sig", "utf-16"]))
    data = (header + "\r\n" + "".join(r + "\r\n" for r in rows)).encode(encoding, errors="replace")
    if draw(st.integers(0, 9)) == 0:  # a raw byte somewhere past the header
        at = draw(st.integers(len(header), len(data)))
        data = data[:at] + bytes([draw(st.integers(0, 255))]) + data[at:]
    return kind, data, draw(st.sampled_from(["pipeline", "cli", "api"])), draw(st.booleans())


def _skipped(run: ImportRun) -> int:
    return int((run.details or {}).get("skipped", 0))


def _check_counts(importer, run_id: int) -> None:
    with importer.session() as session:
        run = session.get(ImportRun, run_id)
        quarantined = session.execute(select(func.count(QuarantinedRow.id)).where(
            QuarantinedRow.import_run_id == run_id)).scalar_one()
        assert run.status in ("done", "failed"), run.status
        if run.status == "failed":  # refused as a whole, with a sentence; nothing applied
            assert run.error and "Traceback" not in run.error and "unexpected error" not in run.error
            assert run.applied == 0 and quarantined == 0
            return
        assert quarantined == run.quarantined
        if run.kind in ("customers", "catalog"):  # one outcome per row
            assert run.rows_read == run.applied + run.duplicates + run.quarantined + _skipped(run)
            return
        chunks = session.execute(select(ImportChunk).where(ImportChunk.import_run_id == run_id)).scalars().all()
        orphans = run.quarantined - sum(c.quarantined for c in chunks)
        assert orphans >= 0
        assert run.rows_read == orphans + sum(c.lines for c in chunks)  # every record staged or quarantined
        for chunk in chunks:  # a chunk's lines: quarantined, skipped, or in an applied or duplicate document
            good_lines = chunk.lines - chunk.quarantined - chunk.skipped
            assert good_lines >= chunk.applied + chunk.duplicates >= 0
            assert (good_lines == 0) == (chunk.applied + chunk.duplicates == 0)


def _run(importer, client, erp_key, path, kind, via, use_bulk) -> int:
    app = importer.app
    if via == "cli":
        with app.app_context():
            args = ["import", str(path), "--kind", kind] + ([] if use_bulk else ["--per-document"])
            result = CliRunner().invoke(app.cli, args, catch_exceptions=False)
        assert result.exit_code in (0, 1), result.output
        assert "Traceback" not in result.output
    elif via == "api":
        response = client.post("/api/v1/imports", headers=auth(erp_key),
                               data={"file": (io.BytesIO(path.read_bytes()), path.name), "kind": kind},
                               content_type="multipart/form-data")
        assert response.status_code in (200, 201), response.get_data(as_text=True)[:500]
    else:
        importer(path, kind, use_bulk=use_bulk, chunk_lines=2)
    with importer.session() as session:
        return session.execute(select(func.max(ImportRun.id))).scalar_one()


def test_no_row_can_crash_an_import(importer, client, keys, tmp_path):
    base = samples.write(tmp_path / "OCRD-base.csv", *FILES["customers"])
    assert importer(base, "customers").status == "done"
    counter = iter(range(10 ** 6))

    @settings(max_examples=40, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(mutated())
    def check(case):
        kind, data, via, use_bulk = case
        path = tmp_path / f"{kind}-{next(counter)}.csv"
        path.write_bytes(data)
        run_id = _run(importer, client, keys["erp"], path, kind, via, use_bulk)
        _check_counts(importer, run_id)
        with importer.session() as session:
            before = dump(session)
        _run(importer, client, keys["erp"], path, kind, via, use_bulk)  # the same bytes again
        with importer.session() as session:
            assert compare(before, dump(session)) == []

    check()
