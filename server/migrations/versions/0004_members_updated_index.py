"""Index members by last change (the 1C exchange sends changed profiles).

Revision ID: 0004_members_updated
Revises: 0003_onec
"""
from alembic import op

revision = "0004_members_updated"
down_revision = "0003_onec"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_members_updated", "members", ["updated_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_members_updated", table_name="members")
