"""The database checks the ledger's sums at commit (PostgreSQL): a deferred constraint trigger.

A transaction that leaves an account's entries unequal to its lots'
remainders less its debt, or a positive entry whose lots do not add up to it,
is refused at COMMIT — whichever path wrote the rows (ORM, Core, COPY, or a
hand-typed UPDATE). Each account is checked once per transaction, after all
of its statements. SQLite has no such triggers: `loyalty check` covers it.

Revision ID: 0005_ledger_balance
Revises: 0004_members_updated
"""
from alembic import op

revision = "0005_ledger_balance"
down_revision = "0004_members_updated"
branch_labels = None
depends_on = None

FUNCTION = r"""
CREATE FUNCTION ledger_check_sums() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    acc bigint;
    entries_total numeric;
    lots_total numeric;
    account_debt numeric;
BEGIN
    IF TG_TABLE_NAME = 'accounts' THEN
        acc := NEW.id;
    ELSE
        acc := NEW.account_id;
    END IF;
    IF TG_TABLE_NAME = 'ledger_entries' THEN  -- (PL/pgSQL does not short-circuit AND)
        IF NEW.amount > 0 THEN
            SELECT coalesce(sum(amount), 0) INTO lots_total FROM lots WHERE entry_id = NEW.id;
            IF lots_total <> NEW.amount THEN
                RAISE EXCEPTION USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_sums',
                    MESSAGE = format('ledger entry %s of %s points has lots of %s points', NEW.id, NEW.amount,
                                     lots_total);
            END IF;
        END IF;
    END IF;
    IF to_regclass('pg_temp.ledger_checked_accounts') IS NULL THEN
        CREATE TEMP TABLE ledger_checked_accounts (account_id bigint PRIMARY KEY) ON COMMIT DELETE ROWS;
    END IF;
    INSERT INTO ledger_checked_accounts VALUES (acc) ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        RETURN NULL;  -- this account was checked in this transaction, after all its changes
    END IF;
    SELECT coalesce(sum(amount), 0) INTO entries_total FROM ledger_entries WHERE account_id = acc;
    SELECT coalesce(sum(remaining), 0) INTO lots_total FROM lots WHERE account_id = acc AND remaining > 0;
    SELECT debt INTO account_debt FROM accounts WHERE id = acc;
    IF entries_total <> lots_total - coalesce(account_debt, 0) THEN
        RAISE EXCEPTION USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_sums',
            MESSAGE = format('account %s is out of balance: entries %s, lots %s, debt %s', acc,
                             entries_total, lots_total, account_debt);
    END IF;
    RETURN NULL;
END
$$;
"""

TRIGGERS = {
    "ledger_entries": "AFTER INSERT",
    "lots": "AFTER INSERT OR UPDATE OF remaining",
    "accounts": "AFTER UPDATE OF debt",
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(FUNCTION)
    for table, events in TRIGGERS.items():
        op.execute(f"CREATE CONSTRAINT TRIGGER ledger_sums_{table} {events} ON {table} "
                   "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_check_sums()")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS ledger_sums_{table} ON {table}")
    op.execute("DROP FUNCTION IF EXISTS ledger_check_sums()")
