"""What 1C uploaded as its catalog (when 1C is the catalog master) → the engine, one product at a time."""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session

from engine import clock
from engine.documents import catalog
from engine.models import ImportRun
from importers.onec.apply import SOURCE, Checkpoint, Report, _guarded, _quarantine_errors
from importers.onec.catalog import CatalogBatch

CATALOG_COUNTS = ("groups", "products", "products_applied", "products_unchanged", "deleted",
                  "quarantined")


def apply_catalog(session: Session, run: ImportRun, batch: CatalogBatch, *, actor: str,
                  now: Callable[[], datetime] = clock.now, checkpoint: Checkpoint | None = None,
                  every: int = 500) -> Report:
    """Product groups and products (with prices) when 1C is the catalog master."""
    report = Report(Counter({key: 0 for key in CATALOG_COUNTS}))
    _quarantine_errors(session, run, report, batch.errors)
    total, done = len(batch.groups) + len(batch.products), 0
    for group in batch.groups:
        report.counts["groups"] += 1
        ok, outcome = _guarded(session, run, report, f"group {group.external_id}", None,
                               lambda g=group: catalog.upsert_group(
                                   session, g.external_id, g.name, parent_code=g.parent_id,
                                   source=SOURCE))
        if ok and outcome == "applied":
            report.counts["groups_applied"] += 1
        done += 1
        if checkpoint and done % every == 0:
            checkpoint(done, total)
    for product in batch.products:
        report.counts["products"] += 1
        ok, outcome = _guarded(session, run, report, f"product {product.sku}", product.origin,
                               lambda p=product: catalog.upsert(session, p, now=now()))
        if ok:
            report.counts["products_applied" if outcome == "applied"
                          else "products_unchanged"] += 1
        done += 1
        if checkpoint and done % every == 0:
            checkpoint(done, total)
    if batch.deleted_skus:
        report.counts["deleted"] = catalog.deactivate(session, batch.deleted_skus, now=now())
        report.note("info", "catalog", f"{len(batch.deleted_skus)} products are marked deleted "
                                       "in 1C; they are no longer offered, and kept for past orders")
    return report
