"""Missions: defining them (admin), a member's missions with progress, and joining one."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from engine import clock, members
from engine.engagement import missions
from engine.models import Mission
from engine.models.base import tidy
from engine.models.missions import ENROLMENTS, METRICS, PERIODS
from server.api.bounds import Exact, Instant, Text, positive
from server.auth import require
from server.errors import ApiError
from server.extensions import db
from server.idempotency import transactional

blp = Blueprint("missions", __name__, url_prefix="/api/v1",
                description="Missions: targets over products or groups, progress and rewards")

Points = lambda **kw: fields.Decimal(as_string=True, allow_nan=False, **kw)  # noqa: E731 (as in schemas)


class MissionIn(Schema):
    code = Text(64, min_length=1, required=True)
    name = Text(required=True)
    rule_id = Text(64, min_length=1, required=True,
                   metadata={"description": "the mission-policy rule whose counts feed this mission"})
    metric = fields.String(required=True, validate=validate.OneOf(METRICS))
    target = Exact(required=True, validate=positive)
    reward_points = Exact(required=True, validate=positive)
    period = fields.String(load_default="fixed", validate=validate.OneOf(PERIODS))
    enrolment = fields.String(load_default="auto", validate=validate.OneOf(ENROLMENTS))
    starts_at = Instant(required=True)
    ends_at = Instant(load_default=None, allow_none=True)


class MissionOut(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    rule_id = fields.String()
    metric = fields.String()
    target = Points()
    reward_points = Points()
    period = fields.String()
    enrolment = fields.String()
    starts_at = fields.DateTime()
    ends_at = fields.DateTime(allow_none=True)


class PeriodOut(Schema):
    kind = fields.String()
    key = fields.String()
    starts_at = fields.DateTime()
    ends_at = fields.DateTime(allow_none=True)


class MemberMissionOut(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    metric = fields.String()
    target = Points()
    progress = Points()
    reward_points = Points()
    enrolment = fields.String()
    joined_at = fields.DateTime(allow_none=True)
    state = fields.String(metadata={"description": "not_joined, in_progress or completed"})
    period = fields.Nested(PeriodOut)


class MemberMissionsOut(Schema):
    member = fields.String()
    missions = fields.List(fields.Nested(MemberMissionOut))


def _tidy(row: dict) -> dict:
    return {k: tidy(v) if k in ("target", "progress", "reward_points") else v for k, v in row.items()}


def _mission_out(mission: Mission) -> dict:
    out = {c: getattr(mission, c) for c in MissionOut().fields}
    return _tidy(out)


@blp.route("/missions")
class MissionCollection(MethodView):
    @require("policies:read")
    @blp.response(200, MissionOut(many=True))
    def get(self):
        """Every mission defined."""
        session = db.session()
        return [_mission_out(m) for m in session.execute(select(Mission).order_by(Mission.id)).scalars()]

    @require("policies:write")
    @transactional
    @blp.arguments(MissionIn)
    @blp.response(201, MissionOut)
    def post(self, data):
        """Define a mission over what a rule of the mission policy in force counts."""
        try:
            mission = missions.define(db.session(), data, now=clock.now())
        except missions.MissionError as exc:
            raise ApiError(422, exc.code, str(exc)) from exc
        return _mission_out(mission)


@blp.route("/members/<ref>/missions", methods=["GET"])
@require("members:read")
@blp.response(200, MemberMissionsOut)
def member_missions(ref):
    """The missions running now: target, progress in the current period, reward and state."""
    session = db.session()
    member = members.get(session, ref)
    return {"member": member.loyalty_id,
            "missions": [_tidy(row) for row in missions.overview(session, member, now=clock.now())]}


@blp.route("/members/<ref>/missions/<int:mission_id>/join", methods=["POST"])
@require("members:write")
@transactional
@blp.response(200, MemberMissionOut)
def join(ref, mission_id):
    """Join a mission (idempotent); purchases from now on count toward it."""
    session = db.session()
    member = members.get(session, ref)
    mission = session.get(Mission, mission_id)
    if mission is None:
        raise ApiError(404, "unknown_mission", f"there is no mission {mission_id}")
    now = clock.now()
    try:
        missions.join(session, mission, member, now=now)
    except missions.MissionError as exc:
        raise ApiError(422, exc.code, str(exc)) from exc
    row = next((r for r in missions.overview(session, member, now=now) if r["id"] == mission.id), None)
    if row is None:
        raise ApiError(422, "mission_not_running", f"the mission {mission.code!r} has not started yet")
    return _tidy(row)
