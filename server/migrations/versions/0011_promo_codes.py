"""Promo codes: batches (generated from a pattern or imported) and their single-use codes.

Revision ID: 0011_promo_codes
Revises: 0010_missions
"""
import sqlalchemy as sa
from alembic import op

import engine.models.base

revision = "0011_promo_codes"
down_revision = "0010_missions"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _time(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, engine.models.base.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "promo_batches",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("pattern", sa.String(length=64), nullable=True),
        sa.Column("points", engine.models.base.Amount(precision=18, scale=4), nullable=True),
        _time("valid_from", nullable=True),
        _time("valid_until", nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("code_count", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        _time("created_at"),
        _time("deactivated_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promo_batches")),
        sa.UniqueConstraint("name", name=op.f("uq_promo_batches_name")),
    )
    op.create_table(
        "promo_codes",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("batch_id", BIG_ID, nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        _time("redeemed_at", nullable=True),
        sa.Column("member_id", BIG_ID, nullable=True),
        sa.ForeignKeyConstraint(["batch_id"], ["promo_batches.id"], ondelete="CASCADE",
                                name=op.f("fk_promo_codes_batch_id_promo_batches")),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"],
                                name=op.f("fk_promo_codes_member_id_members")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promo_codes")),
        sa.UniqueConstraint("code", name=op.f("uq_promo_codes_code")),
    )
    op.create_index("ix_promo_codes_batch_id_id", "promo_codes", ["batch_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_promo_codes_batch_id_id", table_name="promo_codes")
    op.drop_table("promo_codes")
    op.drop_table("promo_batches")
