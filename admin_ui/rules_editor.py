"""Rules: each policy's versions, its draft as JSON with the server's validation messages, publishing."""
from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

import rules
from admin_ui import bp, vocabulary_labels
from admin_ui.auth import WRITERS, role_required
from admin_ui.forms import PolicyForm, PublishForm
from engine import clock, policies, reports, simulations
from server.extensions import db


def _check(policy: str) -> str:
    try:
        return policies.check_name(policy)
    except policies.UnknownPolicy:
        abort(404)


def _parse(text: str) -> tuple[dict | None, list[dict]]:
    """The document, or the messages saying why it is not JSON (with the line and column)."""
    try:
        document = json.loads(text, parse_float=Decimal)
    except ValueError as exc:
        return None, [{"path": _("line %(line)s, column %(col)s", line=getattr(exc, "lineno", "?"),
                                 col=getattr(exc, "colno", "?")),
                       "message": _("This is not valid JSON: %(error)s", error=getattr(exc, "msg", str(exc)))}]
    if not isinstance(document, dict):
        return None, [{"path": "", "message": _("The document must be a JSON object.")}]
    return document, []


def _messages(exc: rules.RuleValidationError) -> list[dict]:
    return [{"path": m.path, "message": m.message, "rule": m.rule_id} for m in exc.errors]


def _dump(document) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False, default=str)


@bp.get("/rules", endpoint="policies")
@login_required
def policies_list():
    session = db.session()
    rows = []
    for name in policies.POLICY_NAMES:
        latest = policies.latest(session, name)
        rows.append((name, policies.active_version(session, name), latest))
    return render_template("admin/rules/list.html", rows=rows)



def _page(policy: str, form: PolicyForm | None = None, messages=None, status: int = 200):
    session = db.session()
    versions = policies.versions(session, policy)
    latest = versions[0] if versions else None
    if form is None:
        form = PolicyForm(formdata=None, document=_dump(latest.document) if latest else _dump({"policy": policy}))
    draft = next((v for v in versions if v.status == "draft"), None)
    publish_form = PublishForm(formdata=None, version=draft.version if draft else None)
    return render_template("admin/rules/edit.html", policy=policy, versions=versions, form=form,
                           vocabulary=vocabulary_labels.translated(rules.export_vocabulary().get(policy)),
                           catalog=reports.catalog_choices(session), editor_texts=_editor_texts(),
                           messages=messages, draft=draft, publish_form=publish_form,
                           published=policies.active_version(session, policy),
                           can_write=current_user.role in WRITERS, can_publish=current_user.role == "admin"
                           ), status


def _editor_texts() -> dict:
    """The visual editor's words (static/rule_editor.js), in the reader's language."""
    return {
        "all": _("all of these hold"), "any": _("any of these holds"), "choose": _("— choose —"),
        "add_condition": _("Add a condition"), "add_group": _("Add a group"), "remove_group": _("Remove the group"),
        "remove": _("Remove"), "variable": _("Variable"), "operator": _("Operator"), "value": _("Value"),
        "action": _("Action"), "rule": _("Rule"), "id": _("Id"), "priority": _("Priority"), "scope": _("Scope"),
        "active_from": _("Active from"), "active_until": _("Active until"),
        "stop_processing": _("Stop: no later rule runs once this one matched"), "description": _("Description"),
        "conditions": _("Conditions"), "actions": _("Actions"), "always": _("Applies always."),
        "add_action": _("Add an action"), "move_up": _("Move up"), "move_down": _("Move down"),
        "remove_rule": _("Remove the rule"), "add_rule": _("Add a rule"),
        "not_a_rule_document": _("The JSON below is not a rule document with a list of rules; fix it there."),
    }


@bp.get("/rules/<policy>")
@login_required
def policy_edit(policy: str):
    return _page(_check(policy))


@bp.get("/rules/<policy>/diff")
@login_required
def policy_diff(policy: str):
    """Two versions rule by rule (default: the newest against the one before it)."""
    _check(policy)
    by_number = {v.version: v for v in policies.versions(db.session(), policy)}
    newest = max(by_number, default=0)
    new = by_number.get(request.args.get("to", newest, type=int))
    old = by_number.get(request.args.get("from", (new.version - 1) if new else 0, type=int))
    if new is None:
        abort(404)
    return render_template("admin/rules/diff.html", policy=policy, old=old, new=new,
                           versions=sorted(by_number), dump=_dump,
                           changes=reports.rule_diff(old.document if old else None, new.document))


