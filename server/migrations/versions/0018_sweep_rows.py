"""Cheaper rows for the nightly sweeps: maturing is a HOT update, expiry writes fewer index entries and
checks its allocations' references once per statement.

Measured on `loyalty mature` / `loyalty expire` (bench/bench_daily.py):

- `ix_lots_unmatured` (available_at WHERE matured_at IS NULL) named `matured_at` in its predicate, so
  every lot `mature` touched got a new row version in every index of lots (no HOT update). It becomes
  `ix_lots_pending` (available_at WHERE remaining > 0), which the liability report's pending lots
  (not yet available, not empty) still read; `mature` reads its due lots in one pass over lots. With
  lots filled to 45% (fillfactor: a new row version fits on its own page), the update is HOT: no
  index is touched. The fillfactor applies to pages written from now on; `VACUUM FULL lots` (or
  pg_repack) rewrites older ones.
- `ix_ledger_entries_document` indexed the NULL document of every entry that has none (expiry,
  redemptions, adjustments…); it now holds entries with a document only (`document_id = x` still uses it).
- The allocations' two foreign keys (to their lot and their entry) were checked one row at a time
  (a lookup and a FOR KEY SHARE lock of each referenced row, 2 million for a million-lot expiry).
  A statement trigger now checks every inserted or updated allocation's lot and entry in one
  anti-join, and lots and entries can no longer be deleted (nothing deletes ledger rows; the
  ledger is append-only) nor change id, so a reference checked when written stays valid: the
  guarantee of the foreign keys, without their per-row locks. `loyalty check` also looks for
  allocations whose lot or entry is missing.
- The same for the entries' six references (account, member, beneficiary, document, redemption, policy
  version; five of them NULL on most entries, each a trigger call per row all the same): one statement
  trigger checks the written entries' references; deleting an account, member, document, redemption
  or policy version that an entry refers to is refused by a statement trigger on that table, and
  their ids never change. Unlike a foreign key's check, the written entry's check does not lock the
  rows it found: a concurrent DELETE of a referred row is caught by that DELETE's own check once the
  entry is committed (a trigger's query in READ COMMITTED sees it) — except when both commit at the
  same moment. Nothing in the application deletes these rows, every ledger write locks its account
  first (so an account's DELETE waits for it and then sees the entry), and `loyalty check` names any
  entry whose reference is missing.

Revision ID: 0018_sweep_rows
Revises: 0017_sweep_checks
"""
import sqlalchemy as sa
from alembic import op

revision = "0018_sweep_rows"
down_revision = "0017_sweep_checks"
branch_labels = None
depends_on = None

FOREIGN_KEYS = {"lot_id": "lots", "entry_id": "ledger_entries"}
# The entries' references, checked per statement too: column -> the table it refers to.
ENTRY_REFERENCES = {"account_id": "accounts", "member_id": "members", "beneficiary_member_id": "members",
                    "document_id": "documents", "redemption_id": "redemptions",
                    "policy_version_id": "policy_versions"}
REFERRED = sorted(set(ENTRY_REFERENCES.values()))


def _entry_references() -> str:
    """The entries' check (one anti-join per reference) and the referred tables' (no entry left behind)."""
    missing = "\n       OR ".join(
        f"(c.{column} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {table} r WHERE r.id = c.{column}))"
        for column, table in ENTRY_REFERENCES.items())
    return rf"""
CREATE FUNCTION ledger_entry_refs() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    SELECT c.* INTO bad FROM changed c
    WHERE {missing}
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'ledger_entry_refs',
            MESSAGE = format('ledger entry %s refers to a row that does not exist (account %s, member %s, '
                             'beneficiary %s, document %s, redemption %s, policy version %s)', bad.id,
                             bad.account_id, bad.member_id, bad.beneficiary_member_id, bad.document_id,
                             bad.redemption_id, bad.policy_version_id);
    END IF;
    RETURN NULL;
END
$$;
CREATE FUNCTION ledger_entries_refer() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    column_name text;
    entry bigint;
BEGIN
    -- TG_ARGV: the entries' columns that refer to this table.
    FOREACH column_name IN ARRAY TG_ARGV LOOP
        EXECUTE format('SELECT e.id FROM ledger_entries e JOIN gone g ON e.%I = g.id LIMIT 1', column_name)
            INTO entry;
        IF entry IS NOT NULL THEN
            RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'ledger_entry_refs',
                MESSAGE = format('%s rows are referred to by ledger entry %s (%s)', TG_TABLE_NAME, entry,
                                 column_name);
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;
CREATE TRIGGER ledger_entry_refs_insert AFTER INSERT ON ledger_entries
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION ledger_entry_refs();
CREATE TRIGGER ledger_entry_refs_update AFTER UPDATE ON ledger_entries
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION ledger_entry_refs();
""" + "".join(f"""
CREATE TRIGGER ledger_entries_refer_delete AFTER DELETE ON {table}
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT
    EXECUTE FUNCTION ledger_entries_refer({", ".join(repr(c) for c, t in ENTRY_REFERENCES.items() if t == table)});
CREATE TRIGGER ledger_keep_id BEFORE UPDATE OF id ON {table}
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION ledger_keep_id();
""" for table in REFERRED)


