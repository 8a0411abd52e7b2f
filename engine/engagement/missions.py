"""Missions: what a document contributes (the ``mission`` policy), completions rewarded once, and taken back.

One code path for every input: `engine.accrual.document` calls `on_document`
when an API order, a 1C order or an ERP invoice is accrued and again after a
return or credit note (`recompute`); the set-based SAP path plans the same
contributions in memory (`Chunk`) and writes them with `record_batch`. A
document's contribution is *replaced* each time (net of its corrections), so
a return takes back exactly its share. A mission ties to the mission-policy
rule that counts for it (``Mission.rule_id``): which products or groups count
is the rule's business.

A completion is rewarded once per member, mission and period (the ledger key
``mission:<mission>:<member>:<period>``). If a credit note later takes the
progress below the target, the reward is reversed like an accrual (its own
lots first; what was already spent becomes debt, or is absorbed when the
program forbids negative balances); reaching the target again in the same
period rewards again, under the key with ``:<round>`` appended.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, insert, select, tuple_
from sqlalchemy.orm import Session

import rules
from engine import config_stamp, ledger, members, outbox, policies, terms
from engine.documents import store
from engine.models import Document, Lot, Member, Mission, MissionAward, MissionMember, MissionProgress
from engine.models.bulk import batches
from rules.facts import DocumentFacts, MemberFacts

ZERO = Decimal(0)


class MissionError(ValueError):
    code = "invalid_mission"


_MISSIONS = config_stamp.rows_of(Mission)  # every order asks; few rows


def running(session: Session, at: datetime) -> list[Mission]:
    """The missions running at ``at``, in id order."""
    return [config_stamp.attach(session, Mission, row) for row in _MISSIONS.get(session)
            if row["starts_at"] <= at and (row["ends_at"] is None or row["ends_at"] > at)]


def period_key(mission: Mission, at: datetime, tz: ZoneInfo) -> str:
    return at.astimezone(tz).strftime("%Y-%m") if mission.period == "month" else "all"


def period_bounds(mission: Mission, at: datetime, tz: ZoneInfo) -> tuple[datetime, datetime | None]:
    """The period containing ``at``: a calendar month in the program's time zone, clipped to the mission."""
    if mission.period != "month":
        return mission.starts_at, mission.ends_at
    local = at.astimezone(tz)
    start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (start + timedelta(days=32)).replace(day=1)
    start, end = start.astimezone(mission.starts_at.tzinfo), end.astimezone(mission.starts_at.tzinfo)
    return max(start, mission.starts_at), min(end, mission.ends_at) if mission.ends_at else end


def taking_part(candidates: Iterable[Mission], joined: dict[int, datetime], at: datetime) -> list[Mission]:
    """The missions a member takes part in at ``at``: auto-enrolled, or joined by then."""
    return [m for m in candidates if m.starts_at <= at and (m.ends_at is None or at < m.ends_at)
            and (m.enrolment == "auto" or (m.id in joined and joined[m.id] <= at))]


def contributions(compiled, doc: DocumentFacts, member_facts: MemberFacts, settings, missions: list[Mission],
                  at: datetime) -> tuple[frozenset[str], list[tuple[Mission, str, Decimal, Decimal]]]:
    """(line ids that earn no accrual points, [(mission, period, amount, quantity)]) for one document."""
    if compiled is None or not missions or not doc.lines:
        return frozenset(), []
    result = rules.evaluate_mission(compiled, doc, member_facts, settings, at=at)
    fed = {m.rule_id for m in missions}
    excluded = frozenset(line.line_id for line in result.lines
                         if line.exclude_from_accrual and fed.intersection(line.rules))
    out = []
    for mission in missions:
        counts = result.by_rule.get(mission.rule_id)
        if counts and (counts["amount"] > 0 or counts["quantity"] > 0):
            out.append((mission, period_key(mission, at, settings.tz), counts["amount"], counts["quantity"]))
    return excluded, out


def without(doc: DocumentFacts, line_ids: frozenset[str]) -> DocumentFacts:
    """The document as the accrual sees it: mission purchases left out ("no points for mission purchases")."""
    if not line_ids:
        return doc
    return dataclasses.replace(doc, lines=tuple(line for line in doc.lines if line.line_id not in line_ids))


def _joined(session: Session, member_ids: Iterable[int]) -> dict[int, dict[int, datetime]]:
    out: dict[int, dict[int, datetime]] = {}
    for part in batches(set(member_ids)):
        for member_id, mission_id, joined_at in session.execute(
                select(MissionMember.member_id, MissionMember.mission_id, MissionMember.joined_at)
                .where(MissionMember.member_id.in_(part))):
            out.setdefault(member_id, {})[mission_id] = joined_at
    return out


def evaluate(session: Session, at: datetime, doc: DocumentFacts, member: Member, member_facts: MemberFacts,
             settings) -> tuple[frozenset[str], list]:
    """`contributions` of a document dated ``at`` for the missions ``member`` takes part in (reads only)."""
    with session.no_autoflush:  # missions are not what this transaction changes: keep its document's one UPDATE
        candidates = running(session, at)
    if not candidates:
        return frozenset(), []
    missions = taking_part(candidates, _joined(session, [member.id]).get(member.id, {}), at)
    _ref, compiled = policies.active(session, "mission", at) if missions else (None, None)
    return contributions(compiled, doc, member_facts, settings, missions, at)


