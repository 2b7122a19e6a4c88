"""The lots' SQL test, the partial index on a person's lots and migration 0010 say the same thing:
the database uses the index only when a query's WHERE contains the index's predicate as written."""

from __future__ import annotations

import importlib

from sqlalchemy.dialects import postgresql, sqlite

from goodwill.loyalty import ledger
from goodwill.loyalty.model import LOT_PREDICATE, LoyaltyEntry


def test_the_lots_sql_test_is_the_partial_indexs_predicate_on_both_backends() -> None:
    for dialect in (postgresql.dialect(), sqlite.dialect()):
        sql = str(ledger._is_lot().compile(dialect=dialect))
        assert sql.replace("loyalty_entries.", "") == LOT_PREDICATE


def test_the_model_and_migration_0010_declare_the_same_index() -> None:
    [index] = [i for i in LoyaltyEntry.__table__.indexes if i.name == "ix_loyalty_entries_person_lots"]
    for backend in ("postgresql", "sqlite"):
        assert str(index.dialect_options[backend]["where"]) == LOT_PREDICATE
    migration = importlib.import_module("goodwill.migrations.versions.0010_lots_drawn")
    assert migration.LOT_PREDICATE == LOT_PREDICATE


def test_the_lot_kinds_are_those_of_the_predicate() -> None:
    assert all(f"kind = '{kind}'" in LOT_PREDICATE for kind in ledger.LOT_KINDS)
    assert LOT_PREDICATE.count("kind = ") == len(ledger.LOT_KINDS)
