"""imports: chunks and staged lines of ERP document files

Revision ID: 0002_imports
Revises: 0001
Create Date: 2026-11-23 12:00:00

Hand-written. On PostgreSQL ``import_lines`` is partitioned by run (LIST on
import_run_id): the pipeline creates one UNLOGGED partition per run, itself
partitioned by bucket, and drops it when the run is done, so clearing a
million staged lines costs one statement. The table has no primary key or
index on purpose: it is written once by COPY and read by bucket.
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

import engine.models.base

revision = "0002_imports"
down_revision = "0001"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSONDoc = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "import_chunks",
        sa.Column("id", BigId, nullable=False),
        sa.Column("import_run_id", BigId, nullable=False),
        sa.Column("chunk_no", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.Column("documents", sa.Integer(), nullable=False),
        sa.Column("applied", sa.Integer(), nullable=False),
        sa.Column("duplicates", sa.Integer(), nullable=False),
        sa.Column("quarantined", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("bulk_documents", sa.Integer(), nullable=False),
        sa.Column("worker", sa.String(length=120), nullable=False),
        sa.Column("started_at", engine.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", engine.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["import_run_id"], ["import_runs.id"],
                                name=op.f("fk_import_chunks_import_run_id_import_runs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_chunks")),
        sa.UniqueConstraint("import_run_id", "chunk_no", name=op.f("uq_import_chunks_import_run_id")),
    )
    with op.batch_alter_table("import_chunks", schema=None) as batch_op:
        batch_op.create_index("ix_import_chunks_status", ["import_run_id", "status"], unique=False)

    columns = [
        sa.Column("import_run_id", BigId, nullable=False),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("doc_key", sa.Text(), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("extra", JSONDoc, nullable=True),
    ]
    op.create_table("import_lines", *columns, postgresql_partition_by="LIST (import_run_id)")


def downgrade() -> None:
    op.drop_table("import_lines")
    with op.batch_alter_table("import_chunks", schema=None) as batch_op:
        batch_op.drop_index("ix_import_chunks_status")
    op.drop_table("import_chunks")
