"""Credit notes planned a chunk at a time write the per-document ledger (PostgreSQL and SQLite): partial and full
returns, two notes on one invoice in one chunk, own pending lots, spent points becoming debt, a return that
changes nothing; accounts it cannot plan (debt before, a refused note) go the per-document way whole."""
from decimal import Decimal

from sqlalchemy import func, select

from engine import clock, ledger
from engine.ledger.check import check
from engine.models import ImportChunk, Member
from tests.conftest import _empty_tables
from tests.integration.imports import ledger as dumps
from tests.integration.imports import samples
from tests.integration.imports.conftest import Importer

CUSTOMERS = [f"K{n};Klient {n};;;;k{n}@example.pl;100;20230115" for n in range(1, 7)]
CREDIT_HEADER = samples.CREDIT_HEADER


def invoice(entry: int, card: str, days_ago: int, lines: list[tuple[str, str, str, str]]) -> list[str]:
    """Rows of an invoice: lines of (group, quantity, price, total)."""
    return [f"{entry};{1000 + entry};{samples.day(days_ago)};{card};PLN;{n};SKU-{entry}-{n};Rura;{group};{qty};"
            f"{price};{total}" for n, (group, qty, price, total) in enumerate(lines)]


INVOICES = (
    invoice(1, "K1", 9, [("110", "5", "5,00", "25,00"), ("120", "3", "10,00", "30,00")])
    + invoice(2, "K1", 9, [("120", "2", "50,00", "100,00")])
    + invoice(3, "K1", 8, [("120", "4", "12,50", "50,00")])
    + invoice(4, "K2", 9, [("120", "2", "100,00", "200,00")])
    + invoice(5, "K2", 9, [("110", "2", "30,00", "60,00")])
    + invoice(6, "K3", 2, [("120", "3", "20,00", "60,00")])  # held for 5 days: its lot is pending
    + invoice(7, "K4", 9, [("120", "2", "40,00", "80,00")])
    + invoice(8, "K5", 9, [("120", "2", "40,00", "80,00")])
    + invoice(9, "K5", 9, [("120", "1", "40,00", "40,00")])
)


def note(entry: int, card: str, base: int, base_line: int, quantity: str, total: str, line: int = 0) -> str:
    return (f"{entry};{7000 + entry};{samples.day(1)};{card};PLN;{line};SKU-{base}-{base_line};Zwrot;;{quantity};"
            f"1,00;{total};13;{base};{base_line}")


NOTES = [
    note(1, "K1", 1, 0, "1", "5,00"),  # 25 → 20 in group 110: 4 → 4 … rounding per line
    note(2, "K1", 1, 0, "2", "10,00"),  # the same line again in the same chunk: 20 → 10
    note(3, "K1", 2, 0, "2", "100,00"),  # all of invoice 2: returned
    note(4, "K1", 3, 0, "0,1", "0,50"),  # 50 → 49,50: still 4 points, nothing posted
    note(5, "K2", 4, 0, "2", "200,00"),  # K2 spent its points: the reversal makes debt
    note(6, "K2", 5, 0, "1", "30,00"),  # a second reversal of an account in debt
    note(7, "K3", 6, 0, "1", "20,00"),  # takes from the invoice's own pending lot
    note(8, "K4", 7, 0, "1", "40,00"),  # K4 is in debt before the chunk: per-document
    note(9, "K5", 8, 0, "1", "40,00"),  # a good note of an account with a refused one: per-document
    note(10, "K5", 9, 0, "2", "80,00"),  # more than invoice 9 holds: refused
    note(11, "K6", 99, 0, "1", "1,00"),  # an invoice never imported: refused
]


def run_files(importer: Importer, folder, use_bulk: bool) -> dict:
    folder.mkdir()
    importer(samples.write(folder / "OCRD.csv", samples.CUSTOMERS_HEADER, CUSTOMERS), "customers")
    importer(samples.write(folder / "OINV.csv", samples.INVOICES_HEADER, INVOICES), "invoices", use_bulk=use_bulk)
    with importer.session() as session:
        people = {m.erp_code: m for m in session.execute(select(Member)).scalars()}
        for code, points, key in (("K2", 30, "test:spend:K2"), ("K4", 50, "test:debt:K4")):
            account = ledger.lock_account(session, people[code].account_id)
            ledger.debit(session, account, kind="adjustment", amount=Decimal(points), key=key, actor="test",
                         now=clock.now(), allow_debt=True)
        session.commit()
    run = importer(samples.write(folder / "ORIN.csv", CREDIT_HEADER, NOTES), "credit_notes", use_bulk=use_bulk,
                   chunk_lines=100)
    with importer.session() as session:
        assert check(session) == []
        out = dumps.dump(session)
        out["batched"] = session.execute(select(func.sum(ImportChunk.bulk_documents))
                                         .where(ImportChunk.import_run_id == run.id)).scalar_one()
    out["run"] = (run.status, run.rows_read, run.applied, run.duplicates, run.quarantined)
    out["quarantine"] = importer.quarantine(run.id)
    return out


def test_credit_notes_in_batches_write_the_per_document_ledger(app, publish, settings_doc, tmp_path, monkeypatch):
    fixed = clock.now().replace(microsecond=0)
    monkeypatch.setattr(clock, "now", lambda: fixed)  # both runs post at the same moment
    importer = Importer(app)
    results = []
    for use_bulk in (False, True):
        publish({**settings_doc, "settings": {**settings_doc["settings"], "holding_days": 5}}, "settings")
        from tests.conftest import ACCRUAL_BASIC
        publish(ACCRUAL_BASIC)
        results.append(run_files(importer, tmp_path / str(use_bulk), use_bulk))
        _empty_tables(app)
    single, batched = results
    assert single["batched"] == 0 and batched["batched"] == 7  # K1's four notes, K2's two, K3's one
    assert batched["run"] == single["run"] == ("done", 11, 9, 0, 2)
    assert batched["quarantine"] == single["quarantine"]
    assert dumps.compare(single, batched) == []
    assert single["documents"]["13:2"][8] == "returned"
    assert single["accounts"]["K2"] > 0  # spent points became debt
    kinds = [entry[1] for entry in single["entries"].values()]
    assert kinds.count("reversal") >= 6
