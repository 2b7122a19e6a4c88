"""A redemption's read must not grow with the reward's popularity, nor with the person's history.

``REWARD_TO_REDEEM`` counts the person's redemptions of the reward (its per-person limit). With only
an index on each column, PostgreSQL answered that count with a BitmapAnd that read every redemption
the reward had ever had (5,683 index entries for one count in the loyalty bench's database): a
popular reward made every redemption of it slower. The plan is read with EXPLAIN ANALYZE, so the
test checks rows visited, not time. On the schema before migration 0009 it fails (3,000 rows).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, text

from goodwill.db import Database, utcnow
from goodwill.loyalty.ledger import LOT_KINDS, add_lot, check
from goodwill.loyalty.model import EntryKind
from goodwill.loyalty.redemption import REWARD_TO_REDEEM
from goodwill.loyalty.rewards import RewardInput, create_reward
from goodwill.people.service import PersonRecord, create_person

OTHERS = 3_000  # redemptions of the reward by other people
MOST = 50  # rows any step of the read may visit (the person's own rows are a handful)


def _popular_reward(db: Database) -> tuple[int, int]:
    """A person with one earn, and a reward that OTHERS other people have redeemed once each since
    the statistics were last gathered (as for a new reward that becomes popular between two of
    autovacuum's ANALYZE runs; autovacuum is off for the table, so none runs during the test)."""
    now = utcnow()
    with db.engine.connect() as conn:
        conn.exec_driver_sql("ALTER TABLE loyalty_redemptions SET (autovacuum_enabled = false)")
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
    with db.transaction() as s:
        person, _ = create_person(s, PersonRecord(name="Ann", email="ann@example.com"), source="test")
        reward_id = create_reward(s, data=RewardInput(name="Tea", kind="discount", cost_points=10)).id
        s.execute(
            text(
                "INSERT INTO loyalty_entries (person_id, kind, points, key, at, available_at, recorded_at) "
                "VALUES (:p, :kind, 500, 'earn:ann', :now, :now, :now)"
            ),
            {"p": person.id, "kind": LOT_KINDS[0], "now": now},
        )
        first = int(s.scalar(text("SELECT coalesce(max(id), 0) + 1 FROM people")))
        s.execute(
            text(
                "INSERT INTO people (id, kind, name, search_key, created_at, updated_at) "
                "SELECT x, 'customer', 'Other', 'other', :now, :now "
                "FROM generate_series(CAST(:a AS BIGINT), :b) x"
            ),
            {"a": first, "b": first + OTHERS - 1, "now": now},
        )
        s.execute(
            text(
                "INSERT INTO loyalty_redemptions (person_id, reward_id, points, status, request_key, "
                "history, created_at, updated_at) "
                "SELECT x, :reward, 10, 'fulfilled', 'k' || x, '[]', :now, :now "
                "FROM generate_series(CAST(:a AS BIGINT), :b) x"
            ),
            {"reward": reward_id, "a": first, "b": first + OTHERS - 1, "now": now},
        )
    return person.id, reward_id


def _visits(node: dict[str, Any]) -> list[tuple[str, int]]:
    """(node, rows it produced over all its loops) for every node of a JSON plan."""
    here = [(f"{node['Node Type']} {node.get('Index Name', node.get('Relation Name', ''))}",
             int(node["Actual Rows"]) * int(node["Actual Loops"]))]  # fmt: skip
    for child in node.get("Plans", []):
        here += _visits(child)
    return here


@pytest.fixture
def no_autovacuum(pg_db: Database) -> Iterator[Database]:
    """The test's PostgreSQL database, with autovacuum switched back on for the table afterwards
    (the database serves the worker's later tests)."""
    yield pg_db
    with pg_db.engine.connect() as conn:
        conn.exec_driver_sql("ALTER TABLE loyalty_redemptions RESET (autovacuum_enabled)")
        conn.commit()


def _read_visits(pg_db: Database, person_id: int, reward_id: int) -> list[tuple[str, int]]:
    """The rows each step of the redemption's read visits, for this person and reward."""
    seen: list[tuple[str, Any]] = []

    def keep(_c: Any, _cursor: Any, sql: str, params: Any, _ctx: Any, _many: bool) -> None:
        seen.append((sql, params))

    with pg_db.engine.connect() as conn:
        event.listen(conn, "before_cursor_execute", keep)
        read = {"person": person_id, "person_id": person_id, "request": "new", "reward": reward_id}
        assert conn.execute(REWARD_TO_REDEEM["postgresql"].statement, read).one().done == 0
        event.remove(conn, "before_cursor_execute", keep)
        [(sql, params)] = seen
        raw = conn.connection.dbapi_connection
        assert raw is not None
        plan = raw.cursor().execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params).fetchone()[0]
        conn.rollback()
    plan = plan if isinstance(plan, list) else json.loads(plan)
    return _visits(plan[0]["Plan"])


