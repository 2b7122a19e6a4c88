"""Concurrent refreshes of one person's bank are serialised: no error, and nothing lost.

Real threads, each with its own connection, ingest purchases and visits for ONE person through the
events service (``record_incoming``: the event, loyalty, follow-ups and the bank refresh in one
transaction, as ``POST /api/v1/events`` does) on PostgreSQL under READ COMMITTED. Unserialised,
two refreshes both saw an event without its entry and both inserted it (IntegrityError on
``bank_entries (event_id, rule)``, a 500 for the client), or one read the events before another
transaction committed a new one and the stored entries after, and deleted the newer entry as stale.
"""

from __future__ import annotations

import sys
import threading
import traceback
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from goodwill.bank.config import load_bank_config
from goodwill.bank.model import BankEntry
from goodwill.bank.service import refresh_people
from goodwill.config import Settings, load_settings
from goodwill.db import Database
from goodwill.events.intake import IncomingEvent, record_incoming
from goodwill.events.model import Event
from goodwill.events.service import NewEvent, record_event
from goodwill.people.model import Person

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

from faults_checks import check_bank  # noqa: E402

THREADS = 4
ROUNDS = 12
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def settings_for(db: Database, *, loyalty: bool) -> Settings:
    return load_settings(database_url=db.url, secret_key="concurrency-test", loyalty={"enabled": loyalty})


def add_person(db: Database) -> int:
    with db.transaction() as s:
        person = Person(name="Ada", email="ada@example.com", kind="customer")
        s.add(person)
        s.flush()
        return person.id


def bank_matches_a_rebuild(db: Database, currency: str) -> None:
    with db.reading() as s:  # the rebuild inside check_bank is rolled back with the session
        outcome = check_bank(s, currency=currency)
    assert outcome.ok, outcome.violations


def hammer(db: Database, settings: Settings, work: list[list[IncomingEvent]]) -> list[str]:
    """Each thread records its events one transaction at a time, all threads starting each round
    together; returns the errors."""
    errors: list[str] = []
    barrier = threading.Barrier(len(work))
    bank = load_bank_config(settings)
    currency = settings.business.currency

    def run(events: list[IncomingEvent]) -> None:
        for incoming in events:
            try:
                barrier.wait(timeout=60)
                with db.transaction() as s:
                    record_incoming(
                        session=s,
                        incoming=incoming,
                        source="api",
                        currency=currency,
                        bank=bank,
                        settings=settings,
                    )
            except threading.BrokenBarrierError:
                return
            except Exception:
                errors.append(traceback.format_exc(limit=3))
                barrier.abort()
                return

    threads = [threading.Thread(target=run, args=(events,)) for events in work]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    return errors


@pytest.mark.parametrize("loyalty", [True, False], ids=["loyalty-on", "loyalty-off"])
def test_threads_ingesting_for_one_person_get_no_error_and_a_bank_equal_to_a_rebuild(
    pg_db: Database, loyalty: bool
) -> None:
    settings = settings_for(pg_db, loyalty=loyalty)
    person_id = add_person(pg_db)
    work = [
        [
            IncomingEvent(
                kind="purchase" if (n + t) % 2 == 0 else "visit",
                occurred_at=START + timedelta(hours=n, minutes=t),
                person_id=person_id,
                amount="12.50" if (n + t) % 2 == 0 else None,
                source_id=f"t{t}-n{n}",
            )
            for n in range(ROUNDS)
        ]
        for t in range(THREADS)
    ]
    errors = hammer(pg_db, settings, work)
    assert errors == [], "\n".join(errors)
    with pg_db.reading() as s:
        stored = s.scalar(select(func.count()).select_from(Event).where(Event.person_id == person_id))
        entries = s.scalar(
            select(func.count())
            .select_from(BankEntry)
            .where(BankEntry.person_id == person_id, BankEntry.kind == "purchase")
        )
    assert stored == THREADS * ROUNDS
    assert entries == THREADS * ROUNDS // 2  # every purchase is a deposit (a visit is neutral)
    bank_matches_a_rebuild(pg_db, settings.business.currency)


def test_a_refresh_of_several_people_waits_for_one_that_holds_them(pg_db: Database) -> None:
    """Two transactions that store events for the same people in opposite orders, then refresh them
    all (as the importers do), neither deadlock nor lose an entry."""
    settings = settings_for(pg_db, loyalty=False)
    ids = []
    with pg_db.transaction() as s:
        for n in range(6):
            person = Person(name=f"P{n}", email=f"p{n}@example.com", kind="customer")
            s.add(person)
            s.flush()
            ids.append(person.id)
    errors: list[str] = []
    barrier = threading.Barrier(2)

    def run(order: list[int], tag: str) -> None:
        try:
            for n in range(ROUNDS):
                barrier.wait(timeout=60)
                with pg_db.transaction() as s:
                    # The importers' pattern: store everyone's events, then one refresh for all.
                    for pid in order:
                        record_event(
                            s,
                            NewEvent(
                                person_id=pid,
                                kind="visit",
                                occurred_at=START + timedelta(hours=n),
                                source="api",
                                source_id=f"{tag}-{pid}-{n}",
                            ),
                        )
                    refresh_people(session=s, person_ids=order, config=load_bank_config(settings))
        except threading.BrokenBarrierError:
            return
        except Exception:
            errors.append(traceback.format_exc(limit=3))
            barrier.abort()

    threads = [
        threading.Thread(target=run, args=(ids, "up")),
        threading.Thread(target=run, args=(list(reversed(ids)), "down")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert errors == [], "\n".join(errors)
    bank_matches_a_rebuild(pg_db, settings.business.currency)
