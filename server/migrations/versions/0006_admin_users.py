"""Admin UI users: failed-login counter and lockout, preferred language, last login.

Revision ID: 0006_admin_users
Revises: 0005_ledger_balance
"""
import sqlalchemy as sa
from alembic import op

import engine.models.base

revision = "0006_admin_users"
down_revision = "0005_ledger_balance"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("locked_until", engine.models.base.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("locale", sa.String(length=8), nullable=False, server_default=""))
        batch.add_column(sa.Column("last_login_at", engine.models.base.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("last_login_at")
        batch.drop_column("locale")
        batch.drop_column("locked_until")
        batch.drop_column("failed_logins")