def on_document(session: Session, document: Document, doc: DocumentFacts, member: Member,
                member_facts: MemberFacts, settings, *, actor: str, now: datetime,
                first: bool = False) -> frozenset[str]:
    """Replace what ``document`` contributes to missions, settle the periods it touches, and return the
    line ids that earn no accrual points (``first``: its first accrual, so it contributed nothing yet)."""
    previous = set() if first else {(r.mission_id, r.period_key) for r in session.execute(
        select(MissionProgress).where(MissionProgress.document_id == document.id)).scalars()}
    excluded, parts = evaluate(session, document.placed_at, doc, member, member_facts, settings)
    if not previous and not parts:
        return excluded
    if document.id is None:  # a new document its accrual has not inserted yet: the rows point at it
        store.insert_document(session, document)
    session.execute(delete(MissionProgress).where(MissionProgress.document_id == document.id))
    for mission, period, amount, quantity in parts:
        session.add(MissionProgress(mission_id=mission.id, member_id=member.id, document_id=document.id,
                                    period_key=period, amount=amount, quantity=quantity))
    session.flush()
    touched = previous | {(m.id, p) for m, p, _a, _q in parts}
    for mission_id, period in sorted(touched):
        settle(session, session.get(Mission, mission_id), member, period, actor=actor, now=now)
    return excluded


class Chunk:
    """The set-based SAP path's view of missions: missions and joins read once per chunk of invoices."""

    def __init__(self, session: Session, member_ids: Iterable[int]):
        self.session = session
        self.missions = list(session.execute(select(Mission).order_by(Mission.id)).scalars())
        self.joined = _joined(session, member_ids) if self.missions else {}
        self.rows: list[dict] = []

    def plan(self, document_id: int, member_id: int, doc: DocumentFacts, member_facts: MemberFacts,
             settings) -> DocumentFacts:
        """Note the invoice's contributions; return the facts the accrual evaluates."""
        if not self.missions:
            return doc
        at = doc.placed_at
        missions = taking_part(self.missions, self.joined.get(member_id, {}), at)
        _ref, compiled = policies.active(self.session, "mission", at) if missions else (None, None)
        excluded, parts = contributions(compiled, doc, member_facts, settings, missions, at)
        self.rows.extend({"mission_id": m.id, "member_id": member_id, "document_id": document_id,
                          "period_key": p, "amount": a, "quantity": q} for m, p, a, q in parts)
        return without(doc, excluded)


def record_batch(session: Session, rows: list[dict], *, actor: str, now: datetime) -> None:
    """Write a chunk's contributions in one statement, then settle only the periods whose totals reach a
    target and are not rewarded yet (one aggregate query for the chunk)."""
    if not rows:
        return
    session.execute(insert(MissionProgress), rows)
    keys = {(r["mission_id"], r["member_id"], r["period_key"]) for r in rows}
    missions = {m.id: m for m in session.execute(
        select(Mission).where(Mission.id.in_({k[0] for k in keys}))).scalars()}
    for part in batches(keys):
        key = tuple_(MissionProgress.mission_id, MissionProgress.member_id, MissionProgress.period_key)
        totals = session.execute(
            select(MissionProgress.mission_id, MissionProgress.member_id, MissionProgress.period_key,
                   func.sum(MissionProgress.amount), func.sum(MissionProgress.quantity))
            .where(key.in_(list(part)))
            .group_by(MissionProgress.mission_id, MissionProgress.member_id, MissionProgress.period_key)).all()
        for mission_id, member_id, period, amount, quantity in totals:
            mission = missions[mission_id]
            if _metric(mission, amount, quantity) >= mission.target:
                settle(session, mission, session.get(Member, member_id), period, actor=actor, now=now)


def _metric(mission: Mission, amount, quantity) -> Decimal:
    return Decimal(amount if mission.metric == "amount" else quantity)


def progress(session: Session, mission: Mission, member: Member, period: str) -> Decimal:
    amount, quantity = session.execute(
        select(func.coalesce(func.sum(MissionProgress.amount), 0), func.coalesce(func.sum(MissionProgress.quantity), 0))
        .where(MissionProgress.mission_id == mission.id, MissionProgress.member_id == member.id,
               MissionProgress.period_key == period)).one()
    return _metric(mission, amount, quantity)


def last_award(session: Session, mission: Mission, member: Member, period: str) -> MissionAward | None:
    return session.execute(select(MissionAward).where(
        MissionAward.mission_id == mission.id, MissionAward.member_id == member.id,
        MissionAward.period_key == period).order_by(MissionAward.round.desc()).limit(1)).scalar_one_or_none()


def _key(mission: Mission, member: Member, period: str, round_: int) -> str:
    base = f"mission:{mission.id}:{member.id}:{period}"
    return base if round_ == 1 else f"{base}:{round_}"


