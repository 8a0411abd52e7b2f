"""Missions from 1C orders: the same path as API orders and SAP invoices (progress, reward, cancellation)."""
from __future__ import annotations

from decimal import Decimal

from engine import clock, ledger, members
from engine.engagement import missions
from tests.conftest import EPOCH
from tests.integration.onec.cml import order
from tests.integration.onec.test_onec_inbound import COFFEE, IVANOV, upload

COFFEE_POLICY = {"policy": "mission", "rules": [
    {"id": "coffee", "scope": "line",
     "conditions": {"all": [{"name": "sku", "operator": "equal_to", "value": "coffee-1"}]},
     "actions": [{"name": "progress_quantity", "params": {}}]}]}


def mission_state(app):
    from server.extensions import db
    with app.app_context():
        session = db.session()
        member = members.resolve(session, "onec:c-001")
        row = missions.overview(session, member, now=clock.now())[0]
        return row["progress"], row["state"], ledger.balance(session, member.account, clock.now()).available


def test_a_1c_order_completes_a_mission_and_its_cancellation_takes_the_reward_back(onec, app, publish):
    publish(COFFEE_POLICY)
    from server.extensions import db
    with app.app_context():
        session = db.session()
        missions.define(session, {"code": "coffee-2", "name": "Two coffees", "rule_id": "coffee",
                                  "metric": "quantity", "target": Decimal(2), "reward_points": Decimal(5),
                                  "period": "fixed", "enrolment": "auto", "starts_at": EPOCH, "ends_at": None},
                        now=clock.now())
        session.commit()
    upload(onec, order("ord-1", IVANOV, [COFFEE], version="1", shipped=True))
    assert mission_state(app) == (Decimal(2), "completed", Decimal(255))  # 250 accrued + 5 reward
    upload(onec, order("ord-1", IVANOV, [COFFEE], version="2", shipped=True, cancelled=True), name="cancel.xml")
    assert mission_state(app) == (Decimal(0), "in_progress", Decimal(0))
