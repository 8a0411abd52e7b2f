"""The dashboard: points issued, spent and expired over time, liability, members, imports."""
from __future__ import annotations

from datetime import timedelta

from flask import render_template, request
from flask_login import login_required

from admin_ui import bp
from engine import clock, reports
from engine.ledger import rollup
from server.extensions import db

# How far back each view of the chart reaches.
SPANS = {"day": timedelta(days=30), "week": timedelta(weeks=26), "month": timedelta(days=365)}


@bp.get("/")
@login_required
def dashboard():
    bucket = request.args.get("view", "day")
    if bucket not in SPANS:
        bucket = "day"
    session = db.session()
    now = clock.now()
    if rollup.tail_size(session) > rollup.TAIL_LIMIT:
        # The summaries fell behind (no nightly refresh yet): fold the new entries in once, for every reader.
        rollup.refresh(session, now)
        session.commit()
    periods = reports.points_by_period(session, now - SPANS[bucket], now, bucket=bucket)
    chart = {"labels": [p.start.isoformat() for p in periods],
             "issued": [str(p.issued) for p in periods],
             "spent": [str(p.spent) for p in periods],
             "expired": [str(p.expired) for p in periods]}
    return render_template(
        "admin/dashboard.html", bucket=bucket, periods=periods, chart=chart,
        totals={"issued": sum(p.issued for p in periods), "spent": sum(p.spent for p in periods),
                "expired": sum(p.expired for p in periods)},
        liability=reports.liability(session, now), counts=reports.member_counts(session, now),
        imports=reports.recent_imports(session, limit=5))
