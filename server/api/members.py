"""Members: enrolment, profile, balance, history, manual adjustments."""
from __future__ import annotations

import hashlib
from decimal import Decimal

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select

from engine import clock, members
from engine.engagement import events, referrals
from engine.members import adjustments
from engine.models import Company, LedgerEntry, Member
from server.api import present
from server.api.schemas import (
    AdjustmentIn,
    AdjustmentOut,
    BalanceOut,
    HistoryArgs,
    HistoryOut,
    MemberIn,
    MemberOut,
    MemberPatch,
)
from server.auth import require
from server.errors import ApiError
from server.extensions import db
from server.formats import xml_document, xml_root
from server.idempotency import idempotent, read_only, transactional

blp = Blueprint("members", __name__, url_prefix="/api/v1/members",
                description="Members, balances, history and adjustments")


def _member_natural_key(_kwargs, body):
    for field in ("ext_id", "erp_code", "phone"):
        if body.get(field):
            return f"member:{field}:{body[field]}"
    return None


@blp.route("")
class MemberCollection(MethodView):
    @xml_document("member")
    @require("members:write")
    @idempotent(_member_natural_key)
    @blp.arguments(MemberIn)
    @blp.response(201, MemberOut)
    def post(self, data):
        """Enrol a member (fires the registration event). With a referral code, the
        referral policy rewards both sides at the new member's first purchase."""
        session = db.session()
        now = clock.now()
        company = None
        if data.get("company_erp_code"):
            company = session.execute(select(Company).where(
                Company.erp_code == data["company_erp_code"])).scalar_one_or_none()
            if company is None:
                raise ApiError(422, "unknown_company",
                               f"no company has ERP code {data['company_erp_code']!r}")
        referrer = None
        if data.get("referral_code"):
            referrer = session.execute(select(Member).where(
                Member.referral_code == data["referral_code"])).scalar_one_or_none()
            if referrer is None:
                raise ApiError(422, "unknown_referral_code",
                               f"no member has the referral code {data['referral_code']!r}")
        member = members.create(session, data, now=now, company=company)
        if referrer is not None:
            try:
                referrals.check_not_self(member, referrer)
            except referrals.SelfReferral as exc:
                raise ApiError(422, "self_referral", str(exc),
                               {"fields": {"referral_code": [str(exc)]}}) from exc
            member.referred_by_id = referrer.id
        events.fire(session, member, "registration", key=f"event:registration:{member.loyalty_id}",
                    actor=g.actor, now=now)
        # The referral policy fires at the new member's first purchase (engine.accrual.document).
        return present.member_out(session, member)


@blp.route("/<ref>")
class MemberItem(MethodView):
    @require("members:read")
    @blp.response(200, MemberOut)
    def get(self, ref):
        """A member's profile."""
        xml_root("member")
        session = db.session()
        return present.member_out(session, members.get(session, ref))

    @require("members:write")
    @transactional
    @blp.arguments(MemberPatch(partial=True))
    @blp.response(200, MemberOut)
    def patch(self, data, ref):
        """Edit a member."""
        xml_root("member")
        session = db.session()
        member = members.update(session, members.get(session, ref), data)
        return present.member_out(session, member)


@blp.route("/<ref>/balance")
@read_only
@require("members:read")
@blp.response(200, BalanceOut)
def balance(ref):
    """Available and pending points, their value, what expires next, tier progress."""
    xml_root("balance")
    session = db.session()
    return present.member_balance_out(session, ref)


@blp.route("/<ref>/history")
@require("members:read")
@blp.arguments(HistoryArgs, location="query")
@blp.response(200, HistoryOut)
def history(args, ref):
    """Ledger entries, newest first, each with its explanation."""
    xml_root("history")
    session = db.session()
    member = members.get(session, ref)
    stmt = select(LedgerEntry).where(LedgerEntry.account_id == member.account_id)
    if args.get("before"):
        stmt = stmt.where(LedgerEntry.id < args["before"])
    rows = list(session.execute(stmt.order_by(LedgerEntry.id.desc())
                                .limit(args["limit"] + 1)).scalars())
    more = len(rows) > args["limit"]
    rows = rows[:args["limit"]]
    return {"member": member.loyalty_id,
            "entries": present.entries_out(session, rows, args["explain"]),
            "next_before": rows[-1].id if more else None}


def _adjustment_key(kwargs, body):
    if body.get("adjustment_id"):
        return f"adjustment:{kwargs.get('ref')}:{body['adjustment_id']}"
    return None


def _ledger_key(client: str, key: str) -> str:
    """The entry's idempotency key; a client key too long for the column (200) is
    hashed, which keeps it unique and the same on every retry."""
    full = f"adjustment:{client}:{key}"
    return full if len(full) <= 200 else \
        f"adjustment:{client}:sha256:{hashlib.sha256(key.encode()).hexdigest()}"


@blp.route("/<ref>/adjustments", methods=["POST"])
@xml_document("adjustment")
@require("adjustments:write")
@idempotent(_adjustment_key)
@blp.arguments(AdjustmentIn)
@blp.response(201, AdjustmentOut)
def adjust(data, ref):
    """A manual correction or apology bonus, with a reason [002][004]. Needs an
    ``adjustment_id`` or an ``Idempotency-Key`` header."""
    from flask import request
    key = data.get("adjustment_id") or request.headers.get("Idempotency-Key")
    if not key:
        raise ApiError(422, "validation_error",
                       "send an adjustment_id (or an Idempotency-Key header) so a retry "
                       "cannot apply the adjustment twice",
                       {"fields": {"adjustment_id": ["required"]}})
    session = db.session()
    member = members.get(session, ref)
    entry = adjustments.adjust(
        session, member, Decimal(data["points"]), reason=data["reason"], actor=g.actor,
        key=_ledger_key(g.api_key.name, key), now=clock.now(), kind=data["kind"],
        expire_after_days=data.get("expire_after_days"),
        allow_negative=data["allow_negative"])
    return {"entry": present.entries_out(session, [entry], True)[0],
            "balance": present.balance_out(session, member)}
