"""A stamp of the configuration every order reads: published policy versions, missions, webhook subscriptions.

Every statement that writes one of those tables (or truncates it) gives the single row of
`config_stamp` a new random value, in the writer's transaction. A process may then keep what it read
of those tables and reuse it while the stamp it reads with each request is the one it read them
under (`engine.config_stamp`): a change becomes visible to other sessions together with its new
stamp, at commit, so no process serves configuration older than what was committed before its
request read the stamp. The value is random (a UUID), not a counter: a rolled-back change's stamp
never comes back, and a recreated or restored database never repeats one a process has seen.
PostgreSQL only; elsewhere nothing is cached.

Revision ID: 0021_config_stamp
Revises: 0020_line_refs
"""
from alembic import op

revision = "0021_config_stamp"
down_revision = "0020_line_refs"
branch_labels = None
depends_on = None

TABLES = ("policy_versions", "missions", "webhook_subscriptions")

BUMP = """
CREATE FUNCTION config_stamp_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO config_stamp (id, stamp) VALUES (1, gen_random_uuid())
    ON CONFLICT (id) DO UPDATE SET stamp = excluded.stamp;
    RETURN NULL;
END
$$;
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE TABLE config_stamp (id integer PRIMARY KEY CHECK (id = 1), stamp uuid NOT NULL)")
    op.execute("INSERT INTO config_stamp (id, stamp) VALUES (1, gen_random_uuid())")
    op.execute(BUMP)
    for table in TABLES:
        op.execute(f"CREATE TRIGGER config_stamp_write AFTER INSERT OR UPDATE OR DELETE ON {table} "
                   "FOR EACH STATEMENT EXECUTE FUNCTION config_stamp_bump()")
        op.execute(f"CREATE TRIGGER config_stamp_truncate AFTER TRUNCATE ON {table} "
                   "FOR EACH STATEMENT EXECUTE FUNCTION config_stamp_bump()")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"DROP TRIGGER config_stamp_write ON {table}")
        op.execute(f"DROP TRIGGER config_stamp_truncate ON {table}")
    op.execute("DROP FUNCTION config_stamp_bump()")
    op.execute("DROP TABLE config_stamp")