def settle(session: Session, mission: Mission, member: Member, period: str, *, actor: str,
           now: datetime) -> None:
    """Reward a completion not rewarded yet; reverse a reward whose progress fell below the target."""
    # The account lock first: two documents of one member settling at once then read each other's progress
    # and award in turn, instead of both rewarding (the second would hit the unique key).
    account = ledger.lock_account(session, member.account_id)
    reached = progress(session, mission, member, period)
    award = last_award(session, mission, member, period)
    rewarded = award is not None and award.reversed_at is None
    settings = policies.settings(session, now)
    trace = {"policy": "mission", "mission": mission.code, "period": period, "progress": str(reached),
             "target": str(mission.target), "metric": mission.metric}
    if reached >= mission.target and not rewarded:
        round_ = 1 if award is None else award.round + 1
        available_at = now + timedelta(days=settings.holding_days)
        expires_at = terms.lot_expiry(session, "mission_reward", available_at,
                                      members.facts(session, member, now, settings, needed=frozenset()), settings)
        entry = ledger.credit(session, account, kind="mission_reward", key=_key(mission, member, period, round_),
                              actor=actor, now=now, member_id=member.id, beneficiary_member_id=member.id,
                              lots=[ledger.LotSpec(mission.reward_points, available_at, expires_at)],
                              trace=trace)
        session.add(MissionAward(mission_id=mission.id, member_id=member.id, period_key=period, round=round_,
                                 entry_id=entry.id, awarded_at=now))
        session.flush()
        outbox.mission_completed(session, member, mission, entry, now)  # the message and webhook, this transaction
    elif reached < mission.target and rewarded:
        own = list(session.execute(select(Lot.id).where(Lot.entry_id == award.entry_id)).scalars())
        take = mission.reward_points
        if not settings.negative_balance_allowed:
            # As an accrual reversal does: the program absorbs what was already spent.
            take = min(take, ledger.collectable(session, account, own, now))
        award.reversed_at = now
        if take > 0:
            entry = ledger.debit(session, account, kind="reversal", amount=take, allow_debt=True,
                                 prefer_lot_ids=own, key=f"{_key(mission, member, period, award.round)}:reversal",
                                 actor=actor, now=now, member_id=member.id, reason="mission progress fell below "
                                 "the target", trace={**trace, "reversed": str(take)})
            award.reversal_entry_id = entry.id
        session.flush()


def define(session: Session, data: dict, *, now: datetime) -> Mission:
    """A new mission; ``rule_id`` must be a rule of the mission policy in force (else nothing would count)."""
    _ref, compiled = policies.active(session, "mission", now)
    rule_ids = {rule.id for rule in compiled.document.rules} if compiled is not None else set()
    if data["rule_id"] not in rule_ids:
        raise MissionError(f"the mission policy in force has no rule {data['rule_id']!r}; its rules are: "
                           f"{', '.join(sorted(rule_ids)) or 'none (publish a mission policy first)'}")
    if data.get("ends_at") is not None and data["ends_at"] <= data["starts_at"]:
        raise MissionError("the mission must end after it starts")
    if session.execute(select(Mission.id).where(Mission.code == data["code"])).first() is not None:
        raise MissionError(f"a mission with the code {data['code']!r} exists already")
    mission = Mission(**data, created_at=now)
    session.add(mission)
    session.flush()
    return mission


def join(session: Session, mission: Mission, member: Member, *, now: datetime) -> MissionMember:
    """Join (idempotent: joining again keeps the first moment); purchases from now on count."""
    if mission.ends_at is not None and mission.ends_at <= now:
        raise MissionError(f"the mission {mission.code!r} has ended")
    row = session.execute(select(MissionMember).where(
        MissionMember.mission_id == mission.id, MissionMember.member_id == member.id)).scalar_one_or_none()
    if row is None:
        row = MissionMember(mission_id=mission.id, member_id=member.id, joined_at=now)
        session.add(row)
        session.flush()
    return row


def overview(session: Session, member: Member, *, now: datetime) -> list[dict]:
    """The missions running now, each with the member's current period, progress, target and state."""
    settings = policies.settings(session, now)
    joined = _joined(session, [member.id]).get(member.id, {})
    out = []
    for mission in running(session, now):
        period = period_key(mission, now, settings.tz)
        starts, ends = period_bounds(mission, now, settings.tz)
        award = last_award(session, mission, member, period)
        if mission.enrolment == "join" and mission.id not in joined:
            state = "not_joined"
        elif award is not None and award.reversed_at is None:
            state = "completed"
        else:
            state = "in_progress"
        out.append({"id": mission.id, "code": mission.code, "name": mission.name, "metric": mission.metric,
                    "target": mission.target, "progress": progress(session, mission, member, period),
                    "reward_points": mission.reward_points, "enrolment": mission.enrolment,
                    "joined_at": joined.get(mission.id), "state": state,
                    "period": {"kind": mission.period, "key": period, "starts_at": starts, "ends_at": ends}})
    return out
