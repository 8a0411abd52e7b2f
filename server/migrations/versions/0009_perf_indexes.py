"""Balances read open lots from the index alone: ix_lots_open also carries remaining and available_at.

A balance is the sum of one account's open lots (remaining > 0, not
expired) split into available and pending; with both columns in the
partial index, PostgreSQL answers it with an index-only scan instead of
visiting every lot's heap page. SQLite has no INCLUDE: nothing changes there.

Revision ID: 0009_perf_indexes
Revises: 0008_card_values
"""
import sqlalchemy as sa
from alembic import op

revision = "0009_perf_indexes"
down_revision = "0008_card_values"
branch_labels = None
depends_on = None


def _open_lots_index(include: list[str]) -> None:
    op.drop_index("ix_lots_open", table_name="lots")
    op.create_index("ix_lots_open", "lots", ["account_id", "expires_at"], unique=False,
                    postgresql_where=sa.text("remaining > 0"), postgresql_include=include)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _open_lots_index(["remaining", "available_at"])


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _open_lots_index([])
