"""The daily catalog file from a real FTP and SFTP server: polled, imported once, its rewards offered."""
from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select

from engine.models import ImportRun, Reward
from server import jobs

CATALOG = ("ItemCode;ItemName;ItmsGrpCod;Price;Currency;PictureURL;RedeemableForPoints\r\n"
           "R1;Kubek;900;20,00;PLN;;Y\r\n"
           "R2;Wycieczka;900;;PLN;;25 000\r\n"
           "P1;Rura;110;3,50;PLN;;N\r\n"
           "R3;Zły;900;;PLN;;-1\r\n")


def test_the_polled_catalog_file_creates_rewards_once(importer, remote, monkeypatch):
    config, folder = remote
    config = replace(config, patterns={**config.patterns, "catalog": "OITM_*.csv"})
    app = importer.app
    monkeypatch.setitem(app.config, "IMPORT_SOURCES", [config])
    (folder / "OITM_20240115.csv").write_bytes(CATALOG.encode("cp1250"))
    (folder / "OITM_copy.csv").write_bytes(CATALOG.encode("cp1250"))  # the same bytes again
    with app.app_context():
        report = sorted((r["file"], r["status"]) for r in jobs.poll_sources())
    assert report in ([("OITM_20240115.csv", "queued"), ("OITM_copy.csv", "known")],
                      [("OITM_20240115.csv", "known"), ("OITM_copy.csv", "queued")])
    with importer.session() as session:
        rewards = {r.sku: (r.points_price, r.active) for r in session.execute(select(Reward)).scalars()}
        run_id = session.execute(select(ImportRun.id).where(ImportRun.kind == "catalog")).scalar_one()
    assert rewards == {"R1": (20, True), "R2": (25000, True)}  # point value 1: 20.00 PLN is 20 points
    assert [line for line, _reason in importer.quarantine(run_id)] == [5]
