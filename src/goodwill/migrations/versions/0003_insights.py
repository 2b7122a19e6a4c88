"""insights: scoring runs, per-person scores and milestones

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import goodwill.db

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "insight_runs",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("scored_at", goodwill.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("engine", sa.String(length=10), nullable=False),
        sa.Column("period", sa.String(length=8), nullable=False),
        sa.Column("horizon_months", sa.Integer(), nullable=False),
        sa.Column("monthly_discount", sa.Float(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("customers", sa.Integer(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_insight_runs")),
    )
    op.create_table(
        "insight_scores",
        sa.Column("person_id", BIG_ID, nullable=False),
        sa.Column("run_id", BIG_ID, nullable=False),
        sa.Column("first_purchase_on", sa.Date(), nullable=False),
        sa.Column("last_purchase_on", sa.Date(), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.Column("frequency", sa.Integer(), nullable=False),
        sa.Column("recency_days", sa.Integer(), nullable=False),
        sa.Column("age_days", sa.Integer(), nullable=False),
        sa.Column("total_spend_minor", sa.BigInteger(), nullable=False),
        sa.Column("r_score", sa.SmallInteger(), nullable=False),
        sa.Column("f_score", sa.SmallInteger(), nullable=False),
        sa.Column("m_score", sa.SmallInteger(), nullable=False),
        sa.Column("segment", sa.String(length=24), nullable=False),
        sa.Column("p_alive", sa.Float(), nullable=True),
        sa.Column("expected_purchases", sa.Float(), nullable=True),
        sa.Column("clv_minor", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_insight_scores_person_id_people"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["insight_runs.id"],
            name=op.f("fk_insight_scores_run_id_insight_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_insight_scores")),
    )
    op.create_index("ix_insight_scores_segment", "insight_scores", ["segment"], unique=False)
    op.create_index(op.f("ix_insight_scores_run_id"), "insight_scores", ["run_id"], unique=False)
    op.create_table(
        "insight_milestones",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("person_id", BIG_ID, nullable=False),
        sa.Column("run_id", BIG_ID, nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("reached_on", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_insight_milestones_person_id_people"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["insight_runs.id"],
            name=op.f("fk_insight_milestones_run_id_insight_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_insight_milestones")),
    )
    op.create_index(
        op.f("ix_insight_milestones_person_id"), "insight_milestones", ["person_id"], unique=False
    )
    op.create_index(
        "ix_insight_milestones_reached_on_kind", "insight_milestones", ["reached_on", "kind"], unique=False
    )


def downgrade() -> None:
    op.drop_table("insight_milestones")
    op.drop_table("insight_scores")
    op.drop_table("insight_runs")
