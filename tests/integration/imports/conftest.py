"""Fixtures for the import tests: run a file through the pipeline, read balances and the quarantine."""
from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from engine import clock, ledger
from engine.models import ImportRun, Member, QuarantinedRow
from importers.sap_b1 import pipeline
from server.extensions import session_factory
from tests.conftest import ACCRUAL_BASIC


class Importer:
    def __init__(self, app):
        self.app = app
        self.database = session_factory(app)

    def __call__(self, path, kind: str, *, chunk_lines: int = 4, use_bulk: bool = True, profile=None,
                 helpers: int = 0) -> ImportRun:
        """Register and run a file to its end; returns the run (fresh from the database)."""
        with self.database.new_session() as session:
            run, _created = pipeline.register(session, path, kind=kind, actor="test", profile=profile)
            session.commit()
            run_id = run.id
        return pipeline.execute(self.database, run_id, chunk_lines=chunk_lines, use_bulk=use_bulk,
                                helpers=helpers)

    def balance(self, erp_code: str) -> Decimal:
        with self.database.new_session() as session:
            member = session.execute(select(Member).where(Member.erp_code == erp_code)).scalar_one()
            return ledger.balance(session, member.account, clock.now()).available

    def quarantine(self, run_id: int) -> list[tuple[int, str]]:
        with self.database.new_session() as session:
            rows = session.execute(select(QuarantinedRow).where(QuarantinedRow.import_run_id == run_id)
                                   .order_by(QuarantinedRow.line_no, QuarantinedRow.id)).scalars()
            return [(row.line_no, row.reason) for row in rows]

    def session(self):
        return self.database.new_session()


@pytest.fixture
def importer(app, publish):
    publish(ACCRUAL_BASIC)
    return Importer(app)


@pytest.fixture
def pg_importer(pg_app, publish):
    publish(ACCRUAL_BASIC)
    return Importer(pg_app)


@pytest.fixture
def ftp_server(tmp_path):
    from tests.support.servers import start_ftp_server
    server = start_ftp_server(tmp_path / "ftp-root")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sshd_server(tmp_path_factory):
    from tests.support.servers import start_sshd
    server = start_sshd(tmp_path_factory.mktemp("sshd-imports"))
    yield server
    server.stop()


@pytest.fixture(params=["ftp", "sftp"])
def remote(request, tmp_path):
    """(SourceConfig archiving processed files, the local folder behind its remote folder)."""
    from tests.support.sources import source_for
    if request.param == "sftp":
        server = request.getfixturevalue("sshd_server")
        folder = server.root / f"imports-{tmp_path.name}"
        folder.mkdir()
        return source_for(server, folder, after_processing="archive"), folder
    server = request.getfixturevalue("ftp_server")
    return source_for(server, after_processing="archive"), server.root
