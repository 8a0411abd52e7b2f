"""The dashboard's ledger summaries (hourly totals per kind, each account's last activity, the watermark)
and the indexes its other figures read: lots expiring soon with their remainder (index-only on PostgreSQL),
live members by status.

Revision ID: 0016_admin
Revises: 0015_notify
"""
import sqlalchemy as sa
from alembic import op

import engine.models.base

revision = "0016_admin"
down_revision = "0015_notify"
branch_labels = None
depends_on = None


def _time(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, engine.models.base.UTCDateTime(timezone=True), nullable=nullable)


def _amount(name: str) -> sa.Column:
    return sa.Column(name, engine.models.base.Amount(precision=18, scale=4), nullable=False)


def upgrade() -> None:
    op.create_table(
        "ledger_hour_totals",
        _time("hour"),
        sa.Column("kind", sa.String(length=24), nullable=False),
        _amount("credit"),
        _amount("debit"),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("hour", "kind", name=op.f("pk_ledger_hour_totals")),
    )
    op.create_table(
        "rollup_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("last_entry_id", sa.BigInteger(), nullable=False),
        _amount("total"),
        _time("refreshed_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rollup_state")),
    )
    op.create_table(
        "account_activity",
        sa.Column("account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        _time("last_at"),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_account_activity_account_id_accounts")),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_account_activity")),
    )
    op.create_index("ix_account_activity_last", "account_activity", ["last_at"])
    op.drop_index("ix_lots_expiry", table_name="lots")
    op.create_index("ix_lots_expiry", "lots", ["expires_at"], postgresql_include=["remaining"],
                    postgresql_where=sa.text("remaining > 0"), sqlite_where=sa.text("remaining > 0"))
    op.create_index("ix_members_live_status", "members", ["status"],
                    postgresql_where=sa.text("merged_into_id IS NULL"),
                    sqlite_where=sa.text("merged_into_id IS NULL"))


def downgrade() -> None:
    op.drop_index("ix_members_live_status", table_name="members")
    op.drop_index("ix_lots_expiry", table_name="lots")
    op.create_index("ix_lots_expiry", "lots", ["expires_at"], postgresql_where=sa.text("remaining > 0"),
                    sqlite_where=sa.text("remaining > 0"))
    op.drop_index("ix_account_activity_last", table_name="account_activity")
    op.drop_table("account_activity")
    op.drop_table("rollup_state")
    op.drop_table("ledger_hour_totals")
