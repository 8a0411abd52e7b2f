"""Programs · rewards: the catalog (points price, stock, active, our copy of the picture) with the points
price and stock edited, the reward orders by status moved on (a cancel refunds, in the engine) and the
shipping CSV. Marketers and admins write; viewers read."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import DecimalField, HiddenField, IntegerField
from wtforms.validators import DataRequired, NumberRange, Optional

from admin_ui import bp
from admin_ui.auth import WRITERS, role_required
from engine import clock
from engine.engagement import overview, reward_orders, rewards
from engine.engagement.reward_orders import NEXT, STATUSES
from server.api import present
from server.extensions import db

PER_PAGE = 50


class RewardForm(FlaskForm):
    points_price = DecimalField(_l("Points price"), validators=[Optional()])
    stock = IntegerField(_l("Stock (empty: not counted)"), validators=[Optional(),
                                                                       NumberRange(min=0, max=rewards.MAX_STOCK)])


class OrderStatusForm(FlaskForm):
    status = HiddenField(validators=[DataRequired()])


def status_names() -> dict[str, str]:
    return {"placed": _("placed"), "confirmed": _("confirmed"), "shipped": _("shipped"),
            "delivered": _("delivered"), "cancelled": _("cancelled")}


def plain(value) -> str:
    """A Decimal as an <input type=number> reads it: 4500, not 4.5E+3."""
    return format(value.normalize(), "f")


def _catalog(errors: dict | None = None, status: int = 200):
    page = max(request.args.get("page", 1, type=int), 1)
    rows, total = rewards.catalog(db.session(), page=page, per_page=PER_PAGE, include_inactive=True)
    return render_template("admin/programs/rewards.html", rows=rows, total=total, page=page, per_page=PER_PAGE,
                           kept=rewards.picture_kept, plain=plain, form=RewardForm(formdata=None), errors=errors or {},
                           can_write=current_user.role in WRITERS), status


@bp.get("/programs/rewards")
@login_required
def rewards_page():
    return _catalog()


@bp.post("/programs/rewards/<int:reward_id>")
@role_required(*WRITERS)
def reward_edit(reward_id: int):
    form = RewardForm()
    session = db.session()
    try:
        reward = rewards.get(session, reward_id)
    except rewards.RewardError:
        abort(404)
    if not form.validate():
        return _catalog({reward_id: [e for errors in form.errors.values() for e in errors]}, 422)
    try:
        rewards.update(session, reward, now=clock.now(), points_price=form.points_price.data,
                       stock=form.stock.data, clear_stock=form.stock.data is None)
    except rewards.RewardError as exc:
        session.rollback()
        return _catalog({reward_id: [_("Refused: %(reason)s", reason=str(exc))]}, 422)
    session.commit()
    flash(_("%(name)s is saved.", name=reward.name or reward.sku), "ok")
    return redirect(url_for("admin.rewards_page"))


@bp.get("/programs/reward-orders")
@login_required
def reward_orders_page():
    status = request.args.get("status", "")
    if status and status not in STATUSES:
        abort(400)
    return render_template("admin/programs/reward_orders.html", orders=overview.reward_orders(db.session(), status),
                           status=status, statuses=STATUSES, next_statuses=NEXT, names=status_names(),
                           form=OrderStatusForm(formdata=None), can_write=current_user.role in WRITERS)


@bp.post("/programs/reward-orders/<order_id>/status")
@role_required(*WRITERS)
def reward_order_status(order_id: str):
    form = OrderStatusForm()
    if not form.validate() or form.status.data not in STATUSES[1:]:
        abort(400)
    session = db.session()
    try:
        order, _changed = reward_orders.change_status(session, order_id, form.status.data,
                                                      actor=f"admin:{current_user.email}", now=clock.now())
    except rewards.RewardError as exc:
        session.rollback()
        if exc.status == 404:
            abort(404)
        flash(_("Refused: %(reason)s", reason=str(exc)), "error")
        return redirect(url_for("admin.reward_orders_page"))
    session.commit()
    flash(_("The reward order %(id)s is %(status)s.", id=order.external_id, status=status_names()[order.status]),
          "ok")
    return redirect(url_for("admin.reward_orders_page", status=request.args.get("back", "")))


@bp.get("/programs/reward-orders/export.csv")
@role_required(*WRITERS)
def reward_orders_export():
    status = request.args.get("status", "")
    if status and status not in STATUSES:
        abort(400)
    statuses = (status,) if status else ()
    return present.csv_download(lambda own: reward_orders.export_csv(own, statuses), "reward-orders.csv")
