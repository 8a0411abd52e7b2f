"""The exchange log and the merges by phone: /api/v1/exchange/1c/… (JSON, or XML on request).

Sessions: every 1C exchange with its files (name, size, hash, import run),
counts, messages and errors, and what each `query` delivered. Visible to keys
with ``imports:read`` (admins, ERP) or ``exchange:1c`` (a 1C key sees only its
own sessions). Merges: listed for ``members:read``; undone by an admin key only.
"""
from __future__ import annotations

from flask import g
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import func, select

from engine import clock, members
from engine.members import merges
from engine.members.undo import undo_merge
from engine.models import DeliveryBatch, ExchangeFile, ExchangeSession, Member, MemberMerge, QuarantinedRow
from server.auth import current_key
from server.errors import ApiError
from server.extensions import db
from server.formats import xml_root
from server.idempotency import transactional

MAX_ID = 2**62  # ids are 64-bit (SQLite refuses larger numbers outright)
blp = Blueprint("exchange_1c", __name__, url_prefix="/api/v1/exchange/1c",
                description="1C exchange log and merges of members by phone")


class PageArgs(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))
    before = fields.Integer(validate=validate.Range(1, MAX_ID),
                            metadata={"description": "only items with a smaller id"})


class MergeArgs(PageArgs):
    member = fields.String(validate=validate.Length(1, 100),
                           metadata={"description": "a member reference (loyalty id, phone:…)"})
    state = fields.String(load_default="all", validate=validate.OneOf(["active", "undone", "all"]))


class FileOut(Schema):
    id = fields.Integer()
    name = fields.String()
    archive = fields.String(allow_none=True, metadata={"description": "the zip it came in"})
    size = fields.Integer()
    sha256 = fields.String()
    status = fields.String()
    import_run_id = fields.Integer(allow_none=True)
    counts = fields.Dict(keys=fields.String(), values=fields.Integer(), allow_none=True)
    quarantined = fields.Integer()
    messages = fields.List(fields.Dict(keys=fields.String(), values=fields.String()))
    error = fields.String(allow_none=True)
    created_at = fields.AwareDateTime()
    finished_at = fields.AwareDateTime(allow_none=True)


class DeliveryOut(Schema):
    id = fields.Integer()
    status = fields.String()
    operations = fields.Integer()
    profiles = fields.Integer()
    not_echoed = fields.Integer(metadata={"description": "write-offs made in 1C, not sent back"})
    size = fields.Integer()
    created_at = fields.AwareDateTime()
    confirmed_at = fields.AwareDateTime(allow_none=True)


class SessionOut(Schema):
    id = fields.Integer()
    integration = fields.String()
    type = fields.String()
    state = fields.String()
    last_mode = fields.String()
    started_at = fields.AwareDateTime()
    last_seen_at = fields.AwareDateTime()
    finished_at = fields.AwareDateTime(allow_none=True)
    counts = fields.Dict(keys=fields.String(), values=fields.Integer())
    file_count = fields.Integer()
    error_count = fields.Integer()


class SessionDetailOut(SessionOut):
    remote_addr = fields.String()
    user_agent = fields.String()
    client_version = fields.String()
    errors = fields.List(fields.Dict(keys=fields.String(), values=fields.String()))
    files = fields.List(fields.Nested(FileOut))
    deliveries = fields.List(fields.Nested(DeliveryOut))


class SessionPage(Schema):
    sessions = fields.List(fields.Nested(SessionOut))
    next_before = fields.Integer(allow_none=True)


class MergeOut(Schema):
    id = fields.Integer()
    kind = fields.String(metadata={"description": "card (a 1C card linked) or members"})
    state = fields.String()
    target = fields.String(metadata={"description": "the member that remains"})
    source = fields.String(allow_none=True)
    card = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    reason = fields.String()
    actor = fields.String()
    import_run_id = fields.Integer(allow_none=True)
    created_at = fields.AwareDateTime()
    undone_at = fields.AwareDateTime(allow_none=True)
    undone_by = fields.String(allow_none=True)
    undo_details = fields.Dict(allow_none=True)


class MergePage(Schema):
    merges = fields.List(fields.Nested(MergeOut))
    next_before = fields.Integer(allow_none=True)


def _key(*scopes: str):
    key = current_key()
    if not set(scopes) & key.scope_set:
        raise ApiError(403, "forbidden", f"the key of {key.name!r} needs one of the scopes "
                                         f"{', '.join(scopes)}")
    g.api_key, g.actor = key, f"api:{key.name}"
    return key


def _sessions_query(key):
    stmt = select(ExchangeSession)
    return stmt.where(ExchangeSession.integration == key.name) if key.kind == "onec" else stmt


def _counts(files: list[ExchangeFile]) -> dict[str, int]:
    total: dict[str, int] = {}
    for file in files:
        if file.parent_id is None and file.counts and "xml_files" in file.counts:
            continue  # a zip: its entries carry the counts
        for key, value in (file.counts or {}).items():
            total[key] = total.get(key, 0) + int(value)
    return total


def _summary(row: ExchangeSession) -> dict:
    return {"id": row.id, "integration": row.integration, "type": row.exchange_type,
            "state": row.state, "last_mode": row.last_mode, "started_at": row.started_at,
            "last_seen_at": row.last_seen_at, "finished_at": row.finished_at,
            "counts": _counts(row.files), "file_count": len(row.files),
            "error_count": len(row.errors or [])}


