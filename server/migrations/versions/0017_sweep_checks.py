"""The commit-time sum check in linear time, and lot updates that change no sum mark nothing.

Two changes to the triggers of 0005, measured on the nightly sweeps (1M lots):

- The account check joined the touched accounts to per-account sums built
  from the same list; the planner, which cannot know how many rows
  `ledger_dirty` holds for this transaction, estimated one and nested the
  loops: touched × touched rows (40,000 accounts: 1.6 billion comparisons;
  a 4,000-account expiry spent 37 s in its COMMIT). Each account's sums
  are now a LATERAL subquery of its own (an index lookup per account), so
  the check is linear in the accounts touched whatever the estimate.
- An UPDATE of lots marked every row's account, so `loyalty mature` (which
  sets `matured_at` on a million lots) had the check re-sum every account
  at COMMIT. Lot updates now sum the old and new rows per account (OLD and
  NEW transition tables) and mark the accounts whose lots' `remaining` or
  `amount` sums changed — the old and the new account of a moved lot; only
  then is the transaction queued for the check. Every update that can change
  an account's sums is still checked; one that cannot (`matured_at`,
  `warned_at`) costs one pass over its rows.

Revision ID: 0017_sweep_checks
Revises: 0016_admin
"""
import importlib.util
from pathlib import Path

from alembic import op

revision = "0017_sweep_checks"
down_revision = "0016_admin"
branch_labels = None
depends_on = None

# The account query of 0005's check, replaced; the entry query before it and the rest stay as landed.
ACCOUNTS_QUERY = r"""    SELECT a.id, en.total AS entries_total, lo.total AS lots_total, a.debt INTO bad
    FROM ledger_dirty d JOIN accounts a ON a.id = d.ref
    CROSS JOIN LATERAL (SELECT coalesce(sum(amount), 0) AS total FROM ledger_entries
                        WHERE account_id = a.id) en
    CROSS JOIN LATERAL (SELECT coalesce(sum(remaining), 0) AS total FROM lots
                        WHERE account_id = a.id AND remaining > 0) lo
    WHERE d.txid = NEW.txid AND d.kind = 'a' AND en.total <> lo.total - a.debt LIMIT 1;
"""

MARK_LOTS = r"""
CREATE FUNCTION ledger_mark_lots() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    marked bigint;
BEGIN
    -- Per account, the new rows' sums less the old rows': not zero where the statement changed them
    -- (a moved lot counts against its old account and for its new one). No join of the two
    -- transition tables: they have no statistics, and a nested loop over them is quadratic.
    INSERT INTO ledger_dirty
    SELECT txid_current(), 'a', account_id
    FROM (SELECT account_id, remaining, amount FROM changed
          UNION ALL SELECT account_id, -remaining, -amount FROM previous) delta
    GROUP BY account_id HAVING sum(remaining) <> 0 OR sum(amount) <> 0
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS marked = ROW_COUNT;
    IF marked > 0 THEN
        INSERT INTO ledger_check_queue VALUES (txid_current()) ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END
$$;
"""


def _landed():
    """Migration 0005, whose definitions the downgrade restores."""
    path = Path(__file__).with_name("0005_ledger_balance_trigger.py")
    spec = importlib.util.spec_from_file_location("_ledger_balance_0005", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _check(landed) -> str:
    """0005's check function with ACCOUNTS_QUERY in place of its account query, as a replacement."""
    start = landed.CHECK.index("    WITH touched AS")
    end = landed.CHECK.index("    IF FOUND THEN", start)
    return _replacing(landed.CHECK[:start] + ACCOUNTS_QUERY + landed.CHECK[end:])


def _replacing(ddl: str) -> str:
    return ddl.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(_check(_landed()))
    op.execute(MARK_LOTS)
    op.execute("DROP TRIGGER ledger_mark_lots_update ON lots")
    op.execute("CREATE TRIGGER ledger_mark_lots_update AFTER UPDATE ON lots "
               "REFERENCING OLD TABLE AS previous NEW TABLE AS changed "
               "FOR EACH STATEMENT EXECUTE FUNCTION ledger_mark_lots()")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    landed = _landed()
    op.execute("DROP TRIGGER ledger_mark_lots_update ON lots")
    op.execute("DROP FUNCTION ledger_mark_lots()")
    op.execute("CREATE TRIGGER ledger_mark_lots_update AFTER UPDATE ON lots "
               "REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION ledger_mark()")
    op.execute(_replacing(landed.CHECK))
