"""Simulations: what a draft policy would have cost on real past documents, beside the published version."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

import rules
from engine import policies
from engine.accrual.facts import document_facts
from engine.models import Document, PolicyVersion
from rules.facts import MemberFacts


class NotSimulable(ValueError):
    code = "not_simulable"


class NoDraft(policies.UnknownPolicy):
    code = "not_found"


def simulate(session: Session, policy: str, *, document: dict | None = None, version: int | None = None,
             since: datetime | None = None, until: datetime | None = None, limit: int, now: datetime) -> dict:
    """Cost ``document`` (a draft sent as is), else version ``version``, else the newest draft, on the
    orders and invoices of a period (the last 30 days by default)."""
    if policy != "accrual":
        raise NotSimulable("only the accrual policy can be simulated on orders")
    if document is not None:
        draft = rules.compile_policy(rules.validate_policy({"policy": policy, **document}))
    else:
        stmt = select(PolicyVersion).where(PolicyVersion.policy == policy)
        stmt = stmt.where(PolicyVersion.version == version) if version else \
            stmt.where(PolicyVersion.status == "draft").order_by(PolicyVersion.version.desc())
        row = session.execute(stmt.limit(1)).scalar_one_or_none()
        if row is None:
            raise NoDraft("there is no draft to simulate")
        draft = policies.compiled(row)
    until = until or now
    since = since or until - timedelta(days=30)
    settings = policies.settings(session, now)
    items = list(history(session, since, until, limit))
    result = {"since": since, "until": until, "documents": len(items),
              "draft": rules.simulate(draft, items, settings).to_dict()}
    _row, published = policies.active(session, policy, now)
    if published is not None:
        result["published"] = rules.simulate(published, items, settings).to_dict()
    return result


def history(session: Session, since: datetime, until: datetime, limit: int) -> Iterator[tuple]:
    """(document facts, member facts as they were) of the period's purchases, oldest first."""
    stmt = (select(Document).where(Document.placed_at >= since, Document.placed_at < until,
                                   Document.document_type.in_(("order", "invoice")),
                                   Document.status != "cancelled")
            .order_by(Document.placed_at).limit(limit))
    for doc in session.execute(stmt).scalars():
        facts = MemberFacts.from_dict(doc.member_snapshot) if doc.member_snapshot else MemberFacts()
        yield document_facts(doc), facts
