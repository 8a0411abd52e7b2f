"""Members: search, a member's page (balance, lots, ledger in words, orders), adjustments, blocking."""
from __future__ import annotations

import uuid

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from admin_ui import bp
from admin_ui.auth import WRITERS, role_required
from admin_ui.explain import kind_name, sentence
from admin_ui.forms import AdjustmentForm, ConfirmForm, StatusForm
from engine import clock, ledger, member_report, members, policies, reports
from engine.members import adjustments, merges, undo
from engine.models import Member
from server.extensions import db

PER_PAGE = 25


@bp.get("/members", endpoint="members")
@login_required
def members_list():
    query = request.args.get("q", "").strip()
    page = max(request.args.get("page", 1, type=int), 1)
    found = reports.search_members(db.session(), query, page=page, per_page=PER_PAGE)
    return render_template("admin/members/list.html", query=query, found=found)



def _member(session, loyalty_id: str) -> Member:
    member = members.resolve(session, loyalty_id)
    if member is None:
        abort(404)
    return member


def _render(session, member: Member, adjust_form: AdjustmentForm | None = None, status: int = 200):
    now = clock.now()
    settings = policies.settings(session, now)
    entries = reports.entries(session, member.account_id, limit=100)
    orders = reports.documents_by_id(session, [e.document_id for e in entries])
    paid_for = member_report.redemption_orders(session, [e.redemption_id for e in entries])
    adjust_form = adjust_form or AdjustmentForm(formdata=None, token=uuid.uuid4().hex)
    if not adjust_form.token.data:
        adjust_form.token.data = uuid.uuid4().hex
    return render_template(
        "admin/members/detail.html", member=member, settings=settings,
        status=members.effective_status(member, settings),
        balance=ledger.balance(session, member.account, now), lots=reports.open_lots(session, member.account_id, now),
        entries=[(e, kind_name(e.kind), sentence(e, orders.get(e.document_id) or paid_for.get(e.redemption_id)))
                 for e in entries],
        orders=reports.orders(session, member.id), adjust_form=adjust_form,
        redemptions=member_report.redemptions(session, member.account_id),
        merges=member_report.merges(session, member.id),
        employees=member_report.employees(session, member.company_id) if member.company_id else [],
        status_form=StatusForm(formdata=None), confirm_form=ConfirmForm(formdata=None),
        can_write=current_user.role in WRITERS, can_undo=current_user.role == "admin"), status


@bp.get("/members/<loyalty_id>")
@login_required
def member(loyalty_id: str):
    session = db.session()
    return _render(session, _member(session, loyalty_id))


@bp.post("/members/<loyalty_id>/adjust")
@role_required(*WRITERS)
def member_adjust(loyalty_id: str):
    session = db.session()
    target = _member(session, loyalty_id)
    form = AdjustmentForm()
    if not form.validate():
        return _render(session, target, form, 422)
    try:
        entry = adjustments.adjust(
            session, target, form.points.data, reason=form.reason.data.strip(),
            actor=f"admin:{current_user.email}", key=f"adjustment:admin-ui:{form.token.data}",
            now=clock.now(), expire_after_days=form.expire_after_days.data,
            allow_negative=form.allow_negative.data)
    except ledger.InsufficientPoints as exc:
        form.points.errors.append(_("Only %(available)s points are available.", available=exc.available))
        return _render(session, target, form, 422)
    except (adjustments.AdjustmentError, ledger.IdempotencyConflict) as exc:
        form.points.errors.append(str(exc))
        return _render(session, target, form, 422)
    session.commit()
    flash(_("%(points)s points posted to %(member)s.", points=entry.amount, member=target.loyalty_id), "ok")
    return redirect(url_for("admin.member", loyalty_id=target.loyalty_id))


@bp.post("/members/<loyalty_id>/status")
@role_required(*WRITERS)
def member_status(loyalty_id: str):
    session = db.session()
    target = _member(session, loyalty_id)
    form = StatusForm()
    if not form.validate() or form.status.data not in ("active", "blocked"):
        abort(400)
    members.update(session, target, {"status": form.status.data})
    session.commit()
    flash(_("%(member)s is blocked.", member=target.loyalty_id) if form.status.data == "blocked"
          else _("%(member)s is active again.", member=target.loyalty_id), "ok")
    return redirect(url_for("admin.member", loyalty_id=target.loyalty_id))


@bp.post("/members/<loyalty_id>/merges/<int:merge_id>/undo")
@role_required("admin")
def member_merge_undo(loyalty_id: str, merge_id: int):
    """Undo a 1C merge (an admin's decision) through the same service as the 1C API and the CLI."""
    session = db.session()
    target = _member(session, loyalty_id)
    if not ConfirmForm().validate():
        abort(400)
    if merge_id not in {merge.id for merge, _other in member_report.merges(session, target.id)}:
        abort(404)
    try:
        undo.undo_merge(session, merge_id, actor=f"admin:{current_user.email}", now=clock.now())
    except merges.UnknownMerge:
        abort(404)
    except merges.MergeError as exc:
        session.rollback()
        flash(_("The merge cannot be undone: %(reason)s", reason=str(exc)), "error")
        return redirect(url_for("admin.member", loyalty_id=target.loyalty_id))
    session.commit()
    flash(_("Merge %(id)s is undone.", id=merge_id), "ok")
    return redirect(url_for("admin.member", loyalty_id=target.loyalty_id))
