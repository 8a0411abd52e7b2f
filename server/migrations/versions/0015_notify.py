"""Notifications: the points an import run credited per member, summed into one message when it finishes.

Revision ID: 0015_notify
Revises: 0014_order_codes
"""
import sqlalchemy as sa
from alembic import op

import engine.models.base

revision = "0015_notify"
down_revision = "0014_order_codes"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "outbox_run_credits",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("run_id", BIG_ID, nullable=False),
        sa.Column("member_id", BIG_ID, nullable=False),
        sa.Column("amount", engine.models.base.Amount(precision=18, scale=4), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["import_runs.id"], ondelete="CASCADE",
                                name=op.f("fk_outbox_run_credits_run_id_import_runs")),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"],
                                name=op.f("fk_outbox_run_credits_member_id_members")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_run_credits")),
    )
    op.create_index("ix_outbox_run_credits_run_member", "outbox_run_credits", ["run_id", "member_id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_run_credits_run_member", table_name="outbox_run_credits")
    op.drop_table("outbox_run_credits")
