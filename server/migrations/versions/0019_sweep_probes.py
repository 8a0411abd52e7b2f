"""The allocations' reference check grows with the rows a statement writes, not with the ledger.

Measured on `loyalty expire` over 1M lots (bench/bench_daily.py, EXPLAIN ANALYZE through auto_explain).
0018's check tested `NOT EXISTS (lot) OR NOT EXISTS (entry)`; an OR of two sublinks cannot be an
anti-join, so PostgreSQL hashed both subqueries: every statement read and hashed the whole of lots
and of ledger_entries (3 million rows for a 500,000-lot batch of expiry, 3–5 s; ten times that with
10 million entries). The check is now two anti-joins, each an index probe per written allocation.
Hash and merge joins are off for the function: the transition table has no statistics, and hashing
the referenced table is what it must not do.

Revision ID: 0019_sweep_probes
Revises: 0018_sweep_rows
"""
import importlib.util
from pathlib import Path

from alembic import op

revision = "0019_sweep_probes"
down_revision = "0018_sweep_rows"
branch_labels = None
depends_on = None

# 0018's test, and the two anti-joins that replace it (the second only when the first found nothing).
ONE_TEST = """    SELECT c.id, c.lot_id, c.entry_id INTO bad FROM changed c
    WHERE NOT EXISTS (SELECT 1 FROM lots l WHERE l.id = c.lot_id)
       OR NOT EXISTS (SELECT 1 FROM ledger_entries e WHERE e.id = c.entry_id)
    LIMIT 1;
"""
TWO_TESTS = """    SELECT c.id, c.lot_id, c.entry_id INTO bad FROM changed c
    WHERE NOT EXISTS (SELECT 1 FROM lots l WHERE l.id = c.lot_id) LIMIT 1;
    IF NOT FOUND THEN
        SELECT c.id, c.lot_id, c.entry_id INTO bad FROM changed c
        WHERE NOT EXISTS (SELECT 1 FROM ledger_entries e WHERE e.id = c.entry_id) LIMIT 1;
    END IF;
"""
# Index probes for the transition table, whose row count the planner does not know.
PROBES = "SET enable_hashjoin = off SET enable_mergejoin = off"


def _references(landed) -> str:
    """0018's ledger_allocation_refs with TWO_TESTS for ONE_TEST and PROBES, as a replacement."""
    start = landed.REFERENCES.index("CREATE FUNCTION ledger_allocation_refs()")
    end = landed.REFERENCES.index("CREATE FUNCTION", start + 1)
    function = landed.REFERENCES[start:end]
    if ONE_TEST not in function:
        raise RuntimeError("0018's ledger_allocation_refs is not as it landed")
    function = function.replace(ONE_TEST, TWO_TESTS).replace("LANGUAGE plpgsql AS", f"LANGUAGE plpgsql {PROBES} AS")
    return _replacing(function)


def _landed():
    """Migration 0018, whose definitions the downgrade restores."""
    path = Path(__file__).with_name("0018_sweep_rows.py")
    spec = importlib.util.spec_from_file_location("_sweep_rows_0018", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _replacing(ddl: str) -> str:
    return ddl.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(_references(_landed()))


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER FUNCTION ledger_allocation_refs() RESET ALL")
    op.execute(_replacing(_landed().REFERENCES))
