"""The 1C "exchange with site" endpoint: /exchange/1c?type=sale|catalog&mode=….

checkauth (HTTP Basic: login = integration name, password = its API key) →
init → file (chunks appended) → import (a job; ``progress`` until it is done)
→ query (what 1C has not confirmed) → success (only now is it delivered).
Every answer is text/plain; any error becomes ``failure`` and a reason.
"""
from __future__ import annotations

import logging

from flask import Blueprint, Flask, Response, request
from werkzeug.exceptions import HTTPException

from engine import clock
from engine.models import ExchangeSession, ImportRun
from exporters import onec_outbound
from importers.onec.uploads import UnsafeName, safe_basename
from server.auth import authenticate
from server.extensions import db
from server.onec import commands, protocol, store, tasks
from server.onec.protocol import COOKIE, failure, text

log = logging.getLogger(__name__)
blp = Blueprint("onec", __name__)
TYPES = ("sale", "catalog")
NO_OPS = ("deactivate", "complete")  # newer 1C catalog steps with nothing to do here


def register(app: Flask) -> None:
    """The protocol endpoint, its CLI commands and the exchange log API."""
    from server.extensions import api
    from server.onec import api as log_api
    protocol.load_config(app)
    app.register_blueprint(blp)
    app.cli.add_command(commands.onec_group)
    api.register_blueprint(log_api.blp)


@blp.errorhandler(Exception)
def _any_error(exc: Exception):
    session = db.session()
    session.rollback()
    if isinstance(exc, HTTPException):
        reason = exc.description or exc.name
    else:
        log.exception("1C exchange: %s %s", request.method, request.full_path)
        reason = ("The server failed while handling this step; the error was logged. "
                  "Try the exchange again later.")
    try:  # best effort: the session's log shows the failed step too
        row = store.find_session(session, request.cookies.get(COOKIE))
        if row is not None:
            store.log_error(row, request.args.get("mode") or "", reason, clock.now())
            session.commit()
    except Exception:  # the database itself may be what failed
        session.rollback()
    return failure(reason)


@blp.route("/exchange/1c", methods=["GET", "POST"], strict_slashes=False)
def exchange() -> Response:
    kind = (request.args.get("type") or "").strip().lower()
    mode = (request.args.get("mode") or "").strip().lower()
    if kind not in TYPES:
        return failure(f"type={kind or '(missing)'} is not served here; use type=sale or "
                       "type=catalog.")
    if mode == "checkauth":
        return _checkauth(kind)
    handler = MODES.get(mode)
    if handler is None and mode not in NO_OPS:
        return failure(f"mode={mode or '(missing)'} is not known; expected checkauth, init, "
                       "file, import, query or success.")
    session = db.session()
    now = clock.now()
    row = store.find_session(session, request.cookies.get(COOKIE))
    problem = _session_problem(row, kind, now)
    if problem:
        if row is not None:
            store.log_error(row, mode, problem, now)
            session.commit()
        return failure(problem)
    row.last_seen_at, row.last_mode = now, mode
    response = handler(row, now) if handler else text("success")
    if response.mimetype == "text/plain" and response.get_data().startswith(b"failure"):
        store.log_error(row, mode, response.get_data(as_text=True).split("\n")[1], now)
    session.commit()
    return response


def _session_problem(row: ExchangeSession | None, kind: str, now) -> str | None:
    if row is None:
        return "No exchange session: start with mode=checkauth and send its cookie."
    sessid = request.args.get("sessid")
    if sessid and sessid != row.sessid:
        return "The sessid does not belong to this session; start again with mode=checkauth."
    if store.is_expired(row, now):
        row.state = "expired"
        return "The exchange session has expired; start again with mode=checkauth."
    if row.exchange_type != kind:
        return f"This session was opened for type={row.exchange_type}, not type={kind}."
    return None


