"""The database checks the ledger's sums at commit (PostgreSQL).

A transaction that leaves an account's entries unequal to its lots'
remainders less its debt, or a positive entry whose lots do not add up to it,
is refused at COMMIT — whichever path wrote the rows (ORM, Core, COPY, or a
hand-typed UPDATE). The work is set-based so a million-lot nightly expiry or
an import chunk pays for it once, not per row: statement triggers (with
transition tables) note the touched accounts and new positive entries of the
transaction in `ledger_dirty`, and queue the transaction once in
`ledger_check_queue`; a deferred constraint trigger on that queue runs one
check over everything noted, at commit, and clears it. Both tables are
UNLOGGED: what they hold lives only until its transaction ends.
SQLite has no such triggers: `loyalty check` covers it.

Revision ID: 0005_ledger_balance
Revises: 0004_members_updated
"""
from alembic import op

revision = "0005_ledger_balance"
down_revision = "0004_members_updated"
branch_labels = None
depends_on = None

TABLES = r"""
CREATE UNLOGGED TABLE ledger_dirty (
    txid bigint NOT NULL, kind char(1) NOT NULL, ref bigint NOT NULL,
    CONSTRAINT pk_ledger_dirty PRIMARY KEY (txid, kind, ref));
CREATE UNLOGGED TABLE ledger_check_queue (txid bigint CONSTRAINT pk_ledger_check_queue PRIMARY KEY);
"""

MARK = r"""
CREATE FUNCTION ledger_mark() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'accounts' THEN
        INSERT INTO ledger_dirty SELECT DISTINCT txid_current(), 'a', id FROM changed ON CONFLICT DO NOTHING;
    ELSE
        INSERT INTO ledger_dirty SELECT DISTINCT txid_current(), 'a', account_id FROM changed
            ON CONFLICT DO NOTHING;
    END IF;
    IF TG_TABLE_NAME = 'ledger_entries' THEN
        INSERT INTO ledger_dirty SELECT txid_current(), 'e', id FROM changed WHERE amount > 0
            ON CONFLICT DO NOTHING;
    END IF;
    INSERT INTO ledger_check_queue VALUES (txid_current()) ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;
"""

CHECK = r"""
CREATE FUNCTION ledger_check_sums() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    SELECT e.id, e.amount, coalesce(sum(l.amount), 0) AS lots_total INTO bad
    FROM ledger_dirty d JOIN ledger_entries e ON e.id = d.ref LEFT JOIN lots l ON l.entry_id = e.id
    WHERE d.txid = NEW.txid AND d.kind = 'e'
    GROUP BY e.id, e.amount HAVING coalesce(sum(l.amount), 0) <> e.amount LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_sums',
            MESSAGE = format('ledger entry %s of %s points has lots of %s points', bad.id, bad.amount,
                             bad.lots_total);
    END IF;
    WITH touched AS (SELECT ref AS id FROM ledger_dirty WHERE txid = NEW.txid AND kind = 'a'),
         entries AS (SELECT account_id, sum(amount) AS total FROM ledger_entries
                     WHERE account_id IN (SELECT id FROM touched) GROUP BY account_id),
         open_lots AS (SELECT account_id, sum(remaining) AS total FROM lots
                       WHERE remaining > 0 AND account_id IN (SELECT id FROM touched) GROUP BY account_id)
    SELECT a.id, coalesce(e.total, 0) AS entries_total, coalesce(l.total, 0) AS lots_total, a.debt INTO bad
    FROM accounts a JOIN touched t ON t.id = a.id
    LEFT JOIN entries e ON e.account_id = a.id LEFT JOIN open_lots l ON l.account_id = a.id
    WHERE coalesce(e.total, 0) <> coalesce(l.total, 0) - a.debt LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_sums',
            MESSAGE = format('account %s is out of balance: entries %s, lots %s, debt %s', bad.id,
                             bad.entries_total, bad.lots_total, bad.debt);
    END IF;
    DELETE FROM ledger_dirty WHERE txid = NEW.txid;
    DELETE FROM ledger_check_queue WHERE txid = NEW.txid;
    RETURN NULL;
END
$$;
"""

# Transition tables rule out column lists, so every update of these tables marks its rows.
MARKED = {"ledger_entries": "INSERT", "lots": "INSERT", "accounts": "UPDATE"}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(TABLES)
    op.execute(MARK)
    op.execute(CHECK)
    for table, event in MARKED.items():
        op.execute(f"CREATE TRIGGER ledger_mark_{table}_{event.lower()} AFTER {event} ON {table} "
                   "REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION ledger_mark()")
    op.execute("CREATE TRIGGER ledger_mark_lots_update AFTER UPDATE ON lots "
               "REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION ledger_mark()")
    op.execute("CREATE CONSTRAINT TRIGGER ledger_sums AFTER INSERT ON ledger_check_queue "
               "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_check_sums()")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS ledger_sums ON ledger_check_queue")
    op.execute("DROP TRIGGER IF EXISTS ledger_mark_lots_update ON lots")
    for table, event in MARKED.items():
        op.execute(f"DROP TRIGGER IF EXISTS ledger_mark_{table}_{event.lower()} ON {table}")
    op.execute("DROP FUNCTION IF EXISTS ledger_check_sums()")
    op.execute("DROP FUNCTION IF EXISTS ledger_mark()")
    op.execute("DROP TABLE IF EXISTS ledger_check_queue")
    op.execute("DROP TABLE IF EXISTS ledger_dirty")
