"""Each lot's drawn points (``loyalty_lots_drawn``): kept in step by every way points leave or come
back to a lot, filled by migration 0010 from the draws already written, and checked by ``ledger.check``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from goodwill.config import load_settings
from goodwill.db import Database
from goodwill.loyalty import ledger
from goodwill.loyalty.model import EntryKind, LotDrawn, LoyaltyDraw
from goodwill.loyalty.redemption import redeem, refund
from goodwill.loyalty.rewards import RewardInput, create_reward
from goodwill.people.service import PersonRecord, create_person
from goodwill.team.service import create_user

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
EARNED = NOW - timedelta(days=60)
SETTINGS = load_settings()


def _stored(s: Session) -> dict[int, int]:
    return {lot: drawn for lot, drawn in s.execute(select(LotDrawn.lot_id, LotDrawn.drawn))}


def _from_draws(s: Session) -> dict[int, int]:
    rows = s.execute(select(LoyaltyDraw.lot_id, func.sum(LoyaltyDraw.points)).group_by(LoyaltyDraw.lot_id))
    return {lot: int(drawn) for lot, drawn in rows}


def _lot(s: Session, person_id: int, points: int, key: str, expires_at: datetime | None = None) -> int:
    entry = ledger.add_lot(
        s, person_id=person_id, kind=EntryKind.earn, points=points, key=key, at=EARNED,
        available_at=EARNED, expires_at=expires_at, rule="test",
    )  # fmt: skip
    assert entry is not None
    return entry.id


def test_every_way_of_drawing_keeps_each_lots_drawn_points(db: Database) -> None:
    """Redeeming (PostgreSQL: the one-statement write), refunding, expiring and taking back an earn."""
    with db.transaction() as s:
        ann, _ = create_person(s, PersonRecord(name="Ann", email="ann@example.com"), source="test")
        clerk = create_user(
            session=s, email="clerk@shop.test", role="agent", password="a long staff password"
        )
        first = _lot(s, ann.id, 100, "earn:1", expires_at=NOW + timedelta(days=1))
        second = _lot(s, ann.id, 300, "earn:2")
        reward = create_reward(s, data=RewardInput(name="Tea", kind="discount", cost_points=150)).id
    with db.transaction() as s:
        made = redeem(
            s, person_id=ann.id, reward_id=reward, request_key="r1", ship_to=None, now=NOW,
            by="customer", settings=SETTINGS,
        )  # fmt: skip
        assert _stored(s) == {first: 100, second: 50}
    with db.transaction() as s:
        refund(s, redemption_id=made.redemption.id, by_user_id=clerk.id, now=NOW, reason="changed mind")
        assert _stored(s) == {first: 0, second: 0}
    with db.transaction() as s:
        assert ledger.expire_due(s, now=NOW + timedelta(days=2)) == 100
        assert (
            ledger.reverse_earn(s, lot_id=second, points=120, key="reverse:c", at=NOW, reason="cancelled")
            == 120
        )
    with db.transaction() as s:
        assert _stored(s) == _from_draws(s) == {first: 100, second: 120}
        assert [(lot.id, lot.remaining) for lot in ledger.lots_of(s, person_id=ann.id)] == [(second, 180)]
        assert ledger.check(s) == []


def test_check_reports_drawn_points_stored_off_their_draws(db: Database) -> None:
    with db.transaction() as s:
        ann, _ = create_person(s, PersonRecord(name="Ann", email="ann@example.com"), source="test")
        lot = _lot(s, ann.id, 100, "earn:1")
        ledger.take(s, person_id=ann.id, kind=EntryKind.redeem, key="r1", at=NOW, draws=[(lot, 30)])
        assert ledger.check(s) == []
        s.execute(text("UPDATE loyalty_lots_drawn SET drawn = 37"))
        assert ledger.check(s) == [
            ledger.BalanceMismatch(
                ann.id, f"lot {lot}: 37 points are stored as drawn from it, but its draws add up to 30"
            )
        ]
        s.execute(text("DELETE FROM loyalty_lots_drawn"))
        assert ledger.check(s) == [
            ledger.BalanceMismatch(
                ann.id, f"lot {lot}: its draws add up to 30 points, but none are stored as drawn"
            )
        ]


# -- migration 0010 ---------------------------------------------------------------------------------


def _history_before_0010(s: Session, person_id: int) -> tuple[int, int]:
    """Two lots, a redemption drawing from both and a refund giving part back, in plain SQL (the
    ORM's tables are the newest schema's)."""
    insert_entry = text(
        "INSERT INTO loyalty_entries (person_id, kind, points, key, at, available_at, recorded_at) "
        "VALUES (:p, :kind, :points, :key, :at, :at, :at)"
    )
    ids: dict[str, int] = {}
    for kind, points, key in [
        ("earn", 100, "e1"),
        ("earn", 50, "e2"),
        ("redeem", -120, "r1"),
        ("reverse", 20, "b1"),
    ]:
        s.execute(insert_entry, {"p": person_id, "kind": kind, "points": points, "key": key, "at": EARNED})
        ids[key] = int(s.scalar(text("SELECT id FROM loyalty_entries WHERE key = :k"), {"k": key}))
    for entry, lot, points in [("r1", "e1", 100), ("r1", "e2", 20), ("b1", "e2", -20)]:
        s.execute(
            text("INSERT INTO loyalty_draws (entry_id, lot_id, points) VALUES (:e, :l, :p)"),
            {"e": ids[entry], "l": ids[lot], "p": points},
        )
    s.execute(
        text(
            "INSERT INTO loyalty_accounts (person_id, joined_at, balance, issued, tier, updated_at) "
            "VALUES (:p, :at, 50, 150, '', :at)"
        ),
        {"p": person_id, "at": EARNED},
    )
    return ids["e1"], ids["e2"]


def test_migration_0010_fills_each_lots_drawn_points_from_its_draws(empty_database_url: str) -> None:
    from alembic import command

    from goodwill.db import alembic_config

    database = Database(empty_database_url)
    try:
        database.migrate("0009")
        with database.transaction() as s:
            ann, _ = create_person(s, PersonRecord(name="Ann", email="ann@example.com"), source="test")
            first, second = _history_before_0010(s, ann.id)
        database.migrate()
        with database.transaction() as s:
            assert _stored(s) == {first: 100, second: 0}
            assert [(lot.id, lot.remaining) for lot in ledger.lots_of(s, person_id=ann.id)] == [(second, 50)]
            assert ledger.check(s) == []
        command.downgrade(alembic_config(empty_database_url), "0009")
        database.migrate()
        with database.transaction() as s:
            assert _stored(s) == {first: 100, second: 0}
    finally:
        database.dispose()


def test_sqlite_reads_a_persons_lots_through_the_partial_index(sqlite_db: Database) -> None:
    """PostgreSQL's plan is checked by rows visited (test_redeem_plan.py); SQLite's by its plan."""
    with sqlite_db.transaction() as s:
        ann, _ = create_person(s, PersonRecord(name="Ann", email="ann@example.com"), source="test")
        lot = _lot(s, ann.id, 10_000, "earn:1")
        for n in range(200):
            ledger.take(s, person_id=ann.id, kind=EntryKind.redeem, key=f"r{n}", at=NOW, draws=[(lot, 1)])
    compiled = ledger.LOTS_OF.compile(dialect=sqlite_db.engine.dialect)
    values = compiled.construct_params({"person_id": ann.id})
    params = tuple(values[name] for name in compiled.positiontup or ())
    with sqlite_db.engine.connect() as conn:
        plan = [row[3] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + str(compiled), params)]
    assert any("USING INDEX ix_loyalty_entries_person_lots" in step for step in plan), plan
