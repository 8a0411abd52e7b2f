"""The dashboard's figures from the ledger summaries equal the same figures scanned from the ledger itself,
before any refresh, after one, and with entries appended since (the tail)."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, or_, select

from engine import clock, members, reports
from engine.ledger import rollup
from engine.members import adjustments
from engine.models import Account, LedgerEntry, LedgerHourTotal, Lot
from server import demo
from server.extensions import db


def _scanned(session, now):
    """The figures the way the first dashboard computed them: straight from entries and lots."""
    live = (Lot.remaining > 0) & or_(Lot.expires_at.is_(None), Lot.expires_at > now)
    available, pending = session.execute(select(
        func.coalesce(func.sum(Lot.remaining).filter(Lot.available_at <= now), 0),
        func.coalesce(func.sum(Lot.remaining).filter(Lot.available_at > now), 0)).where(live)).one()
    debt = session.execute(select(func.coalesce(func.sum(Account.debt), 0))).scalar_one()
    soon = [session.execute(select(func.coalesce(func.sum(Lot.remaining), 0)).where(
        live, Lot.expires_at <= now + timedelta(days=d))).scalar_one() for d in (30, 60, 90)]
    active = session.execute(select(func.count(func.distinct(LedgerEntry.account_id))).where(
        LedgerEntry.effective_at >= now - timedelta(days=90))).scalar_one()
    issued = session.execute(select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
        LedgerEntry.amount > 0, LedgerEntry.kind.not_in(reports.ISSUED_EXCLUDED))).scalar_one()
    spent = -session.execute(select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
        LedgerEntry.kind.in_(reports.SPENT_KINDS))).scalar_one()
    expired = -session.execute(select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
        LedgerEntry.kind == "expiry")).scalar_one()
    return {"available": Decimal(available) - Decimal(debt), "pending": Decimal(pending),
            "soon": [Decimal(v) for v in soon], "active": active, "sums": (issued, spent, expired)}


def _shown(session, now):
    liability = reports.liability(session, now)
    periods = reports.points_by_period(session, now - timedelta(days=120), now)
    return {"available": liability.available, "pending": liability.pending,
            "soon": [liability.expiring[d] for d in (30, 60, 90)],
            "active": reports.member_counts(session, now).active,
            "sums": tuple(sum(getattr(p, f) for p in periods) for f in ("issued", "spent", "expired"))}


def test_the_summaries_give_the_figures_of_a_full_scan(app, tmp_path):
    with app.app_context():
        session = db.session()
        demo.seed(session, members_count=30, upload_folder=str(tmp_path))
        now = clock.now()
        scanned = _scanned(session, now)
        assert scanned["sums"][0] > 0 and scanned["sums"][1] > 0 and scanned["sums"][2] > 0
        assert _shown(session, now) == scanned  # never refreshed: everything is the tail
        assert rollup.refresh(session, now)["entries"] > 100
        session.commit()
        assert session.execute(select(func.count()).select_from(LedgerHourTotal)).scalar_one() > 50
        assert _shown(session, now) == scanned  # everything rolled up
        assert rollup.refresh(session, now)["entries"] == 0  # nothing counted twice

        member = members.create(session, {"name": "Tail"})
        adjustments.adjust(session, member, Decimal(40), reason="after the refresh", actor="t", key="t:tail",
                           now=now, expire_after_days=10)
        session.commit()
        later = clock.now()
        shown = _shown(session, later)
        assert shown == _scanned(session, later) and shown["active"] == scanned["active"] + 1
        assert shown["soon"][0] == scanned["soon"][0] + 40
        assert rollup.refresh(session, later)["entries"] == 0  # written under an hour ago: still the tail
        # The tail: this entry, and the demo programs' entries written a moment ago (not backdated).
        tail = session.execute(select(func.count()).select_from(LedgerEntry).where(
            LedgerEntry.id > rollup.state(session).last_entry_id)).scalar_one()
        assert tail >= 1
        assert rollup.refresh(session, later + rollup.FOLD_LAG)["entries"] == tail
        session.commit()
        assert _shown(session, later) == _scanned(session, later)