def _detail(session, row: ExchangeSession) -> dict:
    names = {f.id: f.name for f in row.files}
    held = dict(session.execute(select(QuarantinedRow.import_run_id, func.count())
                                .where(QuarantinedRow.import_run_id.in_(
                                    {f.import_run_id for f in row.files if f.import_run_id}))
                                .group_by(QuarantinedRow.import_run_id)).all())
    batches = session.execute(select(DeliveryBatch).where(DeliveryBatch.session_id == row.id)
                              .order_by(DeliveryBatch.id)).scalars()
    return {**_summary(row), "remote_addr": row.remote_addr, "user_agent": row.user_agent,
            "client_version": row.client_version, "errors": row.errors or [],
            "files": [{"id": f.id, "name": f.name, "archive": names.get(f.parent_id),
                       "size": f.size, "sha256": f.sha256, "status": f.status,
                       "import_run_id": f.import_run_id, "counts": f.counts,
                       "quarantined": held.get(f.import_run_id, 0),
                       "messages": f.messages or [], "error": f.error,
                       "created_at": f.created_at, "finished_at": f.finished_at}
                      for f in row.files],
            "deliveries": [{"id": b.id, "status": b.status, "operations": b.operations,
                            "profiles": b.profiles, "not_echoed": len(b.skipped_ids or []),
                            "size": b.size, "created_at": b.created_at,
                            "confirmed_at": b.confirmed_at} for b in batches]}


@blp.route("/sessions", methods=["GET"])
@blp.arguments(PageArgs, location="query")
@blp.response(200, SessionPage)
def list_sessions(args):
    """Exchange sessions, newest first."""
    xml_root("exchange_sessions")
    key = _key("imports:read", "exchange:1c")
    stmt = _sessions_query(key)
    if args.get("before"):
        stmt = stmt.where(ExchangeSession.id < args["before"])
    rows = list(db.session().execute(stmt.order_by(ExchangeSession.id.desc())
                                     .limit(args["limit"] + 1)).scalars())
    more = len(rows) > args["limit"]
    rows = rows[:args["limit"]]
    return {"sessions": [_summary(r) for r in rows], "next_before": rows[-1].id if more else None}


@blp.route("/sessions/<int:session_id>", methods=["GET"])
@blp.response(200, SessionDetailOut)
def get_session(session_id):
    """One exchange session: files, counts, messages, errors and deliveries."""
    xml_root("exchange_session")
    key = _key("imports:read", "exchange:1c")
    session = db.session()
    row = session.execute(_sessions_query(key).where(ExchangeSession.id == session_id)
                          ).scalar_one_or_none() if session_id <= MAX_ID else None
    if row is None:
        raise ApiError(404, "not_found", f"there is no exchange session {session_id}")
    return _detail(session, row)


def merge_out(session, merge: MemberMerge) -> dict:
    ids = {merge.target_member_id, merge.source_member_id} - {None}
    loyalty = dict(session.execute(select(Member.id, Member.loyalty_id)
                                   .where(Member.id.in_(ids))).all())
    return {"id": merge.id, "kind": merge.kind,
            "state": "undone" if merge.undone_at else "active",
            "target": loyalty.get(merge.target_member_id),
            "source": loyalty.get(merge.source_member_id), "card": merge.card_id,
            "phone": merge.phone, "reason": merge.reason, "actor": merge.actor,
            "import_run_id": merge.import_run_id, "created_at": merge.created_at,
            "undone_at": merge.undone_at, "undone_by": merge.undone_by,
            "undo_details": merge.undo_details}


@blp.route("/merges", methods=["GET"])
@blp.arguments(MergeArgs, location="query")
@blp.response(200, MergePage)
def list_merges(args):
    """Merges by phone, newest first (filter by member and state)."""
    xml_root("merges")
    _key("members:read")
    session = db.session()
    stmt = select(MemberMerge)
    if args.get("member"):
        member = members.get(session, args["member"])
        stmt = stmt.where((MemberMerge.target_member_id == member.id)
                          | (MemberMerge.source_member_id == member.id))
    if args["state"] != "all":
        stmt = stmt.where(MemberMerge.undone_at.is_(None) if args["state"] == "active"
                          else MemberMerge.undone_at.is_not(None))
    if args.get("before"):
        stmt = stmt.where(MemberMerge.id < args["before"])
    rows = list(session.execute(stmt.order_by(MemberMerge.id.desc()).limit(args["limit"] + 1))
                .scalars())
    more = len(rows) > args["limit"]
    rows = rows[:args["limit"]]
    return {"merges": [merge_out(session, m) for m in rows],
            "next_before": rows[-1].id if more else None}


@blp.route("/merges/<int:merge_id>/undo", methods=["POST"])
@blp.response(200, MergeOut)
@transactional
def undo(merge_id):
    """Undo a merge (admin keys only): the card or member stands alone again, and the
    points move back by transfer entries (README, "Merges by phone")."""
    xml_root("merge")
    key = _key("members:write")
    if key.kind != "admin":
        raise ApiError(403, "forbidden", "only an admin key may undo a merge")
    session = db.session()
    if merge_id > MAX_ID:
        raise ApiError(404, "unknown_merge", f"there is no merge {merge_id}")
    try:
        merge = undo_merge(session, merge_id, actor=g.actor, now=clock.now())
    except merges.UnknownMerge as exc:
        raise ApiError(404, exc.code, str(exc)) from None
    except merges.MergeError as exc:
        raise ApiError(409, exc.code, str(exc)) from None
    return merge_out(session, merge)
