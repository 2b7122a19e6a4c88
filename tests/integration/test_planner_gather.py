"""What the planner gathers: the same facts whichever way they are read, and nothing for moments
that are switched off (planner/signals.py, planner/service.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import insert
from statement_count import counting

from goodwill.bank.model import BankStanding
from goodwill.config import load_settings
from goodwill.db import Database
from goodwill.events.model import Event
from goodwill.people.model import ConsentChange, Person
from goodwill.planner import signals as gather
from goodwill.planner.domain import MomentKind
from goodwill.planner.service import candidates_for_day

DAY = date(2026, 11, 20)
PEOPLE = 600  # past the point where contact events are read by kind and time, not person by person


def _at(days: int) -> datetime:
    return datetime.combine(DAY, datetime.min.time(), tzinfo=UTC) + timedelta(days=days, hours=10)


def _shop(db: Database) -> list[int]:
    with db.transaction() as s:
        people = [Person(kind="customer", name=f"P{i}") for i in range(PEOPLE)]
        s.add_all(people)
        s.flush()
        ids = [p.id for p in people]
        events: list[dict[str, Any]] = []
        for i, pid in enumerate(ids):
            # Appreciations from another tool (and our own) up to 900 days back and 500 ahead, so
            # some fall outside the 400 days either side that count; purchases around them.
            events.append({"person_id": pid, "kind": "appreciation_sent", "occurred_at": _at(-(i * 7 % 900)),
                           "source": "crm" if i % 3 else "goodwill", "source_id": f"a{i}"})  # fmt: skip
            if i % 4 == 0:
                events.append({"person_id": pid, "kind": "card_sent", "occurred_at": _at(i % 500),
                               "source": "cards", "source_id": f"c{i}"})  # fmt: skip
            events.append({"person_id": pid, "kind": "purchase", "occurred_at": _at(-(i % 40)),
                           "amount_minor": 1000, "source": "shop", "source_id": f"p{i}"})  # fmt: skip
        s.execute(insert(Event), events)
        s.execute(
            insert(ConsentChange),
            [{"person_id": pid, "channel": "email", "granted": i % 5 != 0, "source": "test", "at": _at(-30)}
             for i, pid in enumerate(ids)],
        )  # fmt: skip
        s.execute(
            insert(BankStanding),
            [{"person_id": pid, "score": -30.0, "bad_streak": 2, "status": "overdrawn", "value_minor": 0,
              "computed_at": _at(-1)}
             for i, pid in enumerate(ids) if i % 9 == 0],
        )  # fmt: skip
    return ids


def test_contact_facts_are_the_same_read_by_kind_or_person_by_person(db: Database) -> None:
    ids = _shop(db)
    with db.reading() as s, counting(db) as seen:
        signals, facts = gather.build_signals(s, ids, recent={}, milestones={}, day=DAY)
        assert any("person_id + " in sql for sql in seen)  # many people: by kind and time
        for pid in ids[::7]:
            seen.clear()
            one_signals, one = gather.build_signals(s, [pid], recent={}, milestones={}, day=DAY)
            assert not any("person_id + " in sql for sql in seen)  # one person: by person
            assert one_signals[pid] == signals[pid]
            assert vars(one[pid]) == vars(facts[pid]), pid
    first = facts[ids[0]]  # our own thank-you on the plan day, and a card from another tool
    assert first.last_contact_at == _at(0)
    assert first.appreciations == [_at(0)]  # only the card: ours count through plan items and messages
    assert first.consents == set() and first.revoked == {"email"}
    assert signals[ids[0]].bank_status == "overdrawn" and signals[ids[1]].bank_status is None
    far = facts[ids[61]]  # 427 days back: outside the window
    assert far.appreciations == [] and far.last_contact_at is None
    with_appreciations = sum(1 for f in facts.values() if f.appreciations)
    assert PEOPLE / 3 < with_appreciations < PEOPLE


def test_moments_switched_off_are_not_looked_for(db: Database) -> None:
    _shop(db)
    every = load_settings(database_url=db.url, secret_key="test-secret")
    fewer = load_settings(
        database_url=db.url,
        secret_key="test-secret",
        planner={"moments": {"enabled": [k.value for k in MomentKind if k not in ("drifting", "recovery")]}},
    )
    with db.reading() as s, counting(db) as seen:
        with_all = candidates_for_day(s, day=DAY, settings=every)
        asked_all = list(seen)
        seen.clear()
        without = candidates_for_day(s, day=DAY, settings=fewer)
        asked_fewer = list(seen)
    assert any("insight_runs" in sql for sql in asked_all)
    assert any("bank_standings.status IN" in sql for sql in asked_all)
    assert not any("insight_runs" in sql for sql in asked_fewer)
    assert not any("bank_standings.status IN" in sql for sql in asked_fewer)
    assert {c.moment.kind for c in with_all} == {MomentKind.recovery}
    assert without == []
