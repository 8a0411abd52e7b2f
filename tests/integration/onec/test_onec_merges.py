"""Merging by phone: duplicate 1C cards become one member; merges are recorded and undoable,
and points only ever move by transfer entries."""
from __future__ import annotations

import requests
from click.testing import CliRunner
from sqlalchemy import select

from engine import clock, ledger, members
from engine.models import Document, LedgerEntry, Member, MemberCard, MemberMerge
from tests.conftest import auth
from tests.integration.onec.cml import card, commerce, item, order, profiles

COFFEE = item("coffee-1", "Кофе", "2", "1250.50")  # 250 points
CUP = item("cup-1", "Чашка", "1", "300")  # 30 points
CARD_1 = card("c-001", "Иванов Иван Иванович", "8 (912) 345-67-89", phone_type="Телефон рабочий")
CARD_2 = card("c-002", "Иванов И. И.", "+7 912 345 67 89")
CARD_3 = card("c-003", "ИВАНОВ ИВАН", "79123456789")


def balances(app) -> dict[str, object]:
    from server.extensions import db
    with app.app_context():
        session = db.session()
        out = {}
        for member in session.execute(select(Member).order_by(Member.id)).scalars():
            out[member.loyalty_id] = ledger.balance(session, member.account, clock.now()).available
        return out


def test_duplicate_cards_become_one_member_and_a_merge_can_be_undone(onec, app, keys, live):
    body = onec().exchange({"cards.xml": commerce(
        "<Контрагенты>" + CARD_1 + CARD_2 + CARD_3 + "</Контрагенты>" +
        order("ord-2", CARD_2, [CUP], shipped=True) + order("ord-1", CARD_1, [COFFEE],
                                                            shipped=True))})
    from server.extensions import db
    with app.app_context():
        session = db.session()
        people = list(session.execute(select(Member)).scalars())
        assert len(people) == 1 and people[0].phone == "+79123456789"
        assert sorted(session.execute(select(MemberCard.card_id)).scalars()) == \
            ["c-001", "c-002", "c-003"]
        main = people[0].loyalty_id
    # 1C learns the balance on each of its three cards.
    assert sorted((p["id"], p["balance"], p["loyalty_id"]) for p in profiles(body)) == \
        [("c-001", "280", main), ("c-002", "280", main), ("c-003", "280", main)]
    listed = requests.get(live + "/api/v1/exchange/1c/merges", headers=auth(keys["admin"])).json()
    merges = {m["card"]: m for m in listed["merges"]}
    assert set(merges) == {"c-002", "c-003"}
    assert merges["c-002"]["kind"] == "card" and merges["c-002"]["target"] == main
    assert merges["c-002"]["phone"] == "+79123456789" and merges["c-002"]["state"] == "active"
    # Only an admin may undo; the 1C key may not.
    url = f"{live}/api/v1/exchange/1c/merges/{merges['c-002']['id']}/undo"
    assert requests.post(url, headers=auth(keys["onec"])).status_code == 403
    undone = requests.post(url, headers=auth(keys["admin"]))
    assert undone.status_code == 200, undone.text
    details = undone.json()
    assert details["state"] == "undone" and details["undo_details"]["documents"] == ["ord-2"]
    separated = details["undo_details"]["member"]
    assert requests.post(url, headers=auth(keys["admin"])).status_code == 409
    # ord-2 was bought on card c-002: it and its 30 points moved with the card.
    assert balances(app) == {main: 250, separated: 30}
    with app.app_context():
        session = db.session()
        assert members.resolve(session, "onec:c-002").loyalty_id == separated
        # c-003's link wrote the name after c-002's did: undoing c-002 leaves it alone.
        assert members.resolve(session, "onec:c-001").name == "ИВАНОВ ИВАН"
        assert members.resolve(session, "onec:c-002").name == "Иванов И. И."
        moves = session.execute(select(LedgerEntry.amount).where(
            LedgerEntry.kind == "transfer").order_by(LedgerEntry.id)).scalars().all()
        assert moves == [-30, 30]
    # The next exchange with the same cards does not merge them again.
    onec().exchange({"again.xml": commerce("<Контрагенты>" + CARD_2 + "</Контрагенты>")})
    assert balances(app) == {main: 250, separated: 30}


