"""An import through a real RQ worker on real Redis: the run is queued, a `loyalty worker` process applies it."""
from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.models import ImportChunk, ImportRun
from importers.sap_b1 import pipeline
from server import jobs
from server.extensions import session_factory
from tests.conftest import ACCRUAL_BASIC
from tests.integration.imports import samples
from tests.integration.imports.conftest import Importer

ROOT = Path(__file__).resolve().parents[3]


def own_redis_db(url: str) -> str:
    """The test's Redis URL on a database of its own (the nightly-jobs test flushes the shared one)."""
    base, _, db = url.rpartition("/")
    return f"{base}/{(int(db) + 11) % 16 if db.isdigit() else 4}"


@pytest.mark.postgres
@pytest.mark.redis
def test_an_import_runs_on_a_real_rq_worker(pg_app, redis_url, publish, tmp_path):
    publish(ACCRUAL_BASIC)
    importer = Importer(pg_app)
    importer(samples.write(tmp_path / "OCRD.csv", samples.CUSTOMERS_HEADER, samples.CUSTOMER_ROWS), "customers")
    invoices = samples.write(tmp_path / "INV.csv", samples.INVOICES_HEADER, samples.invoice_rows())
    url = own_redis_db(redis_url)
    from redis import Redis
    Redis.from_url(url).flushdb()
    from server.app import create_app
    queued = create_app({"TESTING": True, "DATABASE_URL": pg_app.config["DATABASE_URL"], "REDIS_URL": url,
                         "RQ_ASYNC": True, "SECRET_KEY": "t", "UPLOAD_FOLDER": str(tmp_path / "uploads")})
    with queued.app_context():
        database = session_factory(queued)
        with database.new_session() as session:
            run, _ = pipeline.register(session, invoices, kind="invoices", actor="test", chunk_lines=3)
            session.commit()
            run_id = run.id
        job = jobs.queue_import(run_id)
        assert job.get_status() == "queued"  # not run here: a worker has to take it
    with importer.session() as session:
        assert session.get(ImportRun, run_id).status == "queued"

    env = {**os.environ, "DATABASE_URL": pg_app.config["DATABASE_URL"], "REDIS_URL": url,
           "LOYALTY_INSTANCE": str(tmp_path / "instance"), "SECRET_KEY": "t"}
    worker = subprocess.run([str(Path(sys.executable).with_name("loyalty")), "worker", "--burst", "-q", "imports"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert worker.returncode == 0, worker.stdout + worker.stderr

    with importer.session() as session:
        run = session.get(ImportRun, run_id)
        assert (run.status, run.applied, run.quarantined) == ("done", 3, 4), run.error
        chunks = session.execute(select(func.count(ImportChunk.id)).where(
            ImportChunk.import_run_id == run_id, ImportChunk.status == "done")).scalar_one()
        assert chunks == run.details["chunks"] >= 2
    assert importer.balance("C001") == Decimal(502) and importer.balance("C002") == Decimal(201)
    # run_import shared the run with a work_chunks job (IMPORT_WORKERS = 2 by default): both ran
    from rq import Queue
    from rq.registry import FinishedJobRegistry
    finished = FinishedJobRegistry(queue=Queue("imports", connection=Redis.from_url(url)))
    names = {Queue("imports", connection=Redis.from_url(url)).fetch_job(i).func_name for i in finished.get_job_ids()}
    assert names == {"server.jobs.run_import", "server.jobs.work_chunks"}