@bp.post("/rules/<policy>/validate")
@role_required(*WRITERS)
def policy_validate(policy: str):
    """The server's messages for the document in the editor, without storing it (htmx partial)."""
    _check(policy)
    form = PolicyForm()
    document, messages = _parse(form.document.data or "")
    if document is not None:
        try:
            policies.validate(policy, document)
        except rules.RuleValidationError as exc:
            messages = _messages(exc)
    return render_template("admin/rules/_messages.html", messages=messages, checked=True)


@bp.post("/rules/<policy>")
@role_required(*WRITERS)
def policy_save(policy: str):
    _check(policy)
    form = PolicyForm()
    if not form.validate():
        return _page(policy, form, [{"path": "", "message": _("The document is empty.")}], 422)
    document, messages = _parse(form.document.data)
    if document is None:
        return _page(policy, form, messages, 422)
    session = db.session()
    try:
        row = policies.save_draft(session, policy, document, author=f"admin:{current_user.email}",
                                  comment=form.comment.data or "")
    except rules.RuleValidationError as exc:
        return _page(policy, form, _messages(exc), 422)
    session.commit()
    flash(_("%(policy)s v%(version)s saved as a draft.", policy=policy, version=row.version), "ok")
    return redirect(url_for("admin.policy_edit", policy=policy))


@bp.post("/rules/<policy>/publish")
@role_required("admin")
def policy_publish(policy: str):
    _check(policy)
    form = PublishForm()
    if not form.validate():
        flash(_("Choose a version and a valid date to publish."), "error")
        return redirect(url_for("admin.policy_edit", policy=policy))
    effective = form.effective_from.data
    if effective is not None:
        # The form's local time is the program's, the time its days are counted in.
        effective = effective.replace(tzinfo=policies.settings(db.session()).tz).astimezone(UTC)
    session = db.session()
    try:
        row = policies.publish(session, policy, by=f"admin:{current_user.email}", version=form.version.data,
                               effective_from=effective, comment=form.comment.data or "")
    except policies.NothingToPublish as exc:
        flash(str(exc), "error")
        return redirect(url_for("admin.policy_edit", policy=policy))
    except rules.RuleValidationError as exc:
        return _page(policy, None, _messages(exc), 422)
    session.commit()
    flash(_("%(policy)s v%(version)s is published.", policy=policy, version=row.version), "ok")
    return redirect(url_for("admin.policy_edit", policy=policy))


@bp.post("/rules/<policy>/simulate")
@role_required(*WRITERS)
def policy_simulate(policy: str):
    """The document in the editor costed on the real orders and invoices of a period, beside the version in
    force: totals, per rule and per product group (htmx partial)."""
    _check(policy)
    document, messages = _parse(PolicyForm().document.data or "")
    if document is None:
        return render_template("admin/rules/_messages.html", messages=messages, checked=True)
    session = db.session()
    tz = policies.settings(session).tz
    today = clock.now().astimezone(tz).date()
    since_day = _day(request.form.get("since")) or today - timedelta(days=30)
    until_day = _day(request.form.get("until")) or today
    since = datetime.combine(since_day, time(0), tz).astimezone(UTC)
    until = datetime.combine(until_day + timedelta(days=1), time(0), tz).astimezone(UTC)
    try:
        result = simulations.simulate(session, policy, document=document, since=since, until=until,
                                      limit=SIMULATION_LIMIT, now=clock.now())
    except rules.RuleValidationError as exc:
        return render_template("admin/rules/_messages.html", messages=_messages(exc), checked=True)
    except (simulations.NotSimulable, rules.EvaluationError) as exc:
        return render_template("admin/rules/_messages.html", messages=[{"path": "", "message": str(exc)}],
                               checked=True)
    breakdowns = [(_("Points per rule"), _breakdown(result, "by_rule")),
                  (_("Points per product group"), _breakdown(result, "by_product_group"))]
    return render_template("admin/rules/_simulation.html", result=result, since=since_day, until=until_day,
                           limit=SIMULATION_LIMIT, breakdowns=breakdowns)


def _breakdown(result: dict, key: str) -> list[tuple[str, str, str | None]]:
    """(name, draft points, points in force) per rule or product group, biggest draft cost first."""
    draft, published = result["draft"][key], (result.get("published") or {}).get(key)
    names = sorted(set(draft) | set(published or {}), key=lambda n: -Decimal(draft.get(n, "0")))
    return [(name, draft.get(name, "0"), None if published is None else published.get(name, "0")) for name in names]


SIMULATION_LIMIT = 20_000  # documents per simulation: enough for a month of a wholesaler, bounded for the page


def _day(text: str | None):
    try:
        return datetime.strptime(text, "%Y-%m-%d").date() if text else None
    except ValueError:
        return None
