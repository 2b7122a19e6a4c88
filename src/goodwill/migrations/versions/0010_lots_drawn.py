"""loyalty: each lot's drawn points stored, and an index on a person's lots

Spending read a person's lots by adding up every draw from each of them, among all their entries:
its cost grew with the person's whole history. ``loyalty_lots_drawn`` keeps the sum of each lot's
draws (filled here from the draws, then kept in step with every draw), and a partial index on
``loyalty_entries`` finds a person's lots without the rest of their entries. The ledger itself is
unchanged and stays append-only.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-24 21:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As ``loyalty.model.LOT_PREDICATE`` when this revision was written (a migration keeps its own copy).
LOT_PREDICATE = "(kind = 'earn' OR kind = 'adjust') AND points > 0"


def upgrade() -> None:
    op.create_table(
        "loyalty_lots_drawn",
        sa.Column("lot_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("drawn", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["lot_id"],
            ["loyalty_entries.id"],
            name=op.f("fk_loyalty_lots_drawn_lot_id_loyalty_entries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("lot_id", name=op.f("pk_loyalty_lots_drawn")),
    )
    op.execute(
        "INSERT INTO loyalty_lots_drawn (lot_id, drawn) "
        "SELECT lot_id, sum(points) FROM loyalty_draws GROUP BY lot_id"
    )
    op.create_index(
        "ix_loyalty_entries_person_lots",
        "loyalty_entries",
        ["person_id"],
        unique=False,
        postgresql_where=sa.text(LOT_PREDICATE),
        sqlite_where=sa.text(LOT_PREDICATE),
    )


def downgrade() -> None:
    op.drop_index("ix_loyalty_entries_person_lots", table_name="loyalty_entries")
    op.drop_table("loyalty_lots_drawn")
