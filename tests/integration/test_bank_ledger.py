"""Entries and standings on both backends: incremental refresh, set-based rebuild, rules changes."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from goodwill.bank.model import BankEntry, BankStanding
from goodwill.bank.rebuild import rebuild
from goodwill.bank.rules import EPOCH, BankConfig
from goodwill.bank.service import refresh_due, refresh_people
from goodwill.db import Database
from goodwill.events.model import EVENT_KINDS
from goodwill.events.service import NewEvent, record_event
from goodwill.people.service import PersonRecord, resolve_people

DAY0 = datetime(2025, 3, 1, 10, 0, 0, 123456, tzinfo=UTC)
NOW = DAY0 + timedelta(days=60)
CONFIG = BankConfig()


def person(s: Session, name: str) -> int:
    [pid], _ = resolve_people(s, [PersonRecord(name=name, email=f"{name.lower()}@example.com")])
    return pid


def add(
    s: Session, pid: int, kind: str, days: float, text: str | None = None, amount: int | None = None
) -> int:
    event, _ = record_event(
        s,
        NewEvent(
            person_id=pid,
            kind=kind,
            occurred_at=DAY0 + timedelta(days=days),
            source="test",
            source_id=f"{pid}-{kind}-{days}-{random.random()}",
            text=text,
            amount_minor=amount,
            currency="USD" if amount is not None else None,
        ),
    )
    return event.id


def entries(s: Session) -> list[tuple[Any, ...]]:
    rows = s.execute(
        select(
            BankEntry.person_id,
            BankEntry.event_id,
            BankEntry.kind,
            BankEntry.rule,
            BankEntry.amount,
            BankEntry.at,
            BankEntry.side,
            BankEntry.effect,
        ).order_by(BankEntry.event_id, BankEntry.rule)
    )
    return [tuple(row) for row in rows]


def standings(s: Session) -> dict[int, tuple[Any, ...]]:
    rows = s.scalars(select(BankStanding).order_by(BankStanding.person_id))
    return {
        r.person_id: (pytest.approx(r.score, rel=1e-9), r.bad_streak, r.status, r.value_minor, r.next_due_at)
        for r in rows
    }


def random_history(s: Session, people: int, seed: int) -> list[int]:
    """People with a seeded random mix of every kind, texts the rules read, and near-deadline answers."""
    rng = random.Random(seed)
    kinds = sorted(EVENT_KINDS)
    texts = [
        None,
        "5/5 superb",
        "2/5 poor",
        "★ bad",
        "★★★ ok",
        "+6 sorry for the wait",
        "-2 fix",
        "7 no sign",
    ]
    ids = []
    for n in range(people):
        pid = person(s, f"P{seed}x{n}")
        ids.append(pid)
        for _ in range(rng.randint(0, 25)):
            kind = rng.choice(kinds)
            amount = rng.randint(100, 9000) if kind in ("purchase", "refund") else None
            add(
                s,
                pid,
                kind,
                rng.choice([rng.uniform(0, 70), float(rng.randint(0, 70))]),
                rng.choice(texts),
                amount,
            )
        if rng.random() < 0.5:  # an answer exactly at a question's deadline, and a complaint at the SLA edge
            add(s, pid, "question", 10)
            add(s, pid, "question_answered", 12)
            add(s, pid, "complaint", 20)
            add(s, pid, "complaint_resolved", 23)
    return ids


def test_refresh_after_storing_events_gives_the_entries(db: Database) -> None:
    with db.transaction() as s:
        pid = person(s, "Ada")
        buy = add(s, pid, "purchase", 0, amount=5000)
        praise = add(s, pid, "praise", 1, "the wrapping was beautiful")
        complaint = add(s, pid, "complaint", 30)
        resolved = add(s, pid, "complaint_resolved", 31)
        question = add(s, pid, "question", 40)
        add(s, pid, "refund", 41, amount=1200)
        add(s, pid, "note", 42, "likes tulips")
        report = refresh_people(session=s, person_ids=[pid], config=CONFIG, currency="USD", now=NOW)
    assert (report.added, report.removed, report.changed) == (5, 0, 0)
    assert report.statuses == {pid: "healthy"}
    with db.reading() as s:
        got = [(e[1], e[3], e[4], e[5]) for e in entries(s)]
        assert got == [
            (buy, "purchase", 2, DAY0),
            (praise, "praise", 5, DAY0 + timedelta(days=1)),
            (complaint, "complaint", -6, DAY0 + timedelta(days=30)),
            (resolved, "complaint_resolved_in_time", 8, DAY0 + timedelta(days=31)),
            (question, "question_unanswered", -4, DAY0 + timedelta(days=42)),
        ]
        [(score, streak, status, value, due)] = standings(s).values()
        assert (streak, status, value, due) == (1, "healthy", 3800, None)
        balance = sum(a * 2 ** (-(60 - d) / 365) for a, d in [(2, 0), (5, 1), (-6, 30), (8, 31), (-4, 42)])
        assert score.expected * 2 ** (-(NOW - EPOCH).total_seconds() / 86400 / 365) == pytest.approx(balance)


def test_refresh_is_idempotent_and_tracks_new_events(db: Database) -> None:
    with db.transaction() as s:
        pid = person(s, "Bea")
        add(s, pid, "question", 0)
        refresh_people(session=s, person_ids=[pid], config=CONFIG, currency="USD", now=DAY0)
        again = refresh_people(session=s, person_ids=[pid], config=CONFIG, currency="USD", now=DAY0)
        assert (again.added, again.removed, again.changed) == (0, 0, 0)
        # The deadline is in the future: the standing knows when to look again.
        assert standings(s)[pid][4] == DAY0 + timedelta(days=2)
        assert refresh_due(session=s, now=DAY0 + timedelta(days=1), config=CONFIG, currency="USD") == 0
        assert refresh_due(session=s, now=DAY0 + timedelta(days=3), config=CONFIG, currency="USD") == 1
        assert standings(s)[pid][1:4] == (1, "overdrawn", 0)  # -4 with nothing in the bank
        add(s, pid, "question_answered", 1)
        later = refresh_people(session=s, person_ids=[pid], config=CONFIG, currency="USD", now=NOW)
        assert (later.added, later.removed, later.changed) == (1, 1, 0)
        assert [e[3] for e in entries(s)] == ["question_answered"]


def test_rebuild_gives_exactly_what_refresh_gives(db: Database) -> None:
    with db.transaction() as s:
        ids = random_history(s, people=40, seed=7)
        refresh_people(session=s, person_ids=ids, config=CONFIG, currency="USD", now=NOW)
        by_refresh, refreshed_standings = entries(s), standings(s)
    assert len(by_refresh) > 100
    assert {row[3] for row in by_refresh} >= {"complaint_resolved_in_time", "question_unanswered", "review"}
    with db.transaction() as s:
        report = rebuild(session=s, config=CONFIG, currency="USD", now=NOW)
    assert (report.added, report.removed, report.changed) == (0, 0, 0)
    assert report.status_changes == {}
    with db.reading() as s:
        assert entries(s) == by_refresh
        assert standings(s) == refreshed_standings
        assert sum(report.by_status.values()) == len(refreshed_standings)


def test_rebuild_after_a_rules_change_equals_a_fresh_projection(db: Database) -> None:
    changed = BankConfig(
        weights={**CONFIG.weights, "late_delivery": -8, "purchase": 0, "visit": 1},
        half_life_days=90,
        watch_streak=1,
        at_risk_streak=2,
        question_sla_days=1,
        complaint_sla_days=5,
        recovery_bonus=6,
        recovery_step=1,
    )
    with db.transaction() as s:
        ids = random_history(s, people=40, seed=11)
        rebuild(session=s, config=CONFIG, currency="USD", now=NOW)
        before = entries(s)
    with db.transaction() as s:
        report = rebuild(session=s, config=changed, currency="USD", now=NOW)
        rebuilt, rebuilt_standings = entries(s), standings(s)
    with db.transaction() as s:
        s.execute(delete(BankEntry))
        s.execute(delete(BankStanding))
        refresh_people(session=s, person_ids=ids, config=changed, currency="USD", now=NOW)
        assert entries(s) == rebuilt
        assert standings(s) == rebuilt_standings
    old_keys = {(e[1], e[3]): e for e in before}
    new_keys = {(e[1], e[3]): e for e in rebuilt}
    assert report.added == len(new_keys.keys() - old_keys.keys()) > 0
    assert report.removed == len(old_keys.keys() - new_keys.keys()) > 0
    assert (
        report.changed == sum(1 for k in new_keys.keys() & old_keys.keys() if new_keys[k] != old_keys[k]) > 0
    )
    assert sum(report.status_changes.values()) > 0


def test_rebuild_reports_status_moves_back_to_healthy(db: Database) -> None:
    with db.transaction() as s:
        pid = person(s, "Cy")
        for day in (1, 2, 3):
            add(s, pid, "late_delivery", day)
        rebuild(session=s, config=CONFIG, currency="USD", now=NOW)
        assert standings(s)[pid][2] == "overdrawn"
    lenient = BankConfig(weights={**CONFIG.weights, "late_delivery": 0})
    with db.transaction() as s:
        report = rebuild(session=s, config=lenient, currency="USD", now=NOW)
    assert report.status_changes == {"healthy": 1}
    assert (report.removed, report.entries_after, report.by_status) == (3, 0, {})
