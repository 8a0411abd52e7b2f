"""Programs · promo codes: the batches (name, pattern, count, redeemed, points, state), a batch generated
from a pattern, its codes exported as CSV, a batch deactivated (marketers and admins; viewers read)."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import DateTimeLocalField, DecimalField, IntegerField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from admin_ui import bp
from admin_ui.auth import WRITERS, role_required
from admin_ui.forms import ConfirmForm
from engine import clock
from engine.engagement import promo_codes
from server.api import present
from server.extensions import db


class BatchForm(FlaskForm):
    name = StringField(_l("Batch name"), validators=[DataRequired(), Length(max=100)])
    pattern = StringField(_l("Pattern (# digit, ? letter, * either)"), validators=[DataRequired(), Length(max=63)])
    count = IntegerField(_l("Number of codes"), validators=[InputRequired(),
                                                            NumberRange(min=1, max=promo_codes.MAX_COUNT)])
    points = DecimalField(_l("Points per code (empty: the event policy)"),
                          validators=[Optional()])
    valid_from = DateTimeLocalField(_l("Valid from"), format="%Y-%m-%dT%H:%M", validators=[Optional()])
    valid_until = DateTimeLocalField(_l("Valid until"), format="%Y-%m-%dT%H:%M", validators=[Optional()])


def local_instant(value):
    """A datetime-local input read in the program's time zone, as UTC-aware."""
    from engine import policies
    if value is None:
        return None
    return value.replace(tzinfo=policies.settings(db.session()).tz)


def _field_of(form: BatchForm, exc: promo_codes.PromoError):
    """The field a refusal concerns: the name that exists, the count the pattern cannot hold, else the pattern."""
    if exc.code == "promo_batch_exists" or str(exc).startswith("a batch needs a name"):
        return form.name
    if (exc.details or {}).get("capacity") is not None or str(exc).startswith("a batch holds"):
        return form.count
    if "points" in str(exc):
        return form.points
    return form.pattern


def _page(form: BatchForm | None = None, status: int = 200):
    return render_template("admin/programs/promo.html", batches=promo_codes.batches(db.session()),
                           form=form or BatchForm(formdata=None), confirm_form=ConfirmForm(formdata=None),
                           can_write=current_user.role in WRITERS), status


@bp.get("/programs/promo-codes")
@login_required
def promo_batches():
    return _page()


@bp.post("/programs/promo-codes")
@role_required(*WRITERS)
def promo_batch_create():
    form = BatchForm()
    if not form.validate():
        return _page(form, 422)
    valid_from, valid_until = local_instant(form.valid_from.data), local_instant(form.valid_until.data)
    if valid_from and valid_until and valid_until <= valid_from:
        form.valid_until.errors.append(_("The end must come after the start."))
        return _page(form, 422)
    session = db.session()
    try:
        batch = promo_codes.generate(session, form.name.data.strip(), form.pattern.data.strip(), form.count.data,
                                     points=form.points.data, valid_from=valid_from, valid_until=valid_until,
                                     actor=f"admin:{current_user.email}", now=clock.now())
    except promo_codes.PromoError as exc:
        session.rollback()
        field = _field_of(form, exc)
        field.errors.append(_("Refused: %(reason)s", reason=str(exc)))
        return _page(form, 422)
    session.commit()
    flash(_("The batch %(name)s holds %(count)s codes.", name=batch.name, count=f"{batch.code_count:,}"), "ok")
    return redirect(url_for("admin.promo_batches"))


def _batch(batch_id: int):
    try:
        return promo_codes.get_batch(db.session(), batch_id)
    except promo_codes.PromoError:
        abort(404)


@bp.get("/programs/promo-codes/<int:batch_id>/codes.csv")
@role_required(*WRITERS)
def promo_batch_export(batch_id: int):
    batch = _batch(batch_id)
    return present.csv_download(lambda own: promo_codes.export_csv(own, batch), f"promo-{batch.id}.csv")


@bp.post("/programs/promo-codes/<int:batch_id>/deactivate")
@role_required(*WRITERS)
def promo_batch_deactivate(batch_id: int):
    if not ConfirmForm().validate():
        abort(400)
    batch = promo_codes.deactivate(db.session(), _batch(batch_id), now=clock.now())
    db.session().commit()
    flash(_("The batch %(name)s is deactivated: its unused codes are refused from now on.", name=batch.name), "ok")
    return redirect(url_for("admin.promo_batches"))
