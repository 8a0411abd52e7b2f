"""Accrual: the single call site where documents meet the rules, and its postings.

`evaluate` turns a stored document into rule facts and asks the accrual
policy; `accrue` posts the first result; `recompute` re-evaluates the net
lines (after returns or credit notes) under the pinned rule version and
member snapshot and posts only the difference.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

import rules
from engine import ledger, members, outbox, policies, terms
from engine.accrual.facts import document_facts
from engine.documents import store
from engine.engagement import missions, referrals
from engine.models import Document, LedgerEntry, Member, PolicyVersion
from rules.facts import MemberFacts

ZERO = Decimal(0)


def evaluate(session: Session, document: Document, version, member_facts: MemberFacts,
             settings, *, explain: bool = True, exclude: frozenset[str] = frozenset()):
    """``exclude``: line ids that earn nothing here (mission purchases, `engine.engagement.missions`)."""
    compiled = policies.compiled(version, session)
    multiplier = terms.tier_multiplier(session, member_facts, settings, document.placed_at)
    facts = missions.without(document_facts(document), exclude)
    return rules.evaluate_accrual(compiled, facts, member_facts, settings,
                                  explain=explain, at=document.placed_at,
                                  tier_multiplier=multiplier)


def _member_variables(session: Session, version, at: datetime, settings) -> frozenset[str]:
    """Member variables the accrual, tier, expiry and mission policies in force actually read."""
    _r, tier_policy = policies.active(session, "tier", at)
    _r, expiry_policy = policies.active(session, "expiry",
                                        at + timedelta(days=settings.holding_days))
    _r, mission_policy = policies.active(session, "mission", at)
    return members.variables_used(policies.compiled(version, session), tier_policy,
                                  expiry_policy, mission_policy)


def _trace(result, version, member_facts: MemberFacts, member: dict | None = None, **extra) -> dict:
    """``member``: ``member_facts.to_dict()`` when the caller has it already."""
    trace = dict(result.trace or {})
    trace.update({"policy": "accrual", "policy_version": version.version,
                  "member": member_facts.to_dict() if member is None else member, **extra})
    return trace


def accrue(session: Session, document: Document, *, actor: str, now: datetime,
           available_from: datetime) -> LedgerEntry | None:
    """First accrual of a document; returns the entry (None when nothing is earned)."""
    if document.accrued_at is not None:
        return None
    # Reads only, up to the lock: a new document is not in the database yet, and its INSERT (or a
    # stored one's UPDATE) goes out once, at the lock's flush, with everything set here.
    with session.no_autoflush:
        planned = _plan(session, document, actor=actor, now=now, available_from=available_from)
    if planned is None:
        return None
    member, version, member_facts, result, available_at, expires_at = planned
    store.insert_document(session, document)  # a new one, complete now: before the lock, as its flush was
    account = ledger.lock_account(session, document.account_id)
    entry = ledger.credit(
        session, account, kind="accrual", key=f"{document.source}:{document.external_id}:accrual",
        actor=actor, now=now, lots=[ledger.LotSpec(result.points, available_at, expires_at)],
        member_id=member.id, document_id=document.id, policy_version_id=version.id,
        effective_at=document.placed_at,
        trace=_trace(result, version, member_facts, member=dict(document.member_snapshot)))
    outbox.points_credited(session, member, entry, now)  # the SMS and webhook, in this transaction
    referrals.after_first_purchase(session, member, actor=actor, now=now, document=document,
                                   available_at=available_at)
    return entry


def _plan(session: Session, document: Document, *, actor: str, now: datetime, available_from: datetime):
    """What the first accrual posts, set on the document; None when it posts nothing."""
    settings = policies.settings(session, document.placed_at)
    member = document.fresh_member or session.get(Member, document.member_id)
    version = terms.policy_for(session, document.placed_at)
    document.accrued_at = now
    active = members.effective_status(member, settings) == "active"
    if version is None or not active:
        facts = members.facts(session, member, document.placed_at, settings, needed=frozenset())
        document.member_snapshot = facts.to_dict()
        if active:  # missions progress even where no accrual policy is in force
            missions.on_document(session, document, document_facts(document), member, facts, settings,
                                 actor=actor, now=now, first=True)
        return None
    needed = _member_variables(session, version, document.placed_at, settings)
    # A document not inserted yet has no id, and no history to leave out of the member's.
    member_facts = members.facts(session, member, document.placed_at, settings,
                                 exclude_document_id=document.id, needed=needed)
    document.member_snapshot = member_facts.to_dict()
    document.policy_version_id = version.id
    excluded = missions.on_document(session, document, document_facts(document), member, member_facts,
                                    settings, actor=actor, now=now, first=True)
    result = evaluate(session, document, version, member_facts, settings, exclude=excluded)
    _store_line_points(document, result)
    if result.points <= 0:
        return None
    available_at = available_from + timedelta(days=settings.holding_days)
    expires_at = terms.lot_expiry(session, "accrual", available_at, member_facts, settings,
                                  document=document)
    document.earned = result.points
    return member, version, member_facts, result, available_at, expires_at


def _store_line_points(document: Document, result) -> None:
    by_id = {line.line_id: line.points for line in result.lines}
    for line in document.lines:
        if str(line.line_no) in by_id:
            line.points = by_id[str(line.line_no)]


def recompute(session: Session, document: Document, *, actor: str, now: datetime,
              key: str, reason: str) -> LedgerEntry | None:
    """Post the difference between what the document earned and what its net lines
    earn now, under the pinned version and member snapshot. Idempotent on ``key``."""
    if document.accrued_at is None or ledger.find_entry(session, key) is not None:
        return None
    settings = policies.settings(session, document.placed_at)
    member_facts = MemberFacts.from_dict(document.member_snapshot)
    # Missions first: a return or credit note takes back the document's share of their progress.
    net = document_facts(document)
    if document.status == "cancelled":
        net = missions.without(net, frozenset(line.line_id for line in net.lines))
    excluded = missions.on_document(session, document, net, session.get(Member, document.member_id),
                                    member_facts, settings, actor=actor, now=now)
    if document.policy_version_id is None:
        target, trace = ZERO, {"policy": "accrual", "note": "no rule version was applied"}
        version = None
    else:
        version = session.get(PolicyVersion, document.policy_version_id)
        if document.status == "cancelled":
            target, trace = ZERO, {"policy": "accrual", "note": "document cancelled"}
        else:
            result = evaluate(session, document, version, member_facts, settings, exclude=excluded)
            _store_line_points(document, result)
            target = result.points
            trace = _trace(result, version, member_facts)
    entitled = document.earned - document.absorbed
    diff = target - entitled
    trace.update({"reason": reason, "earned_before": str(entitled), "earned_after": str(target)})
    if diff == 0:
        return None
    account = ledger.lock_account(session, document.account_id)
    common = dict(key=key, actor=actor, now=now, member_id=document.member_id,
                  document_id=document.id, reason=reason, trace=trace,
                  policy_version_id=version.id if version else None)
    if diff > 0:
        available_at = now + timedelta(days=settings.holding_days)
        expires_at = terms.lot_expiry(session, "accrual", available_at, member_facts, settings,
                                document=document)
        entry = ledger.credit(session, account, kind="accrual",
                              lots=[ledger.LotSpec(diff, available_at, expires_at)], **common)
    else:
        own = ledger.document_lot_ids(session, document.id)
        take = -diff
        if not settings.negative_balance_allowed:
            # The program absorbs what was already spent rather than going negative.
            collectable = ledger.collectable(session, account, own, now)
            if collectable < take:
                trace["uncollected"] = str(take - collectable)
                document.absorbed += take - collectable
                take = collectable
            if take <= 0:
                return None
        entry = ledger.debit(session, account, kind="reversal", amount=take, allow_debt=True,
                             prefer_lot_ids=own, **common)
        document.earned -= take
        return entry
    document.earned += diff
    return entry


def explain(session: Session, document: Document) -> dict | None:
    """The full explanation of a document's first accrual (pinned version and member snapshot): the
    set-based path stores a compact trace, and this rebuilds the rest on demand."""
    if document.policy_version_id is None:
        return None
    version = session.get(PolicyVersion, document.policy_version_id)
    settings = policies.settings(session, document.placed_at)
    facts = MemberFacts.from_dict(document.member_snapshot)
    multiplier = terms.tier_multiplier(session, facts, settings, document.placed_at)
    original = document_facts(document, net=False)
    excluded, _parts = missions.evaluate(session, document.placed_at, original,
                                         session.get(Member, document.member_id), facts, settings)
    result = rules.evaluate_accrual(policies.compiled(version), missions.without(original, excluded),
                                    facts, settings, explain=True, at=document.placed_at,
                                    tier_multiplier=multiplier)
    return {**(result.trace or {}), "policy": "accrual", "policy_version": version.version,
            "member": document.member_snapshot}
