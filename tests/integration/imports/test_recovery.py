"""kill -9 in the middle of an import: nothing half-applied, and the re-run ends with the uninterrupted ledger.

The import runs as a real `loyalty import` process on PostgreSQL. To kill it
mid-chunk deterministically, the test holds the row lock of one account whose
chunk is claimed last (the smallest): the worker commits every other chunk,
then waits inside the last chunk's transaction; that is when it gets SIGKILL.
The same file is imported without interruption into a second fresh database,
and the two ledgers are compared row by row.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine.models import ImportChunk, ImportRun
from importers.sap_b1.pipeline.stage import bucket_count
from server.extensions import session_factory
from tests.conftest import ACCRUAL_BASIC, PG_ADMIN_URL, _pg_url, unavailable
from tests.integration.imports import ledger, samples
from tests.integration.imports.conftest import Importer

ROOT = Path(__file__).resolve().parents[3]
CUSTOMERS = 10  # accounts 1..10 in a fresh database: with 10 chunks, one account per chunk


@pytest.fixture
def scratch_urls():
    """Two fresh PostgreSQL databases, dropped afterwards."""
    admin_url = _pg_url(PG_ADMIN_URL, PG_ADMIN_URL.rsplit("/", 1)[1])
    try:
        admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:
        unavailable(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {exc.__class__.__name__}")
    names = [f"loyalty_kill_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    with admin.connect() as conn:
        for name in names:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield [_pg_url(PG_ADMIN_URL, name) for name in names]
    with admin.connect() as conn:
        for name in names:
            conn.execute(sa.text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


def make_app(url: str, tmp_path: Path):
    from server.app import create_app
    from server.extensions import upgrade
    app = create_app({"TESTING": True, "DATABASE_URL": url, "REDIS_URL": None, "SECRET_KEY": "t",
                      "SECRET_KEY_IS_EPHEMERAL": False, "UPLOAD_FOLDER": str(tmp_path / "uploads")})
    upgrade(app)
    from engine import policies
    with session_factory(app).new_session() as session:
        row = policies.save_draft(session, "accrual", ACCRUAL_BASIC, author="test")
        policies.publish(session, "accrual", by="test", version=row.version,
                         effective_from=samples_epoch())
        session.commit()
    return app


def samples_epoch():
    from tests.conftest import EPOCH
    return EPOCH


def files(tmp_path: Path) -> tuple[Path, Path]:
    customers = samples.write(tmp_path / "OCRD.csv", samples.CUSTOMERS_HEADER, [
        f"K{n:02d};Klient {n};;;;k{n}@example.pl;100;20230101" for n in range(1, CUSTOMERS + 1)])
    rows = []
    for entry in range(1, 91):  # 9 customers × 10 invoices × 3 lines; K10 gets one line, below
        card = 1 + (entry - 1) % 9
        for line in range(3):
            rows.append(f"{entry};{5000 + entry};{samples.day(5 + entry % 20)};K{card:02d};PLN;{line};SKU-{line};"
                        f'"Rura; {line}";{110 if line == 1 else 120};{line + 1};{entry},50;'
                        f"{(line + 1) * entry},{50 * (line + 1) % 100:02d}")
    rows.append(f"91;5091;{samples.day(4)};K10;PLN;0;SKU-9;Ostatni;110;1;99,00;99,00")
    return customers, samples.write(tmp_path / "INV_kill.csv", samples.INVOICES_HEADER, rows)


def chunk_lines_for(path: Path, buckets: int) -> int:
    data = path.read_bytes()
    for lines in range(1, 1000):
        if bucket_count(len(data), data[:1 << 16], lines) == buckets:
            return lines
    raise AssertionError("no chunk size gives the wanted number of chunks")


def loyalty(url: str, tmp_path: Path, *args) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": url, "LOYALTY_INSTANCE": str(tmp_path / "instance"),
           "SECRET_KEY": "t", "UPLOAD_FOLDER": str(tmp_path / "uploads")}
    env.pop("REDIS_URL", None)
    return subprocess.Popen([str(Path(sys.executable).with_name("loyalty")), "import", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_for(condition, timeout: float = 60.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.mark.postgres
def test_kill_9_mid_chunk_then_rerun_gives_the_uninterrupted_ledger(scratch_urls, tmp_path):
    killed_url, clean_url = scratch_urls
    customers, invoices = files(tmp_path)
    chunk_lines = chunk_lines_for(invoices, CUSTOMERS)
    killed, clean = make_app(killed_url, tmp_path / "a"), make_app(clean_url, tmp_path / "b")
    for app in (killed, clean):
        assert Importer(app)(customers, "customers").applied == CUSTOMERS

    engine = session_factory(killed).engine
    holder = engine.connect()
    holder_tx = holder.begin()
    holder.execute(sa.text("SELECT id FROM accounts WHERE id = 10 FOR UPDATE"))  # K10's account, last chunk
    process = loyalty(killed_url, tmp_path, str(invoices), "--kind", "invoices", "--chunk-lines", str(chunk_lines))
    try:
        with engine.connect() as probe:
            def stuck_in_last_chunk():
                done = probe.execute(sa.text("SELECT count(*) FILTER (WHERE status = 'done'), count(*) "
                                             "FROM import_chunks")).one()
                waiting = probe.execute(sa.text("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                                                "current_database() AND wait_event_type = 'Lock'")).scalar_one()
                probe.commit()
                return done[1] == CUSTOMERS and done[0] == CUSTOMERS - 1 and waiting == 1
            wait_for(stuck_in_last_chunk, what="the import to commit 9 chunks and wait in the last one")
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        holder_tx.rollback()
        holder.close()
    assert process.returncode == -signal.SIGKILL

    with session_factory(killed).new_session() as session:
        run = session.execute(sa.select(ImportRun).where(ImportRun.kind == "invoices")).scalar_one()
        assert run.status == "running"
        pending = session.execute(sa.select(ImportChunk).where(ImportChunk.status == "pending")).scalars().all()
        assert len(pending) == 1  # the chunk it was killed in left nothing behind
        assert session.execute(sa.text("SELECT count(*) FROM documents d JOIN members m ON m.id = d.member_id "
                                       "WHERE m.erp_code = 'K10'")).scalar_one() == 0
        run_id = run.id

    def orphan_gone():  # the killed client's backend rolls back once its lock wait ends
        with engine.connect() as probe:
            return probe.execute(sa.text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                         "AND state <> 'idle' AND pid <> pg_backend_pid()")).scalar_one() == 0
    wait_for(orphan_gone, what="the killed worker's transaction to roll back")
    rerun = loyalty(killed_url, tmp_path, "resume", str(run_id))
    output, _ = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, output

    straight = loyalty(clean_url, tmp_path, str(invoices), "--kind", "invoices", "--chunk-lines", str(chunk_lines))
    output, _ = straight.communicate(timeout=120)
    assert straight.returncode == 0, output
    with session_factory(killed).new_session() as a, session_factory(clean).new_session() as b:
        resumed = a.get(ImportRun, run_id)
        uninterrupted = b.execute(sa.select(ImportRun).where(ImportRun.kind == "invoices")).scalar_one()
        assert resumed.status == "done"
        assert (resumed.rows_read, resumed.applied, resumed.duplicates, resumed.quarantined) == (
            uninterrupted.rows_read, uninterrupted.applied, uninterrupted.duplicates, uninterrupted.quarantined)
        assert resumed.applied == 91
        dump_a, dump_b = ledger.dump(a), ledger.dump(b)
        assert dump_a["entries"] and ledger.compare(dump_a, dump_b) == []
        from engine.ledger.check import check
        assert check(a) == [] and check(b) == []

    again = loyalty(killed_url, tmp_path, str(invoices), "--kind", "invoices")
    output, _ = again.communicate(timeout=60)
    assert again.returncode == 0 and "was imported already" in output
