"""The reference checks' own queries probe the referred rows by key (PostgreSQL, migration 0023).

Their plans are read with auto_explain (log_nested_statements, sent to this client as NOTICEs), on a
database whose `documents`, `members` and `accounts` are a few rows: the statistics under which the
checks, as 0018 and 0020 left them, hashed whole tables.
"""
from __future__ import annotations

import re
from contextlib import contextmanager

import sqlalchemy as sa

from engine import ledger, members
from engine.models import Document, DocumentLine
from tests.conftest import T0, D

CHECKS = ("ledger_entry_refs", "ledger_allocation_refs", "document_line_refs", "lot_refs")


@contextmanager
def nested_plans(session):
    """The plans (text) of the statements run inside, and of the trigger queries they fire, as a list."""
    raw = session.connection().connection.driver_connection
    plans: list[str] = []

    def notice(diagnostic) -> None:
        if "plan:" in (diagnostic.message_primary or ""):
            plans.append(diagnostic.message_primary)

    session.execute(sa.text("LOAD 'auto_explain'"))
    for name, value in (("log_min_duration", "0"), ("log_nested_statements", "on"), ("log_level", "notice")):
        session.execute(sa.select(sa.func.set_config(f"auto_explain.{name}", value, True)))
    raw.add_notice_handler(notice)
    try:
        yield plans
    finally:
        raw.remove_notice_handler(notice)
        session.execute(sa.select(sa.func.set_config("auto_explain.log_min_duration", "-1", True)))


def _check_plans(plans: list[str], marker: str) -> list[str]:
    return [plan for plan in plans if marker in plan]


def _scans(plan: str) -> set[str]:
    """'Seq Scan on members', 'hashed SubPlan', … found in a plan."""
    return set(re.findall(r"Seq Scan on \w+|hashed SubPlan|Hash Anti Join|Hash Join|Merge", plan))


def test_the_checks_of_an_order_like_write_probe_keys_on_small_tables(pg_session):
    member = members.create(pg_session, {"name": "Probes"}, now=T0)
    document = Document(source="test", external_id="probes-1", document_type="invoice", member_id=member.id,
                        account_id=member.account_id, currency="PLN", placed_at=T0, status="fulfilled")
    pg_session.add(document)
    pg_session.flush()
    with nested_plans(pg_session) as plans:
        pg_session.add_all([DocumentLine(document_id=document.id, line_no=n, sku=f"SKU-{n}", quantity=D("1"),
                                         unit_price=D("2"), line_total=D("2")) for n in (1, 2)])
        pg_session.flush()
        account = ledger.lock_account(pg_session, member.account_id)
        ledger.credit(pg_session, account, kind="accrual", key="probes:1", actor="test", now=T0,
                      lots=[ledger.LotSpec(D("10"), T0, None)], member_id=member.id, document_id=document.id)
        ledger.debit(pg_session, account, kind="adjustment", amount=D("4"), key="probes:2", actor="test", now=T0)
        pg_session.flush()
    checked = {
        "entries": _check_plans(plans, "NOT EXISTS (SELECT 1 FROM policy_versions r"),
        "lines": _check_plans(plans, "FROM (SELECT DISTINCT document_id FROM changed) c"),
        "lots": _check_plans(plans, "NOT EXISTS (SELECT 1 FROM ledger_entries r WHERE r.id = c.entry_id"),
        "allocations": _check_plans(plans, "NOT EXISTS (SELECT 1 FROM lots l WHERE l.id = c.lot_id"),
    }
    assert all(checked.values()), {name: len(found) for name, found in checked.items()}
    for name, found in checked.items():
        for plan in found:
            assert _scans(plan) == set(), (name, plan)
            assert "Index" in plan, (name, plan)


def test_the_check_functions_carry_their_planner_settings(pg_session):
    settings = dict(pg_session.execute(sa.text(
        "SELECT proname, proconfig FROM pg_proc WHERE proname = ANY(:names)"), {"names": list(CHECKS)}).all())
    assert sorted(settings) == sorted(CHECKS)
    for name, config in settings.items():
        assert "enable_seqscan=off" in config, name
    # The allocations' check keeps 0019's settings.
    assert {"enable_hashjoin=off", "enable_mergejoin=off"} <= set(settings["ledger_allocation_refs"])
