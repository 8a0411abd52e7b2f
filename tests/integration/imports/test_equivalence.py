"""The set-based path writes the same ledger as the per-document path: documents, lines, entries, lots,
allocations, debts, traces — for a program that reads every member fact, with credit notes afterwards."""
import pytest
from sqlalchemy import func, select

from engine import clock
from engine.models import ImportChunk
from engine.services.check import check
from tests.conftest import _empty_tables
from tests.integration.imports import ledger, samples, scenario
from tests.integration.imports.conftest import Importer


def run_scenario(importer: Importer, tmp_path, use_bulk: bool) -> dict:
    folder = tmp_path / ("bulk" if use_bulk else "single")
    folder.mkdir()
    runs = {}
    runs["customers"] = importer(samples.write(folder / "OCRD.csv", scenario.CUSTOMER_HEADER,
                                               scenario.customer_rows()), "customers")
    runs["catalog"] = importer(samples.write(folder / "OITM.csv", scenario.CATALOG_HEADER, scenario.catalog_rows()),
                               "catalog", profile=scenario.CATALOG_PROFILE)
    scenario.setup_members(importer)
    earlier, main = scenario.earlier_file(), scenario.main_file()
    runs["earlier"] = importer(samples.write(folder / "INV1.csv", scenario.INVOICE_HEADER, earlier), "invoices",
                               use_bulk=use_bulk, chunk_lines=10)
    runs["main"] = importer(samples.write(folder / "INV2.csv", scenario.INVOICE_HEADER, main), "invoices",
                            use_bulk=use_bulk, chunk_lines=25)
    runs["credit"] = importer(samples.write(folder / "ORIN.csv", scenario.CREDIT_HEADER,
                                            scenario.credit_rows(earlier + main)), "credit_notes",
                              use_bulk=use_bulk, chunk_lines=5)
    with importer.session() as session:
        assert check(session) == []
        dump = ledger.dump(session)
        dump["bulk_documents"] = session.execute(select(func.sum(ImportChunk.bulk_documents))).scalar_one()
    dump["runs"] = {name: (r.status, r.rows_read, r.applied, r.duplicates, r.quarantined) for name, r in runs.items()}
    return dump


@pytest.mark.postgres
def test_set_based_import_writes_the_per_document_ledger(pg_app, publish, settings_doc, tmp_path, monkeypatch):
    # Both runs see the same "now", so reversal dates and pending lots can be compared exactly.
    fixed = clock.now().replace(microsecond=0)
    monkeypatch.setattr(clock, "now", lambda: fixed)
    importer = Importer(pg_app)
    scenario.program(publish, settings_doc)
    single = run_scenario(importer, tmp_path, use_bulk=False)
    _empty_tables(pg_app)
    scenario.program(publish, settings_doc)
    bulk = run_scenario(importer, tmp_path, use_bulk=True)

    assert single["bulk_documents"] == 0 and bulk["bulk_documents"] >= 50  # both paths really ran
    assert bulk["runs"] == single["runs"]
    assert all(status == "done" for status, *_ in bulk["runs"].values())
    assert ledger.compare(single, bulk) == []
    # the scenario exercises what it claims to
    kinds = {entry[1] for entry in single["entries"].values()}
    assert {"accrual", "reversal", "adjustment"} <= kinds
    statuses = {doc[8] for doc in single["documents"].values()}
    assert {"fulfilled", "cancelled"} <= statuses
    snapshots = [s for s in bulk["snapshots"].values() if s]
    for fact in ("orders_count", "turnover_12m", "points_balance", "referral_count"):
        assert any(s[fact] not in (0, "0") for s in snapshots), fact  # every costly fact was really computed
    assert any(trace and trace.get("compact") for trace in bulk["traces"].values())
    assert single["accounts"]["C007"] > 0  # the account in debt went the per-document way and paid it off


@pytest.mark.postgres
def test_scenario_outcomes_are_what_the_files_say(pg_app, publish, settings_doc, tmp_path):
    importer = Importer(pg_app)
    scenario.program(publish, settings_doc)
    runs = run_scenario(importer, tmp_path, use_bulk=True)["runs"]
    assert runs["customers"] == ("done", 24, 24, 0, 0)
    assert runs["earlier"] == ("done", runs["earlier"][1], 15, 0, 0)
    status, _rows, applied, duplicates, quarantined = runs["main"]
    # 60 new documents, 2 duplicates, 1 cancellation of an imported invoice, 1 conflicting re-export
    assert (applied, duplicates) == (61, 2) and quarantined >= 1
    status, _rows, applied, _duplicates, quarantined = runs["credit"]
    assert applied >= 6 and quarantined == 2  # unknown invoice 999, and a line returned twice
