"""What the admin UI's integrations page reads: API keys, the 1C exchange log, the last file each
FTP/SFTP source delivered. Read-only presentation queries (keys are created and revoked in
``server.auth``, sources are configured in ``IMPORT_SOURCES``)."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from engine.models import ApiKey, ExchangeSession, ImportRun


def api_keys(session: Session) -> list[ApiKey]:
    """Every key, the usable ones first, then by name."""
    return list(session.execute(select(ApiKey).order_by(ApiKey.revoked_at.is_not(None), ApiKey.name)).scalars())


def exchange_log(session: Session, *, limit: int = 20) -> list[ExchangeSession]:
    """The last 1C exchange sessions with their files, newest first."""
    return list(session.execute(select(ExchangeSession).options(selectinload(ExchangeSession.files))
                                .order_by(ExchangeSession.started_at.desc(), ExchangeSession.id.desc())
                                .limit(limit)).scalars())


def last_runs_by_source(session: Session, names: list[str]) -> dict[str, tuple[ImportRun, int]]:
    """For each source name: its newest import run (a file its poll fetched) and how many it has had."""
    if not names:
        return {}
    actors = {f"import:{name}": name for name in names}
    newest = (select(ImportRun.actor, func.max(ImportRun.id).label("id"), func.count(ImportRun.id).label("n"))
              .where(ImportRun.actor.in_(actors)).group_by(ImportRun.actor).subquery())
    rows = session.execute(select(ImportRun, newest.c.n).join(newest, newest.c.id == ImportRun.id)).all()
    return {actors[run.actor]: (run, n) for run, n in rows}
