"""What planning a chunk of invoices needs: the terms in force per date, and member facts as of each document.

Member facts include the chunk's earlier documents, as the per-document path
sees them when it takes the same documents in the same order; what costs a
query (history, referrals, open lots) is fetched once per chunk, and only when
a policy in force reads it.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

import rules
from engine import members, policies
from engine.members.lookup import MemberRow
from engine.models import Document, Lot, Member, PolicyVersion
from engine.models.base import tidy
from engine.models.bulk import batches, one_of, run
from engine.terms import lot_expiry, policy_for, tier_multiplier
from rules.facts import MemberFacts

ZERO = Decimal(0)
ONE = Decimal(1)
FREE_FACTS = frozenset(("member_group", "tier", "days_since_registration", "is_birthday"))
MEMBER_FACTS = FREE_FACTS | {"orders_count", "turnover_12m", "referral_count", "points_balance"}


class DateTerms(NamedTuple):
    """What the document date decides: settings, the rule versions in force, the facts they read."""

    settings: rules.ProgramSettings
    version: PolicyVersion | None
    compiled: object
    tier: object
    expiry_names: tuple
    tier_names: tuple
    needed: frozenset


def _member_names(policy) -> tuple:
    return tuple(sorted(n for n in policy.static_names if n in MEMBER_FACTS)) if policy is not None else ()


class Terms:
    """Per-date policy lookups, and tier multipliers and lot expiry cached on what they read."""

    def __init__(self, session: Session):
        self.session = session
        self._dates: dict[datetime, DateTerms] = {}
        self._expiry: dict = {}
        self._tiers: dict = {}

    def at(self, when: datetime) -> DateTerms:
        terms = self._dates.get(when)
        if terms is None:
            session = self.session
            settings = policies.settings(session, when)
            version = policy_for(session, when)
            compiled = policies.compiled(version, session) if version is not None else None
            _row, tier = policies.active(session, "tier", when)
            _row, expiry = policies.active(session, "expiry", when + timedelta(days=settings.holding_days))
            tier_names = _member_names(tier) + ("tier",) if tier is not None else ()
            _row, mission = policies.active(session, "mission", when)  # as accrual.document reads them
            needed = FREE_FACTS.union(_member_names(compiled), tier_names, _member_names(expiry),
                                      _member_names(mission))
            terms = self._dates[when] = DateTerms(settings, version, compiled, tier, _member_names(expiry),
                                               tier_names, needed)
        return terms

    def multiplier(self, terms: DateTerms, facts: MemberFacts, when: datetime) -> Decimal:
        if terms.tier is None or not facts.tier:
            return ONE
        key = (when,) + tuple(getattr(facts, n) for n in terms.tier_names)
        found = self._tiers.get(key)
        if found is None:
            found = self._tiers[key] = tier_multiplier(self.session, facts, terms.settings, when)
        return found

    def expires(self, terms: DateTerms, available_at: datetime, facts: MemberFacts) -> datetime | None:
        key = (available_at,) + tuple(getattr(facts, n) for n in terms.expiry_names)
        if key not in self._expiry:
            self._expiry[key] = lot_expiry(self.session, "accrual", available_at, facts,
                                                   terms.settings, document=_EXPIRY_DOC)
        return self._expiry[key]


class _ExpiryDoc(NamedTuple):
    channel: str = "erp"
    document_type: str = "invoice"


_EXPIRY_DOC = _ExpiryDoc()


class ChunkFacts:
    """Member facts as `members.facts` computes them at each document, the chunk's earlier ones included."""

    def __init__(self, session: Session, invoices: list, needed: frozenset,
                 debts: dict[int, Decimal]):
        self.needed = needed
        self.debts = {k: tidy(v) for k, v in debts.items()}
        member_ids = sorted({inv.member.id for inv in invoices})
        account_ids = sorted({inv.member.account_id for inv in invoices})
        self.base_count: dict[int, int] = {}
        self.history: dict[int, list] = {m: [] for m in member_ids}
        self.referrals: dict[int, int] = {}
        self.lots: dict[int, list] = {a: [] for a in account_ids}
        if needed & {"orders_count", "turnover_12m"}:
            self._load_history(session, member_ids, min(inv.placed_at for inv in invoices))
        if "referral_count" in needed:
            for part in batches(member_ids):
                stmt = select(Member.referred_by_id, func.count(Member.id)).where(
                    one_of(session, Member.referred_by_id, part)).group_by(Member.referred_by_id)
                self.referrals.update({ref: int(n) for ref, n in run(session, stmt)})
        if "points_balance" in needed:
            for part in batches(account_ids):
                stmt = select(Lot.account_id, Lot.available_at, Lot.expires_at, Lot.remaining).where(
                    one_of(session, Lot.account_id, part), Lot.remaining > 0)
                for row in run(session, stmt):
                    self.lots[row.account_id].append((row.available_at, row.expires_at, row.remaining))

    def _load_history(self, session: Session, member_ids: list[int], first: datetime) -> None:
        since = first - timedelta(days=365)
        counted = (Document.document_type.in_(("order", "invoice")), Document.status != "cancelled")
        for part in batches(member_ids):
            stmt = select(Document.member_id, func.count(Document.id)).where(
                one_of(session, Document.member_id, part), Document.placed_at < since, *counted) \
                .group_by(Document.member_id)
            self.base_count.update({m: int(n) for m, n in run(session, stmt)})
            stmt = select(Document.member_id, Document.placed_at, Document.total).where(
                one_of(session, Document.member_id, part), Document.placed_at >= since, *counted)
            for row in run(session, stmt):
                self.history[row.member_id].append((row.placed_at, row.total))

    def facts(self, member: MemberRow, at: datetime, settings, needed: frozenset) -> tuple[MemberFacts, dict]:
        """The facts (and their snapshot, as `MemberFacts.to_dict` writes it) that `members.facts` gives
        with ``needed``: what costs a query is computed only when needed, the rest keeps its default."""
        today = at.astimezone(settings.tz).date()
        orders, turnover, referrals, balance = 0, ZERO, 0, ZERO
        if "orders_count" in needed or "turnover_12m" in needed:
            earlier = [(placed, total) for placed, total in self.history[member.id] if placed < at]
            year_ago = at - timedelta(days=365)
            orders = self.base_count.get(member.id, 0) + len(earlier)
            turnover = tidy(sum((t for p, t in earlier if p >= year_ago), ZERO))
        if "referral_count" in needed:
            referrals = self.referrals.get(member.id, 0)
        if "points_balance" in needed:
            for available_at, expires_at, remaining in self.lots[member.account_id]:
                if available_at <= at and (expires_at is None or expires_at > at):
                    balance += remaining
            balance -= self.debts.get(member.account_id, ZERO)
        days = max((today - member.registered_at.astimezone(settings.tz).date()).days, 0)
        birthday = members.is_birthday(member.birth_date, today)
        facts = MemberFacts(member.group, member.tier, days, orders, turnover, birthday, referrals, balance)
        snapshot = {"member_group": member.group, "tier": member.tier, "days_since_registration": days,
                    "orders_count": orders, "turnover_12m": str(turnover), "is_birthday": birthday,
                    "referral_count": referrals, "points_balance": str(balance)}
        return facts, snapshot

    def record_document(self, member: MemberRow, at: datetime, total: Decimal) -> None:
        self.history[member.id].append((at, total))

    def record_lot(self, account_id: int, available_at: datetime, expires_at, points: Decimal) -> None:
        self.lots[account_id].append((available_at, expires_at, tidy(points)))
