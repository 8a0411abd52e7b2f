"""`filled`: a new object as its constructor makes it, without an attribute event per value (both backends)."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy import inspect

from engine import members
from engine.models import Document, DocumentLine
from engine.models.base import filled
from tests.conftest import T0, D


def _document(member) -> dict:
    return dict(source="test", external_id="filled-1", document_type="invoice", member_id=member.id,
                account_id=member.account_id, currency="PLN", placed_at=T0, status="fulfilled", created_at=T0)


def test_a_filled_object_is_transient_and_holds_what_the_constructor_would(session):
    member = members.create(session, {"name": "Filled"}, now=T0)
    values = _document(member)
    made, built = filled(Document, values), Document(**values)
    assert inspect(made).transient
    assert {name: getattr(made, name) for name in values} == {name: getattr(built, name) for name in values}
    assert made.lines == [] and made.id is None  # unset attributes read as the constructor leaves them


def test_the_unit_of_work_inserts_what_a_filled_object_holds_with_its_lines(session):
    member = members.create(session, {"name": "Filled"}, now=T0)
    document = filled(Document, _document(member))
    document.lines.extend(filled(DocumentLine, dict(line_no=n, sku=f"SKU-{n}", quantity=D("2"), unit_price=D("3"),
                                                    line_total=D("6"))) for n in (1, 2))
    session.add(document)
    session.flush()
    session.expire_all()
    stored = session.execute(sa.select(Document).where(Document.external_id == "filled-1")).scalar_one()
    assert (stored.member_id, stored.placed_at, stored.status) == (member.id, T0, "fulfilled")
    assert [(line.line_no, line.sku, line.line_total, line.name, line.is_promo) for line in stored.lines] == [
        (1, "SKU-1", D("6"), "", False), (2, "SKU-2", D("6"), "", False)]  # column defaults applied


@pytest.mark.parametrize("values", [{"no_such_column": 1}, {"lines": []}, {"fresh_member": None}])
def test_names_that_are_not_columns_are_refused(values):
    with pytest.raises(TypeError, match="not column attributes of Document"):
        filled(Document, values)
