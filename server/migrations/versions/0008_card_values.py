"""1C cards keep the e-mail 1C last sent for them (the name is kept already), so the outbound
query sends each card its own values instead of the merged member's latest ones.

Revision ID: 0008_card_values
Revises: 0007_outbox
"""
import sqlalchemy as sa
from alembic import op

revision = "0008_card_values"
down_revision = "0007_outbox"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("member_cards") as batch:
        batch.add_column(sa.Column("email", sa.String(254), nullable=True))


def downgrade():
    with op.batch_alter_table("member_cards") as batch:
        batch.drop_column("email")
