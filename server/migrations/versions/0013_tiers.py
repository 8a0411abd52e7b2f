"""Tiers: pins and grace periods (tier_states), every tier change, imported historical turnover.

Revision ID: 0013_tiers
Revises: 0012_rewards
"""
import sqlalchemy as sa
from alembic import op

import engine.models.base

revision = "0013_tiers"
down_revision = "0012_rewards"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _time(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, engine.models.base.UTCDateTime(timezone=True), nullable=nullable)


def _member_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["member_id"], ["members.id"], ondelete="CASCADE",
                                   name=op.f(f"fk_{table}_member_id_members"))


def upgrade() -> None:
    op.create_table(
        "tier_states",
        sa.Column("member_id", BIG_ID, nullable=False),
        _time("pinned_until", nullable=True),
        sa.Column("pinned_by", sa.String(length=120), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        _time("below_since", nullable=True),
        _member_fk("tier_states"),
        sa.PrimaryKeyConstraint("member_id", name=op.f("pk_tier_states")),
    )
    op.create_table(
        "tier_changes",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("member_id", BIG_ID, nullable=False),
        sa.Column("from_tier", sa.String(length=64), nullable=False),
        sa.Column("to_tier", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        _time("at"),
        _member_fk("tier_changes"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tier_changes")),
    )
    op.create_index("ix_tier_changes_member", "tier_changes", ["member_id", "id"])
    op.create_table(
        "historical_turnover",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("member_id", BIG_ID, nullable=False),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("amount", engine.models.base.Amount(precision=18, scale=4), nullable=False),
        sa.Column("import_run_id", BIG_ID, nullable=True),
        _time("created_at"),
        sa.ForeignKeyConstraint(["import_run_id"], ["import_runs.id"],
                                name=op.f("fk_historical_turnover_import_run_id_import_runs")),
        _member_fk("historical_turnover"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_historical_turnover")),
        sa.UniqueConstraint("member_id", "period", name=op.f("uq_historical_turnover_member_id")),
    )


def downgrade() -> None:
    op.drop_table("historical_turnover")
    op.drop_index("ix_tier_changes_member", table_name="tier_changes")
    op.drop_table("tier_changes")
    op.drop_table("tier_states")
