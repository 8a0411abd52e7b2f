"""Tiers [003]: the nightly recalculation, admin pins and invitations, benefits and progress.

The tier policy in force gives each member the tier their window turnover
(``engagement.turnover``: orders, invoices and imported history) earns;
``rules.tiering`` decides what a recalculation does with it (upgrades at
once; downgrades per the held tier: at recalculation, never, or after grace
days) and what a tier is worth (discount, multiplier) to whoever holds it.
A pinned member (a negotiated tier until a date, or an invitation into an
invitation-only tier) is left alone until the pin ends. Every change is a
``tier_changes`` row and a ``tier.changed`` outbox event in the same
transaction. The recalculation reads turnover for all members in two grouped
queries and evaluates each distinct set of facts once, so it stays set-based
at a million members; it is idempotent for its day.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

import rules
from engine import ledger, members, policies
from engine.engagement.turnover import window_turnover
from engine.models import Account, Document, Member, TierChange, TierState
from engine.models.bulk import one_of
from engine.outbox import triggers
from rules.facts import MemberFacts
from rules.tiering import TierSpec, decide, tier_catalog

_THRESHOLD_OPERATORS = ("greater_than_or_equal_to", "greater_than")


class TierError(ValueError):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def catalog(session: Session, at: datetime) -> dict[str, TierSpec]:
    _ref, compiled = policies.active(session, "tier", at)
    return tier_catalog(compiled)


def benefits(session: Session, tier: str, at: datetime) -> TierSpec | None:
    """What holding ``tier`` is worth under the tier policy in force at ``at`` (None: no such tier)."""
    return catalog(session, at).get(tier) if tier else None


def _thresholds(compiled) -> list[tuple[Decimal, str]]:
    """(turnover threshold, tier) pairs of the rules that set a tier on ``turnover_12m``."""
    found = []

    def walk(node, out):
        if isinstance(node, rules.Leaf):
            if node.name == "turnover_12m" and node.operator in _THRESHOLD_OPERATORS:
                out.append(Decimal(str(node.value)))
        elif isinstance(node, rules.Group):
            for child in node.children:
                walk(child, out)

    specs = tier_catalog(compiled)
    for spec in specs.values():
        if spec.invitation_only:
            continue
        rule = next(r.rule for r in compiled.rules if r.rule.id == spec.rule_id)
        values: list[Decimal] = []
        walk(rule.conditions, values)
        found.extend((value, spec.name) for value in values)
    return sorted(found)


def progress(session: Session, member: Member, now: datetime) -> dict | None:
    """The next tier above the member's, by window turnover, and how much is missing."""
    _ref, compiled = policies.active(session, "tier", now)
    if compiled is None:
        return None
    specs = tier_catalog(compiled)
    held = specs.get(member.tier)
    turnover = window_turnover(session, now, policies.settings(session, now).tz, [member.id]).get(
        member.id, Decimal(0))
    for threshold, name in _thresholds(compiled):
        if threshold > turnover and (held is None or specs[name].rank > held.rank):
            return {"tier": name, "turnover_12m": str(turnover), "threshold": str(threshold),
                    "missing": str(threshold - turnover)}
    return None


def summary(session: Session, member: Member, now: datetime) -> dict:
    """Tier, its benefits, pin and progress: what balance and member answers show."""
    spec = benefits(session, member.tier, now)
    # A pin comes with a tier (assign sets both; taking the tier away deletes the pin): a member
    # without a tier — most members, or all of a program without tiers — has no pin to read.
    state = session.get(TierState, member.id) if member.tier else None
    return {"tier": member.tier,
            "discount_percent": str(spec.discount_percent) if spec else "0",
            "multiplier": str(spec.multiplier) if spec else "1",
            "invitation_only": bool(spec and spec.invitation_only),
            "pinned_until": state.pinned_until if state else None,
            "next_tier": progress(session, member, now)}


def _publish(session: Session, member_id: int, loyalty_id: str, old: str, new: str, reason: str,
             now: datetime, subscriptions, change_id: int | None = None) -> None:
    data = {"member": loyalty_id, "from": old, "to": new, "reason": reason}
    triggers.publish_event(session, "tier.changed", data, f"tier:{member_id}:{now.isoformat()}:{new}", now,
                           subscriptions=subscriptions)


def _change(session: Session, member: Member, new: str, reason: str, actor: str, now: datetime) -> None:
    old = member.tier or ""
    if old == new:
        return
    member.tier = new
    session.add(TierChange(member_id=member.id, from_tier=old, to_tier=new, reason=reason, actor=actor, at=now))
    _publish(session, member.id, member.loyalty_id, old, new, reason, now, None)
    session.flush()


def assign(session: Session, member: Member, tier: str, *, until: datetime | None, actor: str, note: str,
           now: datetime) -> None:
    """An admin puts a member in ``tier`` ("" takes the pin and the tier away): a negotiated tier until a
    date, or an invitation into an invitation-only tier (until a date or for good)."""
    state = session.get(TierState, member.id)
    if not tier:
        if state is not None:
            session.delete(state)
        _change(session, member, "", "removed_by_admin", actor, now)
        return
    spec = benefits(session, tier, now)
    if spec is None:
        known = ", ".join(sorted(catalog(session, now))) or "none (no tier policy is published)"
        raise TierError("unknown_tier", f"the tier policy in force has no tier {tier!r}; known: {known}")
    if until is not None and until <= now:
        raise TierError("invalid_until", "until must be in the future")
    if until is None and not spec.invitation_only:
        raise TierError("until_required", f"{tier!r} is given by turnover: a negotiated tier needs an until "
                        "date (invitation-only tiers may be given for good)")
    if state is None:
        state = TierState(member_id=member.id)
        session.add(state)
    state.pinned_until, state.pinned_by, state.note, state.below_since = until, actor, note[:500], None
    _change(session, member, tier, "invitation" if spec.invitation_only else "pin", actor, now)
    session.flush()