def test_counting_the_persons_redemptions_of_a_popular_reward_reads_only_theirs(
    no_autovacuum: Database,
) -> None:
    person_id, reward_id = _popular_reward(no_autovacuum)
    visits = _read_visits(no_autovacuum, person_id, reward_id)
    assert max(rows for _, rows in visits) <= MOST, visits


HISTORY = 3_000  # a member's past redemptions of one reward (no per-person limit), all from one lot


def test_a_long_history_does_not_make_reading_the_persons_lots_slower(pg_db: Database) -> None:
    """The lots are found through the partial index on a person's lots, and what is left in each is
    stored: neither the person's other entries nor their lots' draws are read (before migration
    0010, 3,000 of each were), nor their redemptions of a reward without a per-person limit."""
    now = utcnow()
    with pg_db.transaction() as s:
        person, _ = create_person(s, PersonRecord(name="Ann", email="ann@example.com"), source="test")
        reward_id = create_reward(s, data=RewardInput(name="Tea", kind="discount", cost_points=10)).id
        lots = [
            add_lot(
                s,
                person_id=person.id,
                kind=EntryKind.earn,
                points=points,
                key=key,
                at=now,
                available_at=now,
                expires_at=None,
                rule="test",
            )
            for points, key in [(1_000_000, "earn:big"), (500, "earn:small")]
        ]
        big = lots[0]
        assert big is not None
        s.execute(
            text(
                "INSERT INTO loyalty_entries (person_id, kind, points, key, at, recorded_at) "
                "SELECT :p, 'redeem', -10, 'redeem:' || x, :now, :now FROM generate_series(1, :n) x"
            ),
            {"p": person.id, "now": now, "n": HISTORY},
        )
        s.execute(
            text(
                "INSERT INTO loyalty_draws (entry_id, lot_id, points) "
                "SELECT id, :lot, 10 FROM loyalty_entries WHERE person_id = :p AND kind = 'redeem'"
            ),
            {"p": person.id, "lot": big.id},
        )
        s.execute(
            text(
                "INSERT INTO loyalty_redemptions (person_id, reward_id, points, status, request_key, "
                "history, created_at, updated_at) "
                "SELECT :p, :reward, 10, 'delivered', 'k' || x, '[]', :now, :now "
                "FROM generate_series(1, :n) x"
            ),
            {"p": person.id, "reward": reward_id, "now": now, "n": HISTORY},
        )
        s.execute(
            text("INSERT INTO loyalty_lots_drawn (lot_id, drawn) VALUES (:lot, :n * 10)"),
            {"lot": big.id, "n": HISTORY},
        )
        s.execute(
            text("UPDATE loyalty_accounts SET balance = balance - :n * 10 WHERE person_id = :p"),
            {"p": person.id, "n": HISTORY},
        )
        assert check(s) == []
    with pg_db.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
    visits = _read_visits(pg_db, person.id, reward_id)
    assert max(rows for _, rows in visits) <= MOST, visits
