"""Vocabulary gaps: the promo/coupon codes an order carried, and product tags (on the catalog and on lines).

Revision ID: 0014_order_codes
Revises: 0013_tiers
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0014_order_codes"
down_revision = "0013_tiers"
branch_labels = None
depends_on = None

JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    # NULL means none: existing rows need no rewrite, and the COPY paths may leave them out.
    with op.batch_alter_table("documents") as batch:
        batch.add_column(sa.Column("codes", JSON_DOC, nullable=True))
    with op.batch_alter_table("document_lines") as batch:
        batch.add_column(sa.Column("tags", JSON_DOC, nullable=True))
    with op.batch_alter_table("products") as batch:
        batch.add_column(sa.Column("tags", JSON_DOC, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("products") as batch:
        batch.drop_column("tags")
    with op.batch_alter_table("document_lines") as batch:
        batch.drop_column("tags")
    with op.batch_alter_table("documents") as batch:
        batch.drop_column("codes")
