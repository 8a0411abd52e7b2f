"""Missions: definitions, joined members, per-document progress, rewards given (and reversed).

Revision ID: 0010_missions
Revises: 0009_perf_indexes
"""
import sqlalchemy as sa
from alembic import op

import engine.models.base

revision = "0010_missions"
down_revision = "0009_perf_indexes"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _time(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, engine.models.base.UTCDateTime(timezone=True), nullable=nullable)


def _amount(name: str) -> sa.Column:
    return sa.Column(name, engine.models.base.Amount(precision=18, scale=4), nullable=False)


def _fk(column: str, table: str, source: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{table}.id"], name=op.f(f"fk_{source}_{column}_{table}"))


def upgrade() -> None:
    op.create_table(
        "missions",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("rule_id", sa.String(length=64), nullable=False),
        sa.Column("metric", sa.String(length=16), nullable=False),
        _amount("target"),
        _amount("reward_points"),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("enrolment", sa.String(length=16), nullable=False),
        _time("starts_at"),
        _time("ends_at", nullable=True),
        _time("created_at"),
        sa.CheckConstraint("target > 0", name=op.f("ck_missions_target_positive")),
        sa.CheckConstraint("reward_points > 0", name=op.f("ck_missions_reward_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_missions")),
        sa.UniqueConstraint("code", name=op.f("uq_missions_code")),
    )
    op.create_table(
        "mission_members",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("mission_id", BIG_ID, nullable=False),
        sa.Column("member_id", BIG_ID, nullable=False),
        _time("joined_at"),
        _fk("mission_id", "missions", "mission_members"),
        _fk("member_id", "members", "mission_members"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mission_members")),
        sa.UniqueConstraint("mission_id", "member_id", name=op.f("uq_mission_members_mission_id")),
    )
    op.create_table(
        "mission_progress",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("mission_id", BIG_ID, nullable=False),
        sa.Column("member_id", BIG_ID, nullable=False),
        sa.Column("document_id", BIG_ID, nullable=False),
        sa.Column("period_key", sa.String(length=16), nullable=False),
        _amount("amount"),
        _amount("quantity"),
        _fk("mission_id", "missions", "mission_progress"),
        _fk("member_id", "members", "mission_progress"),
        _fk("document_id", "documents", "mission_progress"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mission_progress")),
        sa.UniqueConstraint("mission_id", "document_id", name=op.f("uq_mission_progress_mission_id")),
    )
    op.create_index("ix_mission_progress_member", "mission_progress",
                    ["mission_id", "member_id", "period_key"])
    op.create_table(
        "mission_awards",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("mission_id", BIG_ID, nullable=False),
        sa.Column("member_id", BIG_ID, nullable=False),
        sa.Column("period_key", sa.String(length=16), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("entry_id", BIG_ID, nullable=False),
        sa.Column("reversal_entry_id", BIG_ID, nullable=True),
        _time("awarded_at"),
        _time("reversed_at", nullable=True),
        _fk("mission_id", "missions", "mission_awards"),
        _fk("member_id", "members", "mission_awards"),
        _fk("entry_id", "ledger_entries", "mission_awards"),
        _fk("reversal_entry_id", "ledger_entries", "mission_awards"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mission_awards")),
        sa.UniqueConstraint("mission_id", "member_id", "period_key", "round",
                            name=op.f("uq_mission_awards_mission_id")),
    )


def downgrade() -> None:
    op.drop_table("mission_awards")
    op.drop_index("ix_mission_progress_member", table_name="mission_progress")
    op.drop_table("mission_progress")
    op.drop_table("mission_members")
    op.drop_table("missions")
