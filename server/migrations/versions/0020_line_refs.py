"""Document lines' and lots' references checked once per statement, not row by row (as 0018 did for entries).

Measured on the SAP import (bench/bench_import.py): a million invoice lines
and a hundred thousand lots, each checked by its foreign keys one row at a
time (a lookup of the document, account or entry and a FOR KEY SHARE lock of
it, which dirties the page of a row the same transaction has just written),
were 40–55% of PostgreSQL's part of the import (per chunk of 41,000 lines, the
backend's CPU for the lines' COPY 0.41 → 0.18 s, the lots' 0.13 → 0.08 s;
the chunk's whole 1.0 → 0.65 s). A statement trigger now
checks the documents of the written lines (each document once: 50,000
lines of 5,000 documents took 185 ms probed per line, 44 ms per document),
and every written lot's account and entry, in one anti-join per statement.
The referred rows stay: entries are never deleted nor renumbered (0018);
documents and accounts keep their id (0018), and a statement trigger refuses to delete a document that lines
refer to or an account that lots refer to. As with 0018, the written row's
check does not lock what it found: a DELETE committed at the same moment as
the line or lot that refers to the row could slip between the two checks;
nothing in the application deletes documents or accounts, and `loyalty
check` names any line or lot whose reference is missing.

Revision ID: 0020_line_refs
Revises: 0019_sweep_probes
"""
from alembic import op

revision = "0020_line_refs"
down_revision = "0019_sweep_probes"
branch_labels = None
depends_on = None

# The foreign keys replaced: (table, column, referred table).
FOREIGN_KEYS = (("document_lines", "document_id", "documents"), ("lots", "account_id", "accounts"),
                ("lots", "entry_id", "ledger_entries"))


def _refs(function: str, what: str, references: dict[str, str], *, distinct: bool = False) -> str:
    """The statement check of written rows: one anti-join per reference (column -> the table it refers to).
    ``distinct``: probe each referred row once (ten lines of an invoice name one document), not per row."""
    missing = "\n       OR ".join(f"NOT EXISTS (SELECT 1 FROM {table} r WHERE r.id = c.{column})"
                                  for column, table in references.items())
    named = ", ".join(f"{column.removesuffix('_id')} %s" for column in references)
    columns = ", ".join(f"bad.{column}" for column in references)
    rows = f"(SELECT DISTINCT {', '.join(references)} FROM changed)" if distinct else "changed"
    message = (f"format('a {what} refers to a row that does not exist ({named})', {columns})" if distinct else
               f"format('{what} %s refers to a row that does not exist ({named})', bad.id, {columns})")
    return rf"""
CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    SELECT c.* INTO bad FROM {rows} c
    WHERE {missing}
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation', CONSTRAINT = '{function}',
            MESSAGE = {message};
    END IF;
    RETURN NULL;
END
$$;
"""


CHECKS = _refs("document_line_refs", "document line", {"document_id": "documents"}, distinct=True) + \
    _refs("lot_refs", "lot", {"account_id": "accounts", "entry_id": "ledger_entries"}) + r"""
CREATE FUNCTION ref_moved() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    i integer;
    referred bigint;
BEGIN
    -- A row whose reference changed (rare: nothing in the application moves a line or a lot); TG_ARGV:
    -- pairs of a column and the table it refers to.
    FOR i IN 0 .. TG_NARGS / 2 - 1 LOOP
        EXECUTE format('SELECT r.id FROM %I r WHERE r.id = ($1).%I', TG_ARGV[2 * i + 1], TG_ARGV[2 * i])
            USING NEW INTO referred;
        IF referred IS NULL THEN
            RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation', CONSTRAINT = TG_TABLE_NAME || '_refs',
                MESSAGE = format('%s row %s refers to a %s row that does not exist (%s)', TG_TABLE_NAME, NEW.id,
                                 TG_ARGV[2 * i + 1], TG_ARGV[2 * i]);
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;
CREATE FUNCTION rows_refer() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    found_id bigint;
BEGIN
    -- TG_ARGV: the referring table and its column that refers to this table.
    EXECUTE format('SELECT r.id FROM %I r JOIN gone g ON r.%I = g.id LIMIT 1', TG_ARGV[0], TG_ARGV[1])
        INTO found_id;
    IF found_id IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation', CONSTRAINT = TG_ARGV[0] || '_refs',
            MESSAGE = format('%s rows are referred to by %s row %s (%s)', TG_TABLE_NAME, TG_ARGV[0], found_id,
                             TG_ARGV[1]);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER document_line_refs_insert AFTER INSERT ON document_lines
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION document_line_refs();
CREATE TRIGGER document_line_refs_update AFTER UPDATE OF document_id ON document_lines
    FOR EACH ROW WHEN (OLD.document_id IS DISTINCT FROM NEW.document_id)
    EXECUTE FUNCTION ref_moved('document_id', 'documents');
CREATE TRIGGER lot_refs_insert AFTER INSERT ON lots
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION lot_refs();
CREATE TRIGGER lot_refs_update AFTER UPDATE OF account_id, entry_id ON lots
    FOR EACH ROW WHEN (OLD.account_id IS DISTINCT FROM NEW.account_id OR OLD.entry_id IS DISTINCT FROM NEW.entry_id)
    EXECUTE FUNCTION ref_moved('account_id', 'accounts', 'entry_id', 'ledger_entries');
CREATE TRIGGER document_lines_refer_delete AFTER DELETE ON documents
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION rows_refer('document_lines', 'document_id');
CREATE TRIGGER lots_refer_delete AFTER DELETE ON accounts
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION rows_refer('lots', 'account_id');
"""

TRIGGERS = (("document_line_refs_insert", "document_lines"), ("document_line_refs_update", "document_lines"),
            ("lot_refs_insert", "lots"), ("lot_refs_update", "lots"),
            ("document_lines_refer_delete", "documents"), ("lots_refer_delete", "accounts"))


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite keeps its foreign keys (the models still declare them)
    for table, column, referred in FOREIGN_KEYS:
        op.drop_constraint(f"fk_{table}_{column}_{referred}", table, type_="foreignkey")
    op.execute(CHECKS)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, table in TRIGGERS:
        op.execute(f"DROP TRIGGER {name} ON {table}")
    for function in ("rows_refer", "ref_moved", "lot_refs", "document_line_refs"):
        op.execute(f"DROP FUNCTION {function}()")
    for table, column, referred in FOREIGN_KEYS:
        op.create_foreign_key(f"fk_{table}_{column}_{referred}", table, referred, [column], ["id"])
