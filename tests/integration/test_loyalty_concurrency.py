"""Many simultaneous redemptions on real PostgreSQL never overspend points or stock.

Fifty threads, each with its own session and transaction, start together (a barrier) against one
account and one scarce reward. The locked ``redeem`` lets exactly as many through as the points,
the stock and the per-person limit allow. A naive read-then-write version, written here only, is
run in the same setup to show it overspends: the locks are what make the difference.
"""

from __future__ import annotations

import fcntl
import tempfile
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from goodwill.config import load_settings
from goodwill.db import Database
from goodwill.events.model import Event
from goodwill.loyalty import ledger
from goodwill.loyalty.ledger import Refused
from goodwill.loyalty.lots import plan_draws
from goodwill.loyalty.model import (
    EntryKind,
    LoyaltyAccount,
    LoyaltyDraw,
    LoyaltyEntry,
    Redemption,
    RedemptionStatus,
    Reward,
)
from goodwill.loyalty.redemption import redeem
from goodwill.loyalty.rewards import RewardInput, create_reward
from goodwill.people.service import PersonRecord, create_person

THREADS = 50
COST = 100
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
SETTINGS = load_settings()


@pytest.fixture
def pool(pg_db: Database) -> Iterator[Database]:
    """The same database with a connection for every thread, so all of them really run at once.

    Two such pools (xdist workers, or another test run on this machine) would pass PostgreSQL's
    default max_connections of 100, so these tests take turns on a file lock.
    """
    turn = Path(tempfile.gettempdir()) / "goodwill-tests-fifty-connections.lock"
    with turn.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        database = Database(pg_db.url, pool_size=THREADS, max_overflow=0, pool_timeout=120)
        try:
            yield database
        finally:
            database.dispose()


def _setup(db: Database, *, lots: int, stock: int | None, limit: int | None) -> tuple[int, int]:
    """A person holding ``lots`` lots of COST points (expiring on different days) and one reward."""
    with db.transaction() as s:
        person, _ = create_person(s, PersonRecord(name="Ann", email="ann@example.com"), source="test")
        for number in range(lots):
            ledger.add_lot(
                s,
                person_id=person.id,
                kind=EntryKind.earn,
                points=COST,
                key=f"earn:seed:{number}",
                at=NOW - timedelta(days=30),
                available_at=NOW - timedelta(days=20),
                expires_at=NOW + timedelta(days=100 - number),
            )
        data = RewardInput(name="Mug", kind="discount", cost_points=COST, stock=stock, per_person_limit=limit)
        return person.id, create_reward(s, data=data).id


def _all_at_once(work: Callable[[int, threading.Barrier], str]) -> list[str]:
    """Run ``work(thread number, barrier)`` in THREADS threads; each waits on the barrier first."""
    barrier = threading.Barrier(THREADS, timeout=120)
    with ThreadPoolExecutor(max_workers=THREADS) as executor:
        return list(executor.map(lambda number: work(number, barrier), range(THREADS)))


def _locked(
    pool: Database, person_id: int, reward_id: int, same_key: bool
) -> Callable[[int, threading.Barrier], str]:
    def work(number: int, barrier: threading.Barrier) -> str:
        barrier.wait()
        try:
            with pool.transaction() as s:
                result = redeem(
                    s,
                    person_id=person_id,
                    reward_id=reward_id,
                    request_key="same" if same_key else f"request-{number}",
                    ship_to=None,
                    now=NOW,
                    by="customer",
                    settings=SETTINGS,
                )
                return (
                    f"created:{result.redemption.id}" if result.created else f"replay:{result.redemption.id}"
                )
        except Refused as refused:
            return refused.code

    return work


def _committed(db: Database, person_id: int, reward_id: int) -> tuple[int, int | None, int, int, int]:
    """(stored balance, stock, redemptions, points in redeem entries, points in their draws)."""
    with db.reading() as s:
        balance = s.scalars(select(LoyaltyAccount.balance).where(LoyaltyAccount.person_id == person_id)).one()
        stock = s.scalars(select(Reward.stock).where(Reward.id == reward_id)).one()
        count = s.scalar(select(func.count()).select_from(Redemption)) or 0
        redeemed = s.scalar(
            select(func.sum(LoyaltyEntry.points)).where(LoyaltyEntry.kind == EntryKind.redeem)
        )
        drawn = s.scalar(
            select(func.sum(LoyaltyDraw.points))
            .join(LoyaltyEntry, LoyaltyEntry.id == LoyaltyDraw.entry_id)
            .where(LoyaltyEntry.kind == EntryKind.redeem)
        )
        return balance, stock, count, -(redeemed or 0), drawn or 0


# (lots of COST points, stock, per-person limit, the refusal the rest get)
SCARCE = {
    "stock-runs-out": (7, 5, None, "out_of_stock"),
    "points-run-out": (7, 10, None, "not_enough_points"),
    "limit-reached": (20, None, 3, "limit_reached"),
}


