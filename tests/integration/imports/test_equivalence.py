"""The set-based path writes the same ledger as the per-document path: documents, lines, entries, lots,
allocations, debts, traces — for a program that reads every member fact, with credit notes afterwards."""
import pytest
from sqlalchemy import func, select

from engine import clock
from engine.ledger.check import check
from engine.models import ImportChunk
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
    # Unknown invoice 999, a line returned twice, and a credit note of invoice 3, which the main
    # file cancelled (a cancelled document takes no correction: engine/documents/states).
    assert applied >= 6 and quarantined == 3
    from engine.models import DocumentLine, Product
    with importer.session() as session:  # the catalog's tags reach the lines the set-based path wrote
        assert session.execute(select(Product.tags).where(Product.sku == "SKU-0")).scalar_one() == ["eco", "new"]
        assert session.execute(select(Product.tags).where(Product.sku == "SKU-2")).scalar_one() is None
        tagged = session.execute(select(DocumentLine.tags).where(DocumentLine.sku == "SKU-1")).scalars().all()
        assert tagged and all(tags == ["Eco"] for tags in tagged)


CARDS_FIRST = [
    "K01;Pierwszy;;;601 234 567;a@example.pl;100;20230101",
    "K02;Drugi;;;;b@example.pl;100;20230102",
    "K03;Trzeci;;;602 345 678;c@example.pl;200;20230103",
]
CARDS_SECOND = [
    "K01;Pierwszy Nowy;;;601 234 567;A@Example.pl;300;20230101",  # changed name and group
    "K02;Drugi;;;602 345 678;b@example.pl;100;20230102",  # wants K03's phone: it stays with K03
    "K04;Czwarty;;;603 456 789;d@example.pl;100;20230104",
    "K05;Piąty;;;603 456 789;e@example.pl;100;20230105",  # the same phone as K04 just before: not moved
    "K04;Czwarty bis;;;;;;20230104",  # the same card again in the file: an update of the member just made
    "K06;Szósty;;;;;;",  # no date: registered now
    "K07;Siódmy;;;;;;20231340",  # a bad date: quarantined
    "K03;Trzeci;;;602 345 678;c@example.pl;200;20230103",  # nothing new
    "K09;Scalony;;;;;;20230109",  # a card merged into K02 earlier: K02 is updated
]


def members_dump(importer) -> dict:
    from engine.models import Member
    with importer.session() as session:
        people = session.execute(select(Member)).scalars().all()
        by_id = {m.id: m.erp_code for m in people}
        return {m.erp_code: (m.name, m.email, m.phone, m.group, m.birth_date, m.registered_at.date(), m.status,
                             by_id.get(m.merged_into_id), m.account_id is not None) for m in people}


@pytest.mark.postgres
def test_customer_cards_in_batches_give_the_card_by_card_members(pg_app, publish, tmp_path, monkeypatch):
    from engine.models import Member
    fixed = clock.now().replace(microsecond=0)
    monkeypatch.setattr(clock, "now", lambda: fixed)
    importer = Importer(pg_app)
    dumps, runs = [], []
    for use_bulk in (False, True):
        folder = tmp_path / str(use_bulk)
        folder.mkdir()
        importer(samples.write(folder / "A.csv", samples.CUSTOMERS_HEADER, CARDS_FIRST), "customers",
                 use_bulk=use_bulk)
        with importer.session() as session:  # K09 was merged into K02 by an operator
            target = session.execute(select(Member).where(Member.erp_code == "K02")).scalar_one()
            from engine import members
            merged = members.create(session, {"name": "Scalony", "erp_code": "K09"}, now=fixed)
            merged.merged_into_id = target.id
            session.commit()
        run = importer(samples.write(folder / "B.csv", samples.CUSTOMERS_HEADER, CARDS_SECOND), "customers",
                       use_bulk=use_bulk)
        runs.append((run.status, run.rows_read, run.applied, run.duplicates, run.quarantined))
        dumps.append(members_dump(importer))
        _empty_tables(pg_app)
    assert runs[0] == runs[1] == ("done", 9, 6, 2, 1)
    assert dumps[0] == dumps[1]
    assert dumps[1]["K02"][2] is None and dumps[1]["K03"][2] == "+48602345678"  # the phone did not move
    assert dumps[1]["K05"][2] is None and dumps[1]["K04"][:2] == ("Czwarty bis", "d@example.pl")
    assert dumps[1]["K01"][:4] == ("Pierwszy Nowy", "a@example.pl", "+48601234567", "300")
