"""The commit check sums what the transaction changed, not every touched account's whole ledger.

The check of 0005 (as 0017 left it) re-summed, at every COMMIT, all the entries and open lots of
each account the transaction touched: an order on an account of 100,000 entries (a wholesale
customer's years of invoices) spent 25.6 ms in its COMMIT, 10,000 entries 3.5 ms, 6 entries
0.8 ms (bench/bench_wholesale.py measures it). The statement triggers now add up, per account,
what each statement changes: the amounts of the entries it writes, the `remaining` of the lots it
writes (new less old on an UPDATE), the account's `debt` (as inserted, or new less old), in the unlogged
`ledger_deltas`, keyed by the transaction. At COMMIT the deferred check refuses the transaction
when an account's entries changed by another amount than its lots less its debt. A ledger in
balance before the transaction is in balance after it exactly when that holds, so every write
through these tables is held to the same sums as before, and the check costs what the
transaction wrote, whatever the account's history. It also sees what 0005 did not: an UPDATE of
an entry's amount (entries are written once; nothing in the application updates them), and an
account inserted owing points that no entry accounts for.

The positive entries' check (their lots add up to them) stays as 0005 wrote it.

What the deltas cannot see is a ledger already out of balance when the transaction starts (rows
written with the triggers off, `session_replication_role = replica`): `loyalty check` finds it.
A transaction that repairs such an account by hand asks for the old check with
`SET LOCAL loyalty.ledger_check = 'full'`: the accounts it touched are then summed whole, as
0017 summed them, and it commits only when they are in balance.

Revision ID: 0022_ledger_deltas
Revises: 0021_config_stamp
"""
import importlib.util
import textwrap
from pathlib import Path

from alembic import op

revision = "0022_ledger_deltas"
down_revision = "0021_config_stamp"
branch_labels = None
depends_on = None

TABLE = r"""
CREATE UNLOGGED TABLE ledger_deltas (
    txid bigint NOT NULL, account_id bigint NOT NULL,
    entries numeric NOT NULL DEFAULT 0, lots numeric NOT NULL DEFAULT 0, debt numeric NOT NULL DEFAULT 0,
    CONSTRAINT pk_ledger_deltas PRIMARY KEY (txid, account_id));
"""

# One function for the three tables; each statement adds its change per account. An UPDATE sums
# its new rows less its old ones per account (no join of the two transition tables: they have no
# statistics, and a nested loop over them is quadratic, see 0017) and notes only the accounts whose
# sum changed, so maturing or warning a million lots queues no check.


def _add(column: str, key: str, value: str, *, update: bool, nonzero: bool = False) -> str:
    """The statement adding this statement's change of ``value`` per account (``key``) to ``column``: the
    written rows' sum, or on an UPDATE the new rows' less the old rows', where it is not zero (``nonzero``:
    an INSERT's too)."""
    rows = (f"(SELECT {key}, {value} FROM changed UNION ALL SELECT {key}, -{value} FROM previous) d"
            if update else "changed")
    having = f" HAVING sum({value}) <> 0" if update or nonzero else ""
    return (f"INSERT INTO ledger_deltas (txid, account_id, {column})\n"
            f"            SELECT txid_current(), {key}, sum({value}) FROM {rows} GROUP BY {key}{having}\n"
            f"            ON CONFLICT (txid, account_id) DO UPDATE SET {column} = ledger_deltas.{column} + "
            f"excluded.{column};")


def _by_operation(column: str, value: str) -> str:
    """`_add` of an entries' or lots' statement, as an INSERT or an UPDATE adds it."""
    return (f"IF TG_OP = 'INSERT' THEN\n            {_add(column, 'account_id', value, update=False)}\n"
            f"        ELSE\n            {_add(column, 'account_id', value, update=True)}\n        END IF;")


DELTA = rf"""
CREATE FUNCTION ledger_delta() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    noted bigint := 0;
BEGIN
    IF TG_TABLE_NAME = 'ledger_entries' THEN
        {_by_operation("entries", "amount")}
        GET DIAGNOSTICS noted = ROW_COUNT;
        -- A positive entry's lots must add up to it (0005's entry check, at COMMIT).
        INSERT INTO ledger_dirty SELECT txid_current(), 'e', id FROM changed WHERE amount > 0
            ON CONFLICT DO NOTHING;
    ELSIF TG_TABLE_NAME = 'lots' THEN
        {_by_operation("lots", "remaining")}
        GET DIAGNOSTICS noted = ROW_COUNT;
    ELSIF TG_OP = 'INSERT' THEN  -- accounts: their debt (a new account owes nothing, as a rule)
        {_add("debt", "id", "debt", update=False, nonzero=True)}
        GET DIAGNOSTICS noted = ROW_COUNT;
    ELSE
        {_add("debt", "id", "debt", update=True)}
        GET DIAGNOSTICS noted = ROW_COUNT;
    END IF;
    IF noted > 0 THEN
        INSERT INTO ledger_check_queue VALUES (txid_current()) ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END
$$;
"""