@pytest.mark.parametrize(("lots", "stock", "limit", "refusal"), SCARCE.values(), ids=SCARCE.keys())
def test_fifty_simultaneous_redemptions_never_overspend(
    pg_db: Database, pool: Database, lots: int, stock: int | None, limit: int | None, refusal: str
) -> None:
    person_id, reward_id = _setup(pg_db, lots=lots, stock=stock, limit=limit)
    outcomes = _all_at_once(_locked(pool, person_id, reward_id, same_key=False))
    allowed = min(n for n in (lots, stock, limit) if n is not None)
    assert sum(o.startswith("created:") for o in outcomes) == allowed
    assert sorted(set(outcomes) - {o for o in outcomes if o.startswith("created:")}) == [refusal]
    balance, left, count, redeemed, drawn = _committed(pg_db, person_id, reward_id)
    assert (count, redeemed, drawn) == (allowed, allowed * COST, allowed * COST)
    assert balance == (lots - allowed) * COST >= 0
    assert left == (None if stock is None else stock - allowed)
    assert left is None or left >= 0
    with pg_db.reading() as s:
        assert ledger.check(s) == []
        assert s.scalar(select(func.count()).where(Event.kind == "reward_redeemed")) == allowed


def test_fifty_identical_requests_redeem_once(pg_db: Database, pool: Database) -> None:
    person_id, reward_id = _setup(pg_db, lots=7, stock=5, limit=None)
    outcomes = _all_at_once(_locked(pool, person_id, reward_id, same_key=True))
    created = [o for o in outcomes if o.startswith("created:")]
    assert len(created) == 1
    assert sorted(set(outcomes)) == sorted({created[0], created[0].replace("created", "replay")})
    assert _committed(pg_db, person_id, reward_id) == (600, 4, 1, COST, COST)
    with pg_db.reading() as s:
        assert ledger.check(s) == []
        assert s.scalar(select(func.count()).where(Event.kind == "reward_redeemed")) == 1


def _naive_redeem(
    session: Session, person_id: int, reward_id: int, number: int, barrier: threading.Barrier
) -> str:
    """Read-then-write without locks: what ``redeem`` would be without lock_account and FOR UPDATE."""
    balance = session.scalars(
        select(LoyaltyAccount.balance).where(LoyaltyAccount.person_id == person_id)
    ).one()
    stock = session.scalars(select(Reward.stock).where(Reward.id == reward_id)).one()
    lots = ledger.lots_of(session, person_id=person_id)
    # Everyone has read before anyone writes: the interleaving a race allows, made certain.
    barrier.wait()
    if balance < COST or (stock is not None and stock <= 0):
        return "refused"
    redemption = Redemption(
        person_id=person_id,
        reward_id=reward_id,
        points=COST,
        status=RedemptionStatus.delivered,
        request_key=f"naive-{number}",
        history=[],
    )
    session.add(redemption)
    session.flush()
    entry = LoyaltyEntry(
        person_id=person_id, kind=EntryKind.redeem, points=-COST, key=f"redeem:{redemption.id}", at=NOW
    )
    session.add(entry)
    session.flush()
    session.add_all(
        LoyaltyDraw(entry_id=entry.id, lot_id=lot_id, points=points)
        for lot_id, points in plan_draws(lots, COST, NOW)
    )
    session.execute(
        update(LoyaltyAccount).where(LoyaltyAccount.person_id == person_id).values(balance=balance - COST)
    )
    if stock is not None:
        session.execute(update(Reward).where(Reward.id == reward_id).values(stock=stock - 1))
    return "created"


def test_a_naive_read_then_write_redemption_overspends(pg_db: Database, pool: Database) -> None:
    person_id, reward_id = _setup(pg_db, lots=7, stock=5, limit=None)

    def work(number: int, barrier: threading.Barrier) -> str:
        with pool.transaction() as s:
            return _naive_redeem(s, person_id, reward_id, number, barrier)

    outcomes = _all_at_once(work)
    successes = outcomes.count("created")
    assert successes == THREADS  # ten times the stock, seven times what the points allowed
    balance, stock, count, redeemed, _ = _committed(pg_db, person_id, reward_id)
    assert count == successes
    assert balance == 600  # every writer wrote "700 - 100"
    assert redeemed > 7 * COST  # points spent that the person never had
    assert stock == 4  # every writer wrote "5 - 1": the stock no longer says what was given away
    with pg_db.reading() as s:
        entries_total = s.scalar(
            select(func.sum(LoyaltyEntry.points)).where(LoyaltyEntry.person_id == person_id)
        )
        assert entries_total is not None and entries_total < 0  # the ledger is overdrawn
        problems = [m.problem for m in ledger.check(s)]
    assert any("stored balance is 600 but the entries add up to" in p for p in problems)
    assert any("were drawn from it" in p for p in problems)  # lots overdrawn
