"""Programs · tiers and missions: members per tier, the tier changes recently recorded, members pinned into
a tier until a date or invited into an invitation-only tier (admins only); missions with their
participants and completions (read-only)."""
from __future__ import annotations

from datetime import datetime, time, timedelta

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from admin_ui import bp
from admin_ui.auth import role_required
from engine import clock, members, policies
from engine.engagement import overview, tiers
from server.extensions import db

PER_PAGE = 50


class TierAssignForm(FlaskForm):
    member = StringField(_l("Member (loyalty id, or ext:…, erp:…, phone:…)"),
                         validators=[DataRequired(), Length(max=254)])
    tier = SelectField(_l("Tier"), validate_choice=False)
    until = DateField(_l("Through the day (empty: for good, invitation-only tiers only)"), validators=[Optional()])
    note = StringField(_l("Note"), validators=[Length(max=500)])


def reason_names() -> dict[str, str]:
    return {"upgrade": _("upgrade"), "downgrade": _("downgrade"), "pin": _("pinned by an admin"),
            "invitation": _("invitation"), "pin_ended": _("pin ended"), "removed_by_admin": _("removed by an admin"),
            "tier_removed": _("tier removed from the policy")}


def _form(catalog: dict, *, posted: bool) -> TierAssignForm:
    form = TierAssignForm() if posted else TierAssignForm(formdata=None)
    form.tier.choices = [(name, name + (" · " + _("invitation only") if spec.invitation_only else ""))
                         for name, spec in sorted(catalog.items(), key=lambda kv: kv[1].rank)]
    form.tier.choices.append(("", _("no tier (remove the pin)")))
    return form


def _page(form: TierAssignForm | None = None, status: int = 200):
    session = db.session()
    catalog = tiers.catalog(session, clock.now())
    return render_template("admin/programs/tiers.html", catalog=sorted(catalog.values(), key=lambda s: s.rank),
                           counts=overview.members_per_tier(session), pinned=overview.pinned(session),
                           changes=overview.recent_tier_changes(session), reasons=reason_names(),
                           form=form or _form(catalog, posted=False), can_assign=current_user.role == "admin"), status


@bp.get("/programs/tiers")
@login_required
def tiers_page():
    return _page()


@bp.get("/programs/tiers/<tier>")
@login_required
def tier_members(tier: str):
    page = max(request.args.get("page", 1, type=int), 1)
    rows, total = overview.members_in_tier(db.session(), tier, page=page, per_page=PER_PAGE)
    return render_template("admin/programs/tier_members.html", tier=tier, rows=rows, total=total, page=page,
                           per_page=PER_PAGE)


def end_of_day(day, tz) -> datetime:
    """The pin holds through ``day`` in the program's time zone: it ends at the next midnight there."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)


@bp.post("/programs/tiers/assign")
@role_required("admin")
def tier_assign():
    session = db.session()
    now = clock.now()
    form = _form(tiers.catalog(session, now), posted=True)
    if not form.validate():
        return _page(form, 422)
    member = members.resolve(session, form.member.data.strip())
    if member is None:
        form.member.errors.append(_("No member is known by %(ref)s.", ref=form.member.data.strip()))
        return _page(form, 422)
    until = end_of_day(form.until.data, policies.settings(session, now).tz) if form.until.data else None
    try:
        tiers.assign(session, member, form.tier.data, until=until, actor=f"admin:{current_user.email}",
                     note=form.note.data or "", now=now)
    except tiers.TierError as exc:
        session.rollback()
        (form.until if exc.code in ("invalid_until", "until_required") else form.tier).errors.append(
            _("Refused: %(reason)s", reason=str(exc)))
        return _page(form, 422)
    session.commit()
    flash(_("%(member)s is now in the tier %(tier)s.", member=member.loyalty_id, tier=form.tier.data)
          if form.tier.data else _("%(member)s has no tier now.", member=member.loyalty_id), "ok")
    return redirect(url_for("admin.tiers_page"))


@bp.get("/programs/missions")
@login_required
def missions_page():
    return render_template("admin/programs/missions.html", missions=overview.missions(db.session()))