def _checkauth(kind: str) -> Response:
    creds = request.authorization
    if creds is None or creds.type != "basic":
        response = failure("Log in with the integration name and its key (HTTP Basic).", 401)
        response.headers["WWW-Authenticate"] = protocol.REALM
        return response
    session = db.session()
    key = authenticate(session, creds.password or "")
    if key is None or key.name != creds.username or "exchange:1c" not in key.scope_set:
        session.rollback()
        return failure("The login or password is wrong, or the key was revoked or may not "
                       "use the 1C exchange.")
    now = clock.now()
    row, cookie = store.open_session(session, key, kind, now=now,
                                     remote_addr=request.remote_addr or "",
                                     user_agent=request.user_agent.string or "")
    left = store.leftovers(session, key.name, now)
    for old in {f.session for f in left}:
        store.unpack_zips(session, old, protocol.config(), now)
    tasks.start(session, store.leftovers(session, key.name, now))  # commits
    response = text("success", COOKIE, cookie, f"sessid={row.sessid}",
                    f"timestamp={int(now.timestamp())}")
    response.set_cookie(COOKIE, cookie, httponly=True, samesite="Lax", path="/exchange")
    return response


def _init(row: ExchangeSession, now) -> Response:
    config = protocol.config()
    version = (request.args.get("version") or "").strip()
    row.zip = config.zip_allowed
    row.client_version = version[:16]
    answer_version = version if version[:2] in ("2.", "3.") else config.schema_version
    return text(f"zip={'yes' if row.zip else 'no'}", f"file_limit={config.file_limit}",
                f"sessid={row.sessid}", f"version={answer_version}")


def _file(row: ExchangeSession, now) -> Response:
    config = protocol.config()
    if request.method != "POST":
        return failure("Send the file's content with POST.")
    try:
        name = safe_basename(request.args.get("filename"))
    except UnsafeName as exc:
        return failure(str(exc))
    chunk = request.stream.read(config.file_limit + 1)
    if len(chunk) > config.file_limit:
        response = failure(f"A part of {name} is larger than file_limit={config.file_limit} "
                           "bytes; nothing was added.")
        response.headers["Connection"] = "close"  # the rest of the body is not read
        return response
    try:
        store.add_chunk(db.session(), row, name, chunk, config, now)
    except store.UploadRefused as exc:
        return failure(str(exc))
    return text("success")


def _status(files) -> Response:
    failed = [f for f in files if f.status == "failed"]
    if failed:
        return failure(f"{failed[0].name}: {failed[0].error or 'the import failed'}")
    busy = [f for f in files if f.status in ("queued", "running", "receiving")]
    if busy:
        file = busy[0]
        run = db.session().get(ImportRun, file.import_run_id) if file.import_run_id else None
        progress = (run.progress or {}) if run else {}
        done = f": {progress['done']} of {progress['total']} done" if progress.get("total") \
            else (": waiting for a worker" if file.status == "queued" else "")
        return text("progress", f"Importing {file.name}{done}.")
    counts: dict[str, int] = {}
    for file in files:
        for key, value in (file.counts or {}).items():
            counts[key] = counts.get(key, 0) + value
    summary = ", ".join(f"{k}={v}" for k, v in counts.items() if v and not k.endswith("_unchanged"))
    return text("success", summary) if summary else text("success")


def _import(row: ExchangeSession, now) -> Response:
    session = db.session()
    try:
        name = safe_basename(request.args.get("filename"))
    except UnsafeName as exc:
        return failure(str(exc))
    config = protocol.config()
    refused = store.unpack_zips(session, row, config, now)
    files = store.files_named(row, name)
    if not files:
        return failure(refused[0] if refused else f"The file {name} was not uploaded in this "
                                                   "session.")
    tasks.start(session, files)
    tasks.requeue_lost(session, files)
    for file in files:
        session.refresh(file)
    return _status(files)


def _query(row: ExchangeSession, now) -> Response:
    session = db.session()
    if row.exchange_type != "sale":
        return failure("mode=query is part of type=sale.")
    config = protocol.config()
    store.unpack_zips(session, row, config, now)
    tasks.start(session, store.pending(row))
    session.expire(row, ["files"])
    failed = [f for f in row.files if f.status == "failed"]
    if failed:
        return failure(f"{failed[0].name} could not be imported: {failed[0].error}. Nothing of "
                       "it was applied; see the exchange log.")
    prepared = onec_outbound.prepare(session, row.integration, config=config, now=now,
                                     session_id=row.id)
    return Response(prepared.body, content_type=prepared.content_type,
                    headers={"Cache-Control": "no-store"})


def _success(row: ExchangeSession, now) -> Response:
    session = db.session()
    if row.exchange_type == "sale":
        onec_outbound.confirm(session, row.integration, session_id=row.id, now=now)
    row.state, row.finished_at = "done", now
    return text("success")


MODES = {"init": _init, "file": _file, "import": _import, "query": _query, "success": _success}
