"""Awarding on real PostgreSQL never deadlocks: live passes lock accounts in person id order, bulk jobs
take turns (one advisory lock).

Each test first holds the contested locks in a third transaction, starts the workers together
(a barrier), waits until PostgreSQL shows every worker waiting for a lock, then lets go: the workers
then all race for the same locks at once, which deadlocked before (one of them was rolled back
with "deadlock detected").
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from lock_waits import waiting
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from goodwill.config import Settings, load_settings
from goodwill.db import Database
from goodwill.events.service import NewEvent, record_event
from goodwill.loyalty.awards import award_all, award_events, refresh_tiers
from goodwill.loyalty.awards_dialect import BULK_LOCK_KEY
from goodwill.loyalty.ledger import expire_due
from goodwill.loyalty.model import LoyaltyEntry
from goodwill.people.service import PersonRecord, resolve_people

SETTINGS: Settings = load_settings(business={"timezone": "UTC", "currency": "USD"}, loyalty={})
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
NOW = datetime(2025, 4, 1, 12, 0, tzinfo=UTC)
PATIENCE = 120  # seconds to wait for the workers to queue up before giving up (never reached when right)


def _purchase(s: Session, pid: int, at: datetime, source_id: str) -> int:
    stored, _ = record_event(
        s,
        NewEvent(
            person_id=pid,
            kind="purchase",
            occurred_at=at,
            source="test",
            source_id=source_id,
            amount_minor=1000,
            currency="USD",
        ),
    )
    return stored.id


def _race(db: Database, hold: str, jobs: list[Callable[[Session], object]], wait_event: str | None) -> int:
    """Run ``jobs`` in threads, each in its own transaction, while a third transaction holds the locks
    ``hold`` takes; let go once all of them wait. Returns how many were seen waiting at once."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(jobs), timeout=PATIENCE)

    def worker(job: Callable[[Session], object]) -> None:
        try:
            barrier.wait()
            with db.transaction() as s:
                job(s)
        except BaseException as exc:
            errors.append(exc)

    seen = 0
    with db.transaction() as blocker:
        blocker.execute(text(hold), {"key": BULK_LOCK_KEY})
        threads = [threading.Thread(target=worker, args=(job,)) for job in jobs]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + PATIENCE
        while time.monotonic() < deadline and all(t.is_alive() for t in threads):  # one done: it never waited
            seen = max(seen, waiting(db, wait_event))
            if seen >= len(jobs):
                break
            time.sleep(0.02)
    for thread in threads:
        thread.join(PATIENCE)
    assert not errors, errors
    return seen


def test_award_events_over_the_same_people_in_opposite_orders_wait_instead_of_deadlocking(
    pg_db: Database,
) -> None:
    with pg_db.transaction() as s:
        (ada, bob), _ = resolve_people(
            s, [PersonRecord(name=n, email=f"{n}@example.com") for n in ("ada", "bob")]
        )
        first = [_purchase(s, ada, T0, "a0"), _purchase(s, bob, T0, "b0")]
        award_events(s, event_ids=first, now=NOW, settings=SETTINGS)  # both are members now
        # One pass meets Ada first, the other Bob first (event order is occurred_at).
        one = [_purchase(s, ada, T0.replace(hour=13), "a1"), _purchase(s, bob, T0.replace(hour=14), "b1")]
        two = [_purchase(s, bob, T0.replace(hour=13), "b2"), _purchase(s, ada, T0.replace(hour=14), "a2")]
    seen = _race(
        pg_db,
        f"SELECT person_id FROM loyalty_accounts WHERE person_id IN ({ada}, {bob}) FOR UPDATE",
        [
            lambda s: award_events(s, event_ids=one, now=NOW, settings=SETTINGS),
            lambda s: award_events(s, event_ids=two, now=NOW, settings=SETTINGS),
        ],
        None,
    )
    assert seen == 2
    with pg_db.reading() as s:
        awarded = set(s.scalars(select(LoyaltyEntry.event_id).where(LoyaltyEntry.kind == "earn")))
    assert awarded == {*first, *one, *two}


