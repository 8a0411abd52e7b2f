"""Company accounts [003]: several members (employees) earn into and spend from one account."""
from __future__ import annotations

from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from engine import members
from engine.models import Company, Member
from server.api import present
from server.auth import require
from server.errors import ApiError
from server.extensions import db
from server.formats import xml_document, xml_root
from server.idempotency import idempotent

blp = Blueprint("companies", __name__, url_prefix="/api/v1/companies",
                description="Company accounts shared by their employees")


class CompanyIn(Schema):
    name = fields.String(required=True, validate=validate.Length(1, 200))
    erp_code = fields.String(required=True, validate=validate.Length(1, 64))
    tax_id = fields.String(load_default="", validate=validate.Length(0, 32))


class CompanyOut(Schema):
    name = fields.String()
    erp_code = fields.String()
    tax_id = fields.String()
    members = fields.List(fields.String())
    balance = fields.Dict()


def _out(session, company: Company) -> dict:
    employees = list(session.execute(select(Member).where(Member.company_id == company.id)
                                     .order_by(Member.id)).scalars())
    balance = present.balance_out(session, employees[0]) if employees else None
    return {"name": company.name, "erp_code": company.erp_code, "tax_id": company.tax_id,
            "members": [m.loyalty_id for m in employees],
            "balance": {k: balance[k] for k in ("available", "pending", "value")} if balance else None}


@blp.route("", methods=["POST"])
@xml_document("company")
@require("members:write")
@idempotent(lambda _kw, body: f"company:{body.get('erp_code')}" if body.get("erp_code") else None)
@blp.arguments(CompanyIn)
@blp.response(201, CompanyOut)
def create_company(data):
    """Create a company account; members join it with ``company_erp_code`` on enrolment."""
    session = db.session()
    if session.execute(select(Company.id).where(Company.erp_code == data["erp_code"])).first():
        raise ApiError(409, "duplicate_company", f"a company with ERP code {data['erp_code']!r} exists")
    company = members.create_company(session, data["name"], erp_code=data["erp_code"],
                                     tax_id=data["tax_id"])
    return _out(session, company)


@blp.route("/<erp_code>", methods=["GET"])
@require("members:read")
@blp.response(200, CompanyOut)
def get_company(erp_code):
    xml_root("company")
    session = db.session()
    company = session.execute(select(Company).where(Company.erp_code == erp_code)).scalar_one_or_none()
    if company is None:
        raise ApiError(404, "unknown_company", f"no company has ERP code {erp_code!r}")
    return _out(session, company)
