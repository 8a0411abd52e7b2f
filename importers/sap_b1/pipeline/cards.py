"""Customer and catalog files: rows upserted in batches, each batch committed with its place in the file.

Cards and products need no grouping, so these files stream straight from
the parser into `imports.apply` (one savepoint per row: a refused row is
quarantined, the others go through). Every batch commits together with
the number of records consumed so far (``details["cursor"]``); a run that
was killed resumes after the last committed batch, so no row is counted,
quarantined or applied twice.
"""
from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import clock, imports
from engine.domain import CustomerDoc
from engine.models import ImportRun
from importers.sap_b1 import SapFile, SkippedRow
from importers.sap_b1.pipeline.cards_bulk import upsert_cards

BATCH = 500


def _locked_run(session: Session, run_id: int) -> ImportRun:
    stmt = select(ImportRun).where(ImportRun.id == run_id).execution_options(populate_existing=True)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    return session.execute(stmt).scalar_one()


def apply_cards(new_session: Callable[[], Session], run_id: int, sap_file: SapFile, *,
                on_progress: Callable[[str, int, int], None] | None = None, batch: int = BATCH,
                use_bulk: bool = True) -> None:
    """Upsert every row of a customers or catalog file, resuming after the last committed batch.

    Customer cards go a batch at a time (`cards_bulk`) unless ``use_bulk`` is off; products one by one.
    """
    with new_session() as session:
        cursor = (_locked_run(session, run_id).details or {}).get("cursor", 0)
    rows = iter(sap_file)
    for _ in range(cursor):  # already applied by an earlier, interrupted attempt
        if next(rows, None) is None:
            break
    done = False
    while not done:
        items = []
        for row in rows:
            items.append(row)
            if len(items) >= batch:
                break
        else:
            done = True
        with new_session() as session:
            run = _locked_run(session, run_id)
            now = clock.now()
            tally, skipped = imports.Tally(rows_read=len(items)), 0
            cards = [item for item in items if isinstance(item, CustomerDoc)] if use_bulk else []
            for outcome in (upsert_cards(session, run, cards, now=now) if cards else ()):
                tally.add(outcome)
            for item in items:
                if isinstance(item, SkippedRow):  # a supplier or lead card
                    skipped += 1
                elif not (cards and isinstance(item, CustomerDoc)):  # a product, a card, or a RowError
                    tally.add(imports.apply(session, run, item, actor=run.actor, now=now))
            _count(run, tally, skipped, len(items))
            session.commit()
        if on_progress is not None:
            on_progress("applying", sap_file.bytes_read, sap_file.size)


def _count(run: ImportRun, tally: imports.Tally, skipped: int, consumed: int) -> None:
    run.rows_read += tally.rows_read
    run.applied += tally.applied
    run.duplicates += tally.duplicates
    run.quarantined += tally.quarantined
    details = dict(run.details or {})
    details["cursor"] = details.get("cursor", 0) + consumed
    details["skipped"] = details.get("skipped", 0) + skipped
    run.details = details
    run.progress = {"phase": "applying", "rows": run.rows_read}
