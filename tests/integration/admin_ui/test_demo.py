"""The demo data (`make run`): enough history that the dashboard, the simulation and the member pages show
something real, loaded once."""
from __future__ import annotations

from sqlalchemy import func, select

from engine.models import ImportRun, LedgerEntry, Member, MemberMerge, Redemption, User
from server import demo
from server.extensions import db


def test_the_demo_holds_ninety_days_of_history_and_loads_once(app, tmp_path):
    with app.app_context():
        session = db.session()
        report = demo.seed(session, members_count=40, upload_folder=str(tmp_path))
        assert any(line.startswith("Marketer login: marketer@example.com / ") for line in report["logins"])
        assert any(line.endswith("/admin") for line in report["logins"])
        kinds = dict(session.execute(select(LedgerEntry.kind, func.count()).group_by(LedgerEntry.kind)).all())
        assert kinds.get("accrual", 0) > 40 and kinds.get("redemption", 0) > 0
        assert kinds.get("reversal", 0) > 0 and kinds.get("expiry", 0) > 0  # returns, and a bonus that expired
        first, last = session.execute(select(func.min(LedgerEntry.effective_at),
                                             func.max(LedgerEntry.effective_at))).one()
        assert (last - first).days >= 80
        run = session.execute(select(ImportRun)).scalar_one()
        assert (run.status, run.applied, run.quarantined) == ("done", 3, 2)
        assert session.execute(select(func.count(MemberMerge.id))).scalar_one() == 1
        assert {u.role for u in session.execute(select(User)).scalars()} == {"admin", "marketer"}
        counts = (session.execute(select(func.count(Member.id))).scalar_one(),
                  session.execute(select(func.count(Redemption.id))).scalar_one())
        again = demo.seed(session, members_count=40, upload_folder=str(tmp_path))
        assert "already present" in again["logins"][0]
        assert counts == (session.execute(select(func.count(Member.id))).scalar_one(),
                          session.execute(select(func.count(Redemption.id))).scalar_one())
