"""Policies: rule documents and settings for integrators and the admin UI."""
from __future__ import annotations

from flask import g
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select

import rules
from engine import clock, policies, simulations
from server.api.bounds import Instant, Text, Version
from server.auth import require
from server.extensions import db
from server.formats import xml_root
from server.idempotency import transactional

blp = Blueprint("policies", __name__, url_prefix="/api/v1/policies",
                description="Versioned rule documents and program settings")


class VersionOut(Schema):
    policy = fields.String()
    version = fields.Integer()
    status = fields.String()
    effective_from = fields.DateTime(allow_none=True)
    author = fields.String()
    comment = fields.String()
    created_at = fields.DateTime()
    published_at = fields.DateTime(allow_none=True)
    published_by = fields.String()
    document = fields.Dict()


class PolicyOut(Schema):
    policy = fields.String()
    published = fields.Nested(VersionOut, allow_none=True)
    draft = fields.Nested(VersionOut, allow_none=True)


class PutIn(Schema):
    document = fields.Dict(required=True)
    comment = Text(500, load_default="")


class PublishIn(Schema):
    version = Version()
    effective_from = Instant()
    comment = Text(500, load_default="")


class SimulateIn(Schema):
    document = fields.Dict(metadata={"description": "a draft to cost; default: the latest draft"})
    version = Version()
    since = Instant()
    until = Instant()
    limit = fields.Integer(load_default=10000, validate=validate.Range(1, 200000))


def _version(row):
    if row is None:
        return None
    return {c: getattr(row, c) for c in ("policy", "version", "status", "effective_from", "author",
                                          "comment", "created_at", "published_at",
                                          "published_by", "document")}


@blp.route("/vocabulary", methods=["GET"])
@require("policies:read")
def vocabulary():
    """Every variable, operator, action and parameter each policy may use."""
    xml_root("vocabulary")
    return rules.export_vocabulary()


@blp.route("/<policy>", methods=["GET"])
@require("policies:read")
@blp.response(200, PolicyOut)
def get_policy(policy):
    """The published version in force now, and the newest draft if any."""
    xml_root("policy")
    session = db.session()
    policies.check_name(policy)
    draft = session.execute(select(policies.PolicyVersion).where(
        policies.PolicyVersion.policy == policy, policies.PolicyVersion.status == "draft")
        .order_by(policies.PolicyVersion.version.desc()).limit(1)).scalar_one_or_none()
    return {"policy": policy, "published": _version(policies.active_version(session, policy)),
            "draft": _version(draft)}


@blp.route("/<policy>", methods=["PUT"])
@require("policies:write")
@transactional
@blp.arguments(PutIn)
@blp.response(200, VersionOut)
def put_policy(data, policy):
    """Save a new draft version. It is validated first; an invalid document is
    never stored, and the answer lists every problem."""
    xml_root("version")
    session = db.session()
    return _version(policies.save_draft(session, policy, data["document"], author=g.actor,
                                        comment=data["comment"]))


@blp.route("/<policy>/publish", methods=["POST"])
@require("policies:write")
@transactional
@blp.arguments(PublishIn)
@blp.response(200, VersionOut)
def publish(data, policy):
    """Publish the newest draft (or a given version), effective now or from a time."""
    xml_root("version")
    session = db.session()
    return _version(policies.publish(session, policy, by=g.actor, version=data.get("version"),
                                     effective_from=data.get("effective_from"),
                                     comment=data["comment"]))


@blp.route("/<policy>/versions", methods=["GET"])
@require("policies:read")
@blp.response(200, VersionOut(many=True))
def versions(policy):
    """Every version, newest first, kept for audit."""
    xml_root("versions")
    return [_version(v) for v in policies.versions(db.session(), policy)]


@blp.route("/<policy>/simulate", methods=["POST"])
@require("policies:write")
@blp.arguments(SimulateIn)
def simulate(data, policy):
    """Cost a draft on past documents, side by side with the published version."""
    xml_root("simulation")
    return simulations.simulate(db.session(), policy, document=data.get("document"), version=data.get("version"),
                                since=data.get("since"), until=data.get("until"), limit=data["limit"],
                                now=clock.now())
