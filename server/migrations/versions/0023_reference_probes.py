"""The reference checks probe the referred rows' keys, whatever the statistics said when they were planned.

The statement triggers of 0018 and 0020 check the references of the rows a statement wrote (an entry's
account, member, document…, a line's document, a lot's account and entry, an allocation's lot and
entry) in one query over the statement's transition table. PL/pgSQL plans that query at its first call
on a connection and keeps the plan for the connection's life. Planned while the referred tables were
small (a new installation: `documents` of one page) or for a large statement (an import chunk of
thousands of rows), the plan hashes the referred table: it reads all of `documents` and `members`, and
then reads them again for every later statement on that connection — an order's two-line check paid
for every document ever written. Measured on the order path (bench/bench_api.py's orders, 1,200
documents): the entry check 233–258 µs and the line check 105–125 µs per order; with index probes 93–97
and 29–32 µs.

The entries', lines' and lots' checks (0018, 0020) now end each subquery in OFFSET 0, which PostgreSQL
neither hashes nor turns into a join; the allocations' check is already two anti-joins with hash and
merge joins off (0019). All four plan with sequential scans off, so a per-row probe is an index probe even
on a table the planner took for one page: each reference costs a probe of the referred table's primary
key, one per written row (per document for the lines), and a check costs what the statement wrote, never
what the table holds. (A function's SET applies while it runs, to the planning of its queries too.) The
checks' results, messages and triggers are unchanged.

Revision ID: 0023_reference_probes
Revises: 0022_ledger_deltas
"""
import importlib.util
import re
from pathlib import Path

from alembic import op

revision = "0023_reference_probes"
down_revision = "0022_ledger_deltas"
branch_labels = None
depends_on = None

# The statement triggers' functions that check written rows' references, as 0018 and 0020 left them:
# name -> (the migration that defined it, the number of its reference subqueries).
REWRITTEN = {"ledger_entry_refs": ("0018_sweep_rows.py", 6), "document_line_refs": ("0020_line_refs.py", 1),
             "lot_refs": ("0020_line_refs.py", 2)}
# The allocations' check is 0019's: two anti-joins, hash and merge joins off; it only gains the setting.
FUNCTIONS = (*REWRITTEN, "ledger_allocation_refs")
SETTINGS = {"enable_seqscan": "off"}
_SUBQUERY = re.compile(r"(NOT EXISTS \(SELECT 1 FROM \w+ r WHERE r\.id = c\.\w+)\)")


def _landed(name: str):
    spec = importlib.util.spec_from_file_location(f"_references_{name[:4]}", Path(__file__).with_name(name))
    landed = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(landed)
    return landed


def _landed_function(function: str) -> str:
    """``function``'s CREATE FUNCTION as its migration landed it."""
    landed = _landed(REWRITTEN[function][0])
    ddl = landed._entry_references() if function == "ledger_entry_refs" else landed.CHECKS
    start = ddl.index(f"CREATE FUNCTION {function}()")
    return ddl[start:ddl.index("$$;", start) + 3].replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)


def _probing(function: str) -> str:
    """The landed function with OFFSET 0 closing each of its reference subqueries."""
    ddl, count = _SUBQUERY.subn(r"\1 OFFSET 0)", _landed_function(function))
    assert count == REWRITTEN[function][1], (function, count)
    return ddl


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    settings = " ".join(f"SET {name} = {value}" for name, value in SETTINGS.items())
    for function in REWRITTEN:
        op.execute(_probing(function))
    for function in FUNCTIONS:
        op.execute(f"ALTER FUNCTION {function}() {settings}")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for function in FUNCTIONS:
        for name in SETTINGS:
            op.execute(f"ALTER FUNCTION {function}() RESET {name}")
    for function in REWRITTEN:
        op.execute(_landed_function(function))
