"""A member's page: redemptions, 1C merges with their undo (admins only, through the merge service),
the company and its employees."""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from engine import clock, ledger, members
from engine.documents import redemptions
from engine.members import adjustments, merges
from engine.models import MemberMerge
from server.extensions import db


def _setup(app):
    with app.app_context():
        session = db.session()
        now = clock.now()
        company = members.create_company(session, "Hydro-Mont", erp_code="F1")
        boss = members.create(session, {"name": "Szef Firmy", "phone": "+48 601 000 001"}, company=company)
        members.create(session, {"name": "Monter Jan", "phone": "+48 601 000 002"}, company=company)
        target = members.create(session, {"name": "Ewa Mazur", "phone": "+48 601 000 003"})
        loose = members.create(session, {"name": "Ewa M. (old card)"})
        adjustments.adjust(session, loose, Decimal(70), reason="old card", actor="test", key="t:1", now=now)
        adjustments.adjust(session, target, Decimal(100), reason="gift", actor="test", key="t:2", now=now)
        redemptions.redeem(session, redemptions.RedemptionRequest(
            source="shop", external_id="R-77", member_ref=target.loyalty_id, points=Decimal(30),
            order_external_id="ORD-77"), actor="test", now=now)
        merge = merges.merge_members(session, loose, target, actor="test", now=now, reason="same phone in 1C")
        session.commit()
        return boss.loyalty_id, target.loyalty_id, loose.loyalty_id, merge.id


def test_redemptions_merges_and_their_undo_and_the_company(app, as_role):
    boss, target, loose, merge_id = _setup(app)
    browser = as_role("marketer")
    page = browser.get(f"/admin/members/{target}").text
    assert 'id="redemptions"' in page and "ORD-77" in page
    assert "Spent on order ORD-77." in page  # the ledger says which order the points paid for
    assert 'id="merges"' in page and loose in page and "same phone in 1C" in page
    assert "Undo the merge" not in page  # an admin's decision
    undo_url = f"/admin/members/{target}/merges/{merge_id}/undo"
    assert browser.post(undo_url).status_code == 403

    company = browser.get(f"/admin/members/{boss}").text
    assert 'id="employees"' in company and "Monter Jan" in company and "Hydro-Mont" in company

    admin = as_role("admin")
    page = admin.get(f"/admin/members/{target}").text
    assert "Undo the merge" in page
    assert admin.client.post(undo_url, data={}).status_code == 400  # no CSRF token: refused
    assert admin.post(f"/admin/members/{boss}/merges/{merge_id}/undo").status_code == 404  # not this member's
    with app.app_context():
        assert db.session().get(MemberMerge, merge_id).undone_at is None
    response = admin.post(undo_url, follow_redirects=True)
    assert response.status_code == 200 and f"Merge {merge_id} is undone." in response.text
    with app.app_context():
        session = db.session()
        assert session.execute(select(MemberMerge.undone_by)).scalar_one() == "admin:admin@example.com"
        back = members.get(session, loose)
        assert back.merged_into_id is None
        assert ledger.balance(session, back.account, clock.now()).available == Decimal(70)
    again = admin.post(undo_url, follow_redirects=True)
    assert "The merge cannot be undone" in again.text