def test_two_existing_members_with_one_phone_merge_by_transfer_and_undo(onec, app, keys, live):
    shop = requests.post(live + "/api/v1/members", headers=auth(keys["shop"]),
                         json={"name": "Иван (сайт)", "ext_id": "u-1",
                               "phone": "+7 912 345 67 89"})
    assert shop.status_code == 201, shop.text
    target = shop.json()["loyalty_id"]
    no_phone = card("c-001", "Иванов Иван")
    onec().exchange({"o.xml": commerce(order("ord-1", no_phone, [COFFEE], shipped=True))})
    source = [k for k in balances(app) if k != target][0]
    assert balances(app) == {target: 0, source: 250}
    # 1C now knows the card's phone: the same person as the shop's member.
    onec().exchange({"c.xml": commerce("<Контрагенты>" + CARD_1 + "</Контрагенты>")})
    assert balances(app) == {target: 250, source: 0}
    from server.extensions import db
    with app.app_context():
        session = db.session()
        merge = session.execute(select(MemberMerge)).scalar_one()
        assert merge.kind == "members" and merge.card_id == "c-001"
        kinds = session.execute(select(LedgerEntry.kind, LedgerEntry.amount)
                                .order_by(LedgerEntry.id)).all()
        assert kinds == [("accrual", 250), ("transfer", -250), ("transfer", 250)]
        assert members.resolve(session, "onec:c-001").loyalty_id == target
        merge_id = merge.id
    # A cancellation after the merge reverses on the account that now holds the points.
    onec().exchange({"x.xml": commerce(order("ord-1", CARD_1, [COFFEE], cancelled=True))})
    assert balances(app) == {target: 0, source: 0}
    # The CLI lists and undoes.
    runner = CliRunner()
    with app.app_context():
        listed = runner.invoke(app.cli, ["onec", "merges"], catch_exceptions=False)
        assert f'"id": {merge_id}' in listed.output
        result = runner.invoke(app.cli, ["onec", "undo-merge", str(merge_id)],
                               catch_exceptions=False)
        assert result.exit_code == 0, result.output
        again = runner.invoke(app.cli, ["onec", "undo-merge", str(merge_id)])
        assert again.exit_code != 0 and "already undone" in again.output
    # As if never merged: the source's order earned 250 and was cancelled (-250) — on the
    # target's account while merged, so the 250 that moved there stays to cover it.
    assert balances(app) == {target: 0, source: 0}
    with app.app_context():
        session = db.session()
        order_owner = session.execute(select(Member.loyalty_id).join(
            Document, Document.member_id == Member.id)).scalar_one()
        assert order_owner == source


def test_undo_of_a_member_merge_moves_the_points_back(onec, app, keys, live):
    shop = requests.post(live + "/api/v1/members", headers=auth(keys["shop"]),
                         json={"name": "Иван", "ext_id": "u-1", "phone": "+7 912 345 67 89"})
    target = shop.json()["loyalty_id"]
    onec().exchange({"o.xml": commerce(order("ord-1", card("c-001", "Иван"), [COFFEE],
                                             shipped=True))})
    onec().exchange({"c.xml": commerce("<Контрагенты>" + CARD_1 + "</Контрагенты>")})
    source = [k for k in balances(app) if k != target][0]
    # While merged, c-001 buys again: the order lands on the target.
    onec().exchange({"o2.xml": commerce(order("ord-2", CARD_1, [CUP], shipped=True))})
    assert balances(app) == {target: 280, source: 0}
    from server.extensions import db
    with app.app_context():
        merge_id = db.session().execute(select(MemberMerge.id)).scalar_one()
    response = requests.post(f"{live}/api/v1/exchange/1c/merges/{merge_id}/undo",
                             headers=auth(keys["admin"]))
    assert response.status_code == 200, response.text
    assert response.json()["undo_details"]["documents"] == ["ord-2"]
    assert balances(app) == {target: 0, source: 280}
    with app.app_context():
        moves = db.session().execute(select(LedgerEntry.amount).where(
            LedgerEntry.kind == "transfer").order_by(LedgerEntry.id)).scalars().all()
    assert moves == [-250, 250, -30, 30, -250, 250]


def test_undo_refused_without_negative_balances_when_points_were_spent(onec, app, keys, live,
                                                                      program):
    program(negative_balance_allowed=False)
    shop = requests.post(live + "/api/v1/members", headers=auth(keys["shop"]),
                         json={"name": "Иван", "ext_id": "u-1", "phone": "+7 912 345 67 89"})
    target = shop.json()["loyalty_id"]
    onec().exchange({"o.xml": commerce(order("ord-1", card("c-001", "Иван"), [COFFEE],
                                             shipped=True))})
    onec().exchange({"c.xml": commerce("<Контрагенты>" + CARD_1 + "</Контрагенты>")})
    spend = requests.post(live + "/api/v1/redemptions", headers=auth(keys["shop"]),
                          json={"redemption_id": "r-1", "member": target, "points": "200"})
    assert spend.status_code == 201, spend.text
    from server.extensions import db
    with app.app_context():
        merge_id = db.session().execute(select(MemberMerge.id)).scalar_one()
    response = requests.post(f"{live}/api/v1/exchange/1c/merges/{merge_id}/undo",
                             headers=auth(keys["admin"]))
    assert response.status_code == 409 and "negative balances" in response.json()["message"]
    assert sorted(balances(app).values()) == [0, 50]  # nothing moved
