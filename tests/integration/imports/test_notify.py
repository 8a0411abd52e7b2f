"""An import run's credits are announced once per member when the run ends (the sum), not once per invoice."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from engine import clock, outbox
from engine.models import Member, OutboxMessage, OutboxRunCredit
from tests.integration.imports import samples

D = samples.day(5)
# C001 buys three times (in three chunks of two lines), C002 once: 3 + 5 + 7 = 15 and 20 points.
ROWS = [f"11;2011;{D};C001;PLN;0;A-1;A;120;1;30,00;30,00", f"12;2012;{D};C001;PLN;0;A-1;A;120;1;50,00;50,00",
        f"13;2013;{D};C002;PLN;0;A-1;A;120;1;200,00;200,00", f"14;2014;{D};C001;PLN;0;A-1;A;120;1;70,00;70,00"]


@pytest.fixture
def customers(importer, tmp_path):
    path = samples.write(tmp_path / "OCRD.csv", samples.CUSTOMERS_HEADER, samples.CUSTOMER_ROWS)
    assert importer(path, "customers").status == "done"
    with importer.session() as session:
        for member in session.execute(select(Member).where(Member.erp_code.in_(("C001", "C002")))).scalars():
            member.consent_sms = True
        outbox.create_subscription(session, name="crm", url="https://crm.example.com/hook",
                                   event_types=["points.credited", "import.finished"], now=clock.now())
        session.commit()


@pytest.mark.parametrize("use_bulk", [True, False], ids=["set-based", "per-document"])
def test_one_message_per_member_per_run_with_the_runs_sum(importer, customers, tmp_path, use_bulk):
    path = samples.write(tmp_path / "OINV.csv", samples.INVOICES_HEADER, ROWS)
    run = importer(path, "invoices", chunk_lines=2, use_bulk=use_bulk)
    assert run.status == "done" and run.applied == 4, run.error
    with importer.session() as session:
        sms = session.execute(select(OutboxMessage).where(OutboxMessage.channel == "sms")
                              .order_by(OutboxMessage.id)).scalars().all()
        assert [(m.recipient, m.variables["amount"], m.variables["balance"]) for m in sms] == [
            ("+48601234567", "15", "15"), ("+48221234567", "20", "20")]
        assert all(m.cause_key.startswith(f"import:{run.id}:member:") for m in sms)
        hooks = session.execute(select(OutboxMessage.trigger, func.count()).where(
            OutboxMessage.channel == "webhook").group_by(OutboxMessage.trigger)).all()
        assert sorted(hooks) == [("import.finished", 1), ("points.credited", 2)]
        assert session.execute(select(func.count(OutboxRunCredit.id))).scalar_one() == 0  # announced, cleared
        assert outbox.announce_run(session, run.id, clock.now())["messages"] == 0  # and only once
