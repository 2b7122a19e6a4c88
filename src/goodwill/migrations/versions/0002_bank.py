"""relationship bank: entries and standings

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import goodwill.db

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "bank_entries",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("person_id", BIG_ID, nullable=False),
        sa.Column("event_id", BIG_ID, nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("rule", sa.String(length=40), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("at", goodwill.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("side", sa.String(length=10), nullable=False),
        sa.Column("effect", sa.String(length=8), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_bank_entries_person_id_people"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_entries")),
        sa.UniqueConstraint("event_id", "rule", name=op.f("uq_bank_entries_event_id_rule")),
    )
    with op.batch_alter_table("bank_entries", schema=None) as batch_op:
        batch_op.create_index("ix_bank_entries_person_at", ["person_id", "at"], unique=False)

    op.create_table(
        "bank_standings",
        sa.Column("person_id", BIG_ID, nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("bad_streak", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("value_minor", sa.BigInteger(), nullable=False),
        sa.Column("next_due_at", goodwill.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("computed_at", goodwill.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_bank_standings_person_id_people"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_bank_standings")),
    )
    with op.batch_alter_table("bank_standings", schema=None) as batch_op:
        batch_op.create_index("ix_bank_standings_status_value", ["status", "value_minor"], unique=False)
        batch_op.create_index("ix_bank_standings_next_due_at", ["next_due_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("bank_standings", schema=None) as batch_op:
        batch_op.drop_index("ix_bank_standings_next_due_at")
        batch_op.drop_index("ix_bank_standings_status_value")
    op.drop_table("bank_standings")
    with op.batch_alter_table("bank_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_bank_entries_person_at")
    op.drop_table("bank_entries")
