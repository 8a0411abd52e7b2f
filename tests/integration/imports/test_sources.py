"""Files fetched from a real FTP server (pyftpdlib) and a real SFTP server (OpenSSH) by the poll job."""
import logging
from decimal import Decimal

from sqlalchemy import func, select

from engine.models import Document, ImportRun
from server import jobs
from tests.integration.imports import samples


def put(folder, name, header, rows):
    return samples.write(folder / name, header, rows)


def test_poll_fetches_imports_and_archives(importer, remote, monkeypatch, caplog):
    config, folder = remote
    app = importer.app
    monkeypatch.setitem(app.config, "IMPORT_SOURCES", [config])
    put(folder, "OCRD_20240115.csv", samples.CUSTOMERS_HEADER, samples.CUSTOMER_ROWS)
    put(folder, "INV_20240115.csv", samples.INVOICES_HEADER, samples.invoice_rows())
    caplog.set_level(logging.DEBUG)
    with app.app_context():
        report = jobs.poll_sources()
    assert [(r["file"], r["status"]) for r in report] == [("OCRD_20240115.csv", "queued"),
                                                          ("INV_20240115.csv", "queued")]
    with importer.session() as session:
        runs = {r.kind: r for r in session.execute(select(ImportRun)).scalars()}
    assert runs["customers"].status == runs["invoices"].status == "done"
    assert runs["invoices"].details["origin"] == {"via": config.protocol, "source": config.name,
                                                  "remote": "INV_20240115.csv", "marker": None}
    assert (runs["invoices"].applied, runs["invoices"].quarantined) == (3, 4)
    assert [line for line, _ in importer.quarantine(runs["invoices"].id)] == [5, 6, 7, 9]
    assert (importer.balance("C001"), importer.balance("C002")) == (Decimal(502), Decimal(201))
    assert sorted(p.name for p in (folder / "archive").iterdir()) == ["INV_20240115.csv", "OCRD_20240115.csv"]
    assert not (folder / "INV_20240115.csv").exists()

    # The same bytes under another name: recognised, archived, nothing imported twice.
    (folder / "INV_copy.csv").write_bytes((folder / "archive" / "INV_20240115.csv").read_bytes())
    # An overlapping export: two documents known already, one new.
    put(folder, "INV_20240116.csv", samples.INVOICES_HEADER, samples.overlapping_rows())
    with app.app_context():
        again = {r["file"]: r["status"] for r in jobs.poll_sources()}
    assert again == {"INV_copy.csv": "known", "INV_20240116.csv": "queued"}
    with importer.session() as session:
        overlap = session.execute(select(ImportRun).where(ImportRun.filename == "INV_20240116.csv")).scalar_one()
        assert (overlap.applied, overlap.duplicates) == (1, 2)
        assert session.execute(select(func.count(Document.id))).scalar_one() == 4
    assert importer.balance("C003") == Decimal(4)
    assert not any(name.startswith("INV") for name in (p.name for p in folder.iterdir() if p.is_file()))
    assert config.password is None or all(config.password not in record.getMessage() for record in caplog.records)


def test_left_files_are_imported_once_and_a_dead_source_is_reported(importer, remote, monkeypatch):
    config, folder = remote
    from dataclasses import replace
    left = replace(config, after_processing="leave")
    dead = replace(config, name="dead", host="127.0.0.1", port=9, timeout=2)
    app = importer.app
    monkeypatch.setitem(app.config, "IMPORT_SOURCES", [dead, left])
    put(folder, "OCRD_1.csv", samples.CUSTOMERS_HEADER, samples.CUSTOMER_ROWS)
    with app.app_context():
        first = jobs.poll_sources()
        second = jobs.poll_sources()
    assert first[0]["source"] == "dead" and "error" in first[0]
    assert [r.get("status") for r in first[1:]] == ["queued"]
    assert [r.get("status") for r in second[1:]] == ["known"]
    assert (folder / "OCRD_1.csv").exists()
    with importer.session() as session:
        assert session.execute(select(func.count(ImportRun.id))).scalar_one() == 1
