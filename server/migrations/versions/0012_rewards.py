"""Rewards: the catalog of rewards, the pictures we keep, reward orders, their items and status history.

Revision ID: 0012_rewards
Revises: 0011_promo_codes
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import engine.models.base

revision = "0012_rewards"
down_revision = "0011_promo_codes"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
AMOUNT = engine.models.base.Amount(precision=18, scale=4)
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _time(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, engine.models.base.UTCDateTime(timezone=True), nullable=nullable)


def _fk(column: str, table: str, owner: str, **kw) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{table}.id"], name=op.f(f"fk_{owner}_{column}_{table}"), **kw)


def upgrade() -> None:
    op.create_table(
        "rewards",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("price", AMOUNT, nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("points_price", AMOUNT, nullable=False),
        sa.Column("points_manual", sa.Boolean(), nullable=False),
        sa.Column("stock", sa.Integer(), nullable=True),
        sa.Column("picture_url", sa.String(length=500), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        _time("updated_at"),
        sa.CheckConstraint("stock IS NULL OR stock >= 0", name=op.f("ck_rewards_stock_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rewards")),
        sa.UniqueConstraint("sku", name=op.f("uq_rewards_sku")),
    )
    op.create_table(
        "reward_pictures",
        sa.Column("reward_id", BIG_ID, nullable=False),
        sa.Column("source_url", sa.String(length=500), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=True),
        sa.Column("data", sa.LargeBinary(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("fetched_url", sa.String(length=500), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=True),
        _time("fetched_at", nullable=True),
        _fk("reward_id", "rewards", "reward_pictures", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("reward_id", name=op.f("pk_reward_pictures")),
    )
    op.create_table(
        "reward_orders",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("external_id", sa.String(length=100), nullable=False),
        sa.Column("account_id", BIG_ID, nullable=False),
        sa.Column("member_id", BIG_ID, nullable=False),
        sa.Column("recipient_id", BIG_ID, nullable=False),
        sa.Column("redemption_id", BIG_ID, nullable=False),
        sa.Column("points", AMOUNT, nullable=False),
        sa.Column("address", JSON_DOC, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        _time("placed_at"),
        _time("updated_at"),
        _fk("account_id", "accounts", "reward_orders"),
        _fk("member_id", "members", "reward_orders"),
        _fk("recipient_id", "members", "reward_orders"),
        _fk("redemption_id", "redemptions", "reward_orders"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reward_orders")),
        sa.UniqueConstraint("external_id", name=op.f("uq_reward_orders_external_id")),
        sa.UniqueConstraint("redemption_id", name=op.f("uq_reward_orders_redemption_id")),
    )
    op.create_index(op.f("ix_reward_orders_account_id"), "reward_orders", ["account_id"])
    op.create_index(op.f("ix_reward_orders_status"), "reward_orders", ["status"])
    op.create_table(
        "reward_order_items",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("order_id", BIG_ID, nullable=False),
        sa.Column("reward_id", BIG_ID, nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_points", AMOUNT, nullable=False),
        _fk("order_id", "reward_orders", "reward_order_items", ondelete="CASCADE"),
        _fk("reward_id", "rewards", "reward_order_items"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reward_order_items")),
    )
    op.create_index(op.f("ix_reward_order_items_order_id"), "reward_order_items", ["order_id"])
    op.create_table(
        "reward_order_statuses",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("order_id", BIG_ID, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        _time("at"),
        _fk("order_id", "reward_orders", "reward_order_statuses", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reward_order_statuses")),
    )
    op.create_index(op.f("ix_reward_order_statuses_order_id"), "reward_order_statuses", ["order_id"])


def downgrade() -> None:
    op.drop_table("reward_order_statuses")
    op.drop_table("reward_order_items")
    op.drop_table("reward_orders")
    op.drop_table("reward_pictures")
    op.drop_table("rewards")
