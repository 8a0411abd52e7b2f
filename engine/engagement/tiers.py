"""Tiers [003]: nightly assignment by the tier policy, and progress to the next tier."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

import rules
from engine import members, policies
from engine.models import Member

_THRESHOLD_OPERATORS = ("greater_than_or_equal_to", "greater_than")


def _thresholds(document: dict) -> list[tuple[Decimal, str]]:
    """(turnover threshold, tier) pairs read from rules that set a tier on turnover_12m."""
    found = []

    def walk(node, out):
        if isinstance(node, dict):
            if node.get("name") == "turnover_12m" and node.get("operator") in _THRESHOLD_OPERATORS:
                out.append(Decimal(str(node.get("value"))))
            for child in node.get("all", []) + node.get("any", []):
                walk(child, out)

    for rule in document.get("rules", []):
        names = [a.get("params", {}).get("name") for a in rule.get("actions", [])
                 if a.get("name") == "set_tier"]
        values: list[Decimal] = []
        walk(rule.get("conditions") or {}, values)
        for name in names:
            for value in values:
                found.append((value, name))
    return sorted(found)


def progress(session: Session, member: Member, now: datetime) -> dict | None:
    """The next tier above the member's 12-month turnover, and how much is missing."""
    row = policies.active_version(session, "tier", now)
    if row is None:
        return None
    turnover = members.purchase_history(session, member.id, now).turnover_12m
    for threshold, name in _thresholds(row.document):
        if threshold > turnover and name != member.tier:
            return {"tier": name, "turnover_12m": str(turnover), "threshold": str(threshold),
                    "missing": str(threshold - turnover)}
    return None


def recalculate(session: Session, now: datetime, *, batch: int = 1000) -> dict:
    """Assign every member the tier the policy gives them today."""
    row, compiled = policies.active(session, "tier", now)
    if compiled is None:
        return {"members": 0, "changed": 0}
    settings = policies.settings(session, now)
    seen = changed = 0
    last_id = 0
    while True:
        batch_rows = list(session.execute(
            select(Member).where(Member.id > last_id, Member.merged_into_id.is_(None))
            .order_by(Member.id).limit(batch)).scalars())
        if not batch_rows:
            break
        for member in batch_rows:
            facts = members.facts(session, member, now, settings)
            tier = rules.evaluate_tier(compiled, facts, settings, at=now).tier or ""
            if tier != (member.tier or ""):
                member.tier = tier
                changed += 1
        seen += len(batch_rows)
        last_id = batch_rows[-1].id
        session.flush()
    return {"members": seen, "changed": changed}
