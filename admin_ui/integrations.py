"""Integrations (admins only): API keys (created — the key shown once —, scopes, revoked), the 1C
logins and exchange log, the FTP/SFTP sources and the last file each poll fetched."""
from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from admin_ui import bp
from admin_ui.auth import role_required
from admin_ui.forms import ApiKeyForm, ConfirmForm
from engine import integrations
from importers.transports import polling
from server import auth
from server.extensions import db


def _key_form(*, posted: bool) -> ApiKeyForm:
    form = ApiKeyForm() if posted else ApiKeyForm(formdata=None)
    form.kind.choices = [(kind, kind) for kind in auth.KIND_SCOPES]
    form.scopes.choices = [(scope, f"{scope} — {text}") for scope, text in auth.SCOPES.items()]
    return form


def _sources():
    try:
        return polling.configured(current_app.config.get("IMPORT_SOURCES")), None
    except ValueError as exc:  # a broken IMPORT_SOURCES is shown, not a crash
        return [], str(exc)


def _page(form: ApiKeyForm | None = None, created: tuple | None = None, status: int = 200):
    session = db.session()
    sources, sources_error = _sources()
    keys = integrations.api_keys(session)
    return render_template(
        "admin/integrations.html", keys=keys, onec_keys=[k for k in keys if "exchange:1c" in k.scope_set],
        form=form or _key_form(posted=False), created=created, confirm_form=ConfirmForm(formdata=None),
        exchanges=integrations.exchange_log(session), sources=sources, sources_error=sources_error,
        last_runs=integrations.last_runs_by_source(session, [s.name for s in sources]),
        kind_scopes=auth.KIND_SCOPES), status


@bp.get("/integrations")
@role_required("admin")
def integrations_page():
    return _page()


@bp.post("/integrations/keys")
@role_required("admin")
def integration_key_create():
    form = _key_form(posted=True)
    if not form.validate():
        return _page(form, status=422)
    session = db.session()
    try:
        row, plain = auth.create_key(session, form.name.data.strip(), form.kind.data, form.scopes.data or None)
    except auth.KeyError_ as exc:
        form.name.errors.append(str(exc))
        return _page(form, status=422)
    session.commit()
    # Shown on this answer only (never stored, never put in the session cookie by a flash).
    return _page(created=(row.name, plain), status=201)


@bp.post("/integrations/keys/<int:key_id>/revoke")
@role_required("admin")
def integration_key_revoke(key_id: int):
    if not ConfirmForm().validate():
        abort(400)
    session = db.session()
    try:
        row = auth.revoke_key(session, key_id)
    except auth.KeyError_:
        abort(404)
    session.commit()
    flash(_("The key %(name)s is revoked: requests with it are refused from now on.", name=row.name), "ok")
    return redirect(url_for("admin.integrations_page"))