# The statement triggers of 0005 and 0017 that marked accounts, and those replacing them.
OLD_TRIGGERS = (("ledger_mark_ledger_entries_insert", "ledger_entries"), ("ledger_mark_lots_insert", "lots"),
                ("ledger_mark_lots_update", "lots"), ("ledger_mark_accounts_update", "accounts"))
NEW_TRIGGERS = (("ledger_entries", "INSERT"), ("ledger_entries", "UPDATE"), ("lots", "INSERT"), ("lots", "UPDATE"),
                ("accounts", "INSERT"), ("accounts", "UPDATE"))


def _landed(name: str, module: str):
    """A landed migration, whose definitions the check reuses and the downgrade restores."""
    spec = importlib.util.spec_from_file_location(f"_ledger_{module}", Path(__file__).with_name(name))
    landed = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(landed)
    return landed


def _check() -> str:
    """0017's check with the account part on the deltas (or, asked for, 0017's whole sums)."""
    base = _landed("0005_ledger_balance_trigger.py", "0005")
    sums = _landed("0017_sweep_checks.py", "0017")
    start = base.CHECK.index("    WITH touched AS")
    end = base.CHECK.index("    IF FOUND THEN", start)
    full = sums.ACCOUNTS_QUERY.replace("FROM ledger_dirty d JOIN accounts a ON a.id = d.ref",
                                       "FROM ledger_deltas d JOIN accounts a ON a.id = d.account_id")
    full = full.replace("WHERE d.txid = NEW.txid AND d.kind = 'a' AND", "WHERE d.txid = NEW.txid AND")
    assert full != sums.ACCOUNTS_QUERY
    full = textwrap.indent(full, "    ")
    accounts = rf"""    IF current_setting('loyalty.ledger_check', true) = 'full' THEN
{full}        IF FOUND THEN
            RAISE EXCEPTION USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_sums',
                MESSAGE = format('account %s is out of balance: entries %s, lots %s, debt %s', bad.id,
                                 bad.entries_total, bad.lots_total, bad.debt);
        END IF;
    ELSE
        SELECT d.account_id, d.entries, d.lots, d.debt INTO bad FROM ledger_deltas d
        WHERE d.txid = NEW.txid AND d.entries <> d.lots - d.debt LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_sums',
                MESSAGE = format('account %s is out of balance: this transaction changes its entries by %s '
                                 'points, its lots by %s and its debt by %s', bad.account_id, bad.entries,
                                 bad.lots, bad.debt);
        END IF;
    END IF;
"""
    rest = base.CHECK[end:]
    after = rest.index("    END IF;\n") + len("    END IF;\n")  # the account query's IF FOUND … END IF
    rest = rest[after:].replace("    DELETE FROM ledger_dirty WHERE txid = NEW.txid;\n",
                                "    DELETE FROM ledger_dirty WHERE txid = NEW.txid;\n"
                                "    DELETE FROM ledger_deltas WHERE txid = NEW.txid;\n")
    assert "ledger_deltas WHERE txid" in rest
    return (base.CHECK[:start] + accounts + rest).replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(TABLE)
    op.execute(DELTA)
    for name, table in OLD_TRIGGERS:
        op.execute(f"DROP TRIGGER {name} ON {table}")
    for table, event in NEW_TRIGGERS:
        tables = "NEW TABLE AS changed" if event == "INSERT" else "OLD TABLE AS previous NEW TABLE AS changed"
        op.execute(f"CREATE TRIGGER ledger_delta_{event.lower()} AFTER {event} ON {table} "
                   f"REFERENCING {tables} FOR EACH STATEMENT EXECUTE FUNCTION ledger_delta()")
    op.execute("DROP FUNCTION ledger_mark_lots()")
    op.execute("DROP FUNCTION ledger_mark()")
    op.execute(_check())


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    base = _landed("0005_ledger_balance_trigger.py", "0005")
    sums = _landed("0017_sweep_checks.py", "0017")
    for table, event in NEW_TRIGGERS:
        op.execute(f"DROP TRIGGER ledger_delta_{event.lower()} ON {table}")
    op.execute("DROP FUNCTION ledger_delta()")
    op.execute(base.MARK)
    op.execute(sums.MARK_LOTS)
    for table, event in base.MARKED.items():
        op.execute(f"CREATE TRIGGER ledger_mark_{table}_{event.lower()} AFTER {event} ON {table} "
                   "REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION ledger_mark()")
    op.execute("CREATE TRIGGER ledger_mark_lots_update AFTER UPDATE ON lots "
               "REFERENCING OLD TABLE AS previous NEW TABLE AS changed "
               "FOR EACH STATEMENT EXECUTE FUNCTION ledger_mark_lots()")
    op.execute(sums._check(base))
    op.execute("DROP TABLE ledger_deltas")
