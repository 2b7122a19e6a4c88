"""redemptions: one index on (person_id, reward_id) instead of person_id alone

A redemption counts the person's redemptions of the reward (its per-person limit). With an index on
each column alone, PostgreSQL may answer with a BitmapAnd that reads every redemption the reward
ever had, so a popular reward made each of its redemptions slower. The new index leads with
person_id, so it serves every lookup the old one did.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24 18:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("loyalty_redemptions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_loyalty_redemptions_person_reward", ["person_id", "reward_id"], unique=False
        )
        batch_op.drop_index("ix_loyalty_redemptions_person_id")


def downgrade() -> None:
    with op.batch_alter_table("loyalty_redemptions", schema=None) as batch_op:
        batch_op.create_index("ix_loyalty_redemptions_person_id", ["person_id"], unique=False)
        batch_op.drop_index("ix_loyalty_redemptions_person_reward")