def history(session: Session, member: Member, limit: int = 100) -> list[TierChange]:
    return list(session.execute(select(TierChange).where(TierChange.member_id == member.id)
                                .order_by(TierChange.id.desc()).limit(limit)).scalars())


def _grouped_counts(session: Session, column, where) -> dict[int, int]:
    return dict(session.execute(select(column, func.count()).where(*where).group_by(column)).all())


def recalculate(session: Session, now: datetime, *, batch: int = 5000, actor: str = "tiers") -> dict:
    """Give every member the tier the policy in force gives them today (module docstring)."""
    _ref, compiled = policies.active(session, "tier", now)
    if compiled is None:
        return {"members": 0, "changed": 0}
    settings = policies.settings(session, now)
    specs = tier_catalog(compiled)
    needed = members.variables_used(compiled)
    turnover = window_turnover(session, now, settings.tz)
    orders = _grouped_counts(session, Document.member_id, (
        Document.placed_at < now, Document.document_type.in_(("order", "invoice")),
        Document.status != "cancelled")) if "orders_count" in needed else {}
    referrals = _grouped_counts(session, Member.referred_by_id, (Member.referred_by_id.is_not(None),)) \
        if "referral_count" in needed else {}
    states = {s.member_id: s for s in session.execute(select(TierState)).scalars()}
    subscriptions = triggers.subscribers(session, "tier.changed")  # loaded once for the run
    today = now.astimezone(settings.tz).date()
    earned_by: dict[tuple, str] = {}
    seen = changed = 0
    last_id = 0
    zero = Decimal(0)
    while True:
        rows = session.execute(
            select(Member.id, Member.loyalty_id, Member.tier, Member.group, Member.registered_at,
                   Member.birth_date, Member.account_id)
            .where(Member.id > last_id, Member.merged_into_id.is_(None)).order_by(Member.id).limit(batch)).all()
        if not rows:
            break
        updates, changes = [], []
        for member_id, loyalty_id, current, group, registered, birth, account_id in rows:
            current = current or ""
            state = states.get(member_id)
            pin_ended = False
            if state is not None and (state.pinned_until is not None or state.pinned_by):
                if state.pinned_until is None or state.pinned_until > now:
                    continue
                pin_ended = True
            facts = MemberFacts(
                member_group=group or "", tier=current,
                days_since_registration=max((today - registered.astimezone(settings.tz).date()).days, 0)
                if "days_since_registration" in needed else 0,
                orders_count=int(orders.get(member_id, 0)), turnover_12m=turnover.get(member_id, zero),
                is_birthday=members.is_birthday(birth, today) if "is_birthday" in needed else False,
                referral_count=int(referrals.get(member_id, 0)),
                points_balance=ledger.balance(session, session.get(Account, account_id), now).available
                if "points_balance" in needed else zero)
            key = tuple(getattr(facts, name) for name in sorted(needed))
            if key not in earned_by:
                earned_by[key] = rules.evaluate_tier(compiled, facts, settings, at=now, explain=False).tier or ""
            earned = earned_by[key]
            if pin_ended:
                session.delete(state)
                new, reason, below = earned, "pin_ended", None
            else:
                decision = decide(specs, current, earned, state.below_since if state else None, now)
                new, reason, below = decision.tier, decision.reason, decision.below_since
                if below is not None and state is None:
                    state = states[member_id] = TierState(member_id=member_id, pinned_by="", note="")
                    session.add(state)
                if state is not None and state.below_since != below:
                    state.below_since = below
            if reason is not None and new != current:
                updates.append({"id": member_id, "tier": new})
                changes.append({"member_id": member_id, "from_tier": current, "to_tier": new,
                                "reason": reason, "actor": actor, "at": now})
                _publish(session, member_id, loyalty_id, current, new, reason, now, subscriptions)
        if updates:
            by_tier: dict[str, list[int]] = {}
            for row in updates:
                by_tier.setdefault(row["tier"], []).append(row["id"])
            for tier, ids in by_tier.items():  # one UPDATE per tier reached, not per member
                session.execute(update(Member).where(one_of(session, Member.id, ids))
                                .values(tier=tier, updated_at=now).execution_options(synchronize_session=False))
            session.execute(insert(TierChange), changes)
            _forget_tiers(session, {row["id"] for row in updates})
            changed += len(updates)
        seen += len(rows)
        last_id = rows[-1][0]
        session.flush()
    return {"members": seen, "changed": changed}


def _forget_tiers(session: Session, ids: set[int]) -> None:
    """Members this session already holds read their new tier again (the UPDATEs went past the ORM)."""
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Member) and obj.id in ids:
            session.expire(obj, ["tier", "updated_at"])