KEEP_ID = r"""
CREATE FUNCTION ledger_keep_id() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'restrict_violation', CONSTRAINT = 'ledger_entry_refs',
        MESSAGE = format('%s rows keep their id (ledger entries refer to them)', TG_TABLE_NAME);
END
$$;
"""

REFERENCES = r"""
CREATE FUNCTION ledger_allocation_refs() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    SELECT c.id, c.lot_id, c.entry_id INTO bad FROM changed c
    WHERE NOT EXISTS (SELECT 1 FROM lots l WHERE l.id = c.lot_id)
       OR NOT EXISTS (SELECT 1 FROM ledger_entries e WHERE e.id = c.entry_id)
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'allocation_refs',
            MESSAGE = format('allocation %s refers to lot %s and entry %s, one of which does not exist',
                             bad.id, bad.lot_id, bad.entry_id);
    END IF;
    RETURN NULL;
END
$$;
CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'restrict_violation', CONSTRAINT = 'ledger_append_only',
        MESSAGE = format('%s rows are never deleted and keep their id (allocations refer to them)',
                         TG_TABLE_NAME);
END
$$;
"""

TRIGGERS = r"""
CREATE TRIGGER ledger_allocation_refs_insert AFTER INSERT ON allocations
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION ledger_allocation_refs();
CREATE TRIGGER ledger_allocation_refs_update AFTER UPDATE ON allocations
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION ledger_allocation_refs();
CREATE TRIGGER ledger_append_only_delete BEFORE DELETE ON lots
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER ledger_append_only_delete BEFORE DELETE ON ledger_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER ledger_append_only_id BEFORE UPDATE OF id ON lots
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER ledger_append_only_id BEFORE UPDATE OF id ON ledger_entries
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION ledger_append_only();
"""


def _indexes(pending: bool) -> None:
    """The unmatured-lots index or the pending one; the document index partial or not."""
    if pending:
        op.drop_index("ix_lots_unmatured", table_name="lots")
        op.create_index("ix_lots_pending", "lots", ["available_at"], postgresql_where=sa.text("remaining > 0"),
                        sqlite_where=sa.text("remaining > 0"))
        where = sa.text("document_id IS NOT NULL")
        op.drop_index("ix_ledger_entries_document", table_name="ledger_entries")
        op.create_index("ix_ledger_entries_document", "ledger_entries", ["document_id"],
                        postgresql_where=where, sqlite_where=where)
        return
    op.drop_index("ix_lots_pending", table_name="lots")
    op.create_index("ix_lots_unmatured", "lots", ["available_at"], postgresql_where=sa.text("matured_at IS NULL"),
                    sqlite_where=sa.text("matured_at IS NULL"))
    op.drop_index("ix_ledger_entries_document", table_name="ledger_entries")
    op.create_index("ix_ledger_entries_document", "ledger_entries", ["document_id"])


def upgrade() -> None:
    _indexes(pending=True)
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE lots SET (fillfactor = 45)")
    for column, table in FOREIGN_KEYS.items():
        op.drop_constraint(f"fk_allocations_{column}_{table}", "allocations", type_="foreignkey")
    op.execute(REFERENCES)
    op.execute(TRIGGERS)
    for column, table in ENTRY_REFERENCES.items():
        op.drop_constraint(f"fk_ledger_entries_{column}_{table}", "ledger_entries", type_="foreignkey")
    op.execute(KEEP_ID)
    op.execute(_entry_references())


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in REFERRED:
            op.execute(f"DROP TRIGGER ledger_entries_refer_delete ON {table}")
            op.execute(f"DROP TRIGGER ledger_keep_id ON {table}")
        op.execute("DROP TRIGGER ledger_entry_refs_insert ON ledger_entries")
        op.execute("DROP TRIGGER ledger_entry_refs_update ON ledger_entries")
        op.execute("DROP FUNCTION ledger_entries_refer()")
        op.execute("DROP FUNCTION ledger_entry_refs()")
        op.execute("DROP FUNCTION ledger_keep_id()")
        for column, table in ENTRY_REFERENCES.items():
            op.create_foreign_key(f"fk_ledger_entries_{column}_{table}", "ledger_entries", table, [column], ["id"])
        for name, table in (("ledger_allocation_refs_insert", "allocations"),
                            ("ledger_allocation_refs_update", "allocations"),
                            ("ledger_append_only_delete", "lots"), ("ledger_append_only_delete", "ledger_entries"),
                            ("ledger_append_only_id", "lots"), ("ledger_append_only_id", "ledger_entries")):
            op.execute(f"DROP TRIGGER {name} ON {table}")
        op.execute("DROP FUNCTION ledger_append_only()")
        op.execute("DROP FUNCTION ledger_allocation_refs()")
        for column, table in FOREIGN_KEYS.items():
            op.create_foreign_key(f"fk_allocations_{column}_{table}", "allocations", table, [column], ["id"])
        op.execute("ALTER TABLE lots RESET (fillfactor)")
    _indexes(pending=False)