def _bulk_history(db: Database) -> None:
    with db.transaction() as s:
        people, _ = resolve_people(
            s, [PersonRecord(name=f"p{i}", email=f"p{i}@example.com") for i in range(30)]
        )
        for index, pid in enumerate(people):
            _purchase(s, pid, T0.replace(day=1 + index % 20), f"old{index}")
        award_all(s, now=NOW, settings=SETTINGS)
        for index, pid in enumerate(reversed(people)):
            _purchase(s, pid, T0.replace(day=21, hour=index % 20), f"new{index}")


BULK_JOBS: dict[str, Callable[[Session], object]] = {
    "award_all": lambda s: award_all(s, now=NOW, settings=SETTINGS),
    "refresh_tiers": lambda s: refresh_tiers(s, now=NOW, settings=SETTINGS),
    "expire_due": lambda s: expire_due(s, now=datetime(2027, 1, 1, tzinfo=UTC)),
}


@pytest.mark.parametrize(
    "pair",
    [
        ("award_all", "award_all"),
        ("award_all", "refresh_tiers"),
        ("award_all", "expire_due"),
    ],
    ids=lambda pair: "-".join(pair),
)
def test_bulk_jobs_take_turns(pg_db: Database, pair: tuple[str, str]) -> None:
    """Two bulk jobs at once (two imports, ``loyalty award`` and ``loyalty expire`` from cron) both
    wait for the bulk lock, then run one after the other and both complete."""
    _bulk_history(pg_db)
    seen = _race(
        pg_db, "SELECT pg_advisory_xact_lock(:key)", [BULK_JOBS[pair[0]], BULK_JOBS[pair[1]]], "advisory"
    )
    assert seen == 2
    with pg_db.reading() as s:
        earns = s.scalar(
            select(text("COUNT(*)")).select_from(LoyaltyEntry).where(LoyaltyEntry.kind == "earn")
        )
    assert earns == 60


def test_a_live_pass_waits_for_a_bulk_job_instead_of_deadlocking(pg_db: Database) -> None:
    """A bulk award holds ``b`` (a new purchase) and then refreshes every tier (``a`` among them);
    a live pass for ``a`` and ``b`` at the same time used to hold ``a`` and wait for ``b``:
    deadlock. Live passes now take the bulk lock shared, so the live pass waits for the bulk job."""
    with pg_db.transaction() as s:
        (a, b), _ = resolve_people(
            s, [PersonRecord(name=n, email=f"{n}@example.com") for n in ("ada", "bob")]
        )
        award_events(
            s, event_ids=[_purchase(s, a, T0, "a0"), _purchase(s, b, T0, "b0")], now=NOW, settings=SETTINGS
        )
        s.execute(text("UPDATE loyalty_accounts SET tier = '' WHERE person_id = :a"), {"a": a})
    errors: list[tuple[str, BaseException]] = []

    def bulk() -> None:
        try:
            with pg_db.transaction() as s:
                _purchase(s, b, T0.replace(hour=15), "b-bulk")
                award_all(s, now=NOW, settings=SETTINGS)
        except BaseException as exc:  # reported below
            errors.append(("bulk", exc))

    def live() -> None:
        try:
            with pg_db.transaction() as s:
                ids = [
                    _purchase(s, a, T0.replace(hour=16), "a-live"),
                    _purchase(s, b, T0.replace(hour=17), "b"),
                ]
                award_events(s, event_ids=ids, now=NOW, settings=SETTINGS)
        except BaseException as exc:  # reported below
            errors.append(("live", exc))

    def queued(count: int) -> None:
        deadline = time.monotonic() + PATIENCE
        while waiting(pg_db) < count:
            assert time.monotonic() < deadline, "the workers never queued up"
            time.sleep(0.02)

    with pg_db.transaction() as blocker:
        blocker.execute(text("SELECT 1 FROM loyalty_accounts WHERE person_id = :b FOR UPDATE"), {"b": b})
        first = threading.Thread(target=bulk)
        first.start()
        queued(1)
        second = threading.Thread(target=live)
        second.start()
        queued(2)
    first.join(PATIENCE)
    second.join(PATIENCE)
    assert not errors, [(who, str(exc)[:300]) for who, exc in errors]
    with pg_db.reading() as s:
        keys = set(s.scalars(select(LoyaltyEntry.key)).all())
    assert len(keys) == 5  # a0, b0, b-bulk, a-live, b: every purchase earned once
