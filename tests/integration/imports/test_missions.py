"""Missions from SAP invoices (the set-based path and the per-document path alike) and a credit note that
takes the progress below the target after the reward: the reward is reversed."""
from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from engine import accrual, clock
from engine.engagement import missions
from engine.ledger.check import check
from engine.models import Document, LedgerEntry, Member
from engine.models.base import tidy
from tests.conftest import EPOCH
from tests.integration.imports import samples
from tests.integration.imports.test_credit_notes import CREDIT_HEADER, credit
from tests.integration.test_missions import MISSION_POLICY

# C001: invoice 1 has 200,00 of tools (130) and 30,00 of pipes (120, 3 points); invoice 2 150,00 of tools.
# C002: 100,00 of tools. Tools are mission purchases: they earn no ordinary points.
INVOICES = [
    f"1;1001;{samples.day(9)};C001;PLN;0;T1;Wiertarka;130;1;200,00;200,00",
    f"1;1001;{samples.day(9)};C001;PLN;1;P1;Rura;120;3;10,00;30,00",
    f"2;1002;{samples.day(8)};C001;PLN;0;T2;Szlifierka;130;1;150,00;150,00",
    f"3;1003;{samples.day(8)};C002;PLN;0;T1;Wiertarka;130;1;100,00;100,00",
]


def state(importer, erp_code: str) -> tuple[str, str]:
    with importer.session() as session:
        member = session.execute(select(Member).where(Member.erp_code == erp_code)).scalar_one()
        row = missions.overview(session, member, now=clock.now())[0]
        return str(tidy(row["progress"])), row["state"]


@pytest.mark.parametrize("use_bulk", [True, False], ids=["set-based", "per-document"])
def test_sap_invoices_progress_reward_once_and_a_credit_note_reverses_it(importer, publish, tmp_path, use_bulk):
    publish(MISSION_POLICY)
    with importer.session() as session:
        missions.define(session, {"code": "tools-300", "name": "300 PLN of tools", "rule_id": "tools",
                                  "metric": "amount", "target": Decimal(300), "reward_points": Decimal(50),
                                  "period": "fixed", "enrolment": "auto", "starts_at": EPOCH, "ends_at": None},
                        now=clock.now())
        session.commit()
    importer(samples.write(tmp_path / "OCRD.csv", samples.CUSTOMERS_HEADER, samples.CUSTOMER_ROWS), "customers")
    run = importer(samples.write(tmp_path / "INV.csv", samples.INVOICES_HEADER, INVOICES), "invoices",
                   use_bulk=use_bulk)
    assert run.status == "done"
    assert state(importer, "C001") == ("350", "completed") and state(importer, "C002") == ("100", "in_progress")
    assert (importer.balance("C001"), importer.balance("C002")) == (Decimal(53), Decimal(0))  # 3 + 50; 0

    # Importing the same file again changes nothing: the reward was given once.
    importer(samples.write(tmp_path / "INV2.csv", samples.INVOICES_HEADER, INVOICES), "invoices",
             use_bulk=use_bulk)
    assert importer.balance("C001") == Decimal(53)
    with importer.session() as session:  # the explanation rebuilt on demand leaves the tools out too
        invoice = session.execute(select(Document).where(Document.external_id == "13:1")).scalar_one()
        assert Decimal(accrual.explain(session, invoice)["points"]) == 3

    # A credit note returns 100,00 of tools from invoice 1: 250 < 300, the reward goes back.
    note = [credit(1, "C001", 0, "T1", "130", "0,5", "100,00", 1, 0)]
    importer(samples.write(tmp_path / "ORIN.csv", CREDIT_HEADER, note), "credit_notes")
    assert state(importer, "C001") == ("250", "in_progress")
    assert importer.balance("C001") == Decimal(3)
    with importer.session() as session:
        kinds = [(e.kind, e.amount) for e in session.execute(
            select(LedgerEntry).where(LedgerEntry.kind.in_(("mission_reward", "reversal")))
            .order_by(LedgerEntry.id)).scalars()]
        assert kinds == [("mission_reward", Decimal(50)), ("reversal", Decimal(-50))]
        assert check(session) == []
