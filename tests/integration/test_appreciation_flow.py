"""From events to an approved note: moments, the contact policy, drafts, review and the outbox row."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select
from test_web_client import add_user

from goodwill.config import Settings, load_settings
from goodwill.db import Database
from goodwill.events.importers.service import import_events
from goodwill.notes import service as notes
from goodwill.notes.model import Note
from goodwill.outbox.model import Message
from goodwill.people.model import Person
from goodwill.people.service import get_person, record_consent
from goodwill.planner.model import PlanHoldout, PlanItem
from goodwill.planner.service import plan_view

DAY = date(2026, 11, 20)


def _settings(db: Database, **policy: Any) -> Settings:
    return load_settings(
        database_url=db.url,
        secret_key="test-secret",
        business={"name": "Teapot & Co", "timezone": "Europe/London", "currency": "GBP"},
        planner={"policy": {"holdout_share": "0", **policy}},
    )


def _event(source_id: str, email: str, name: str, kind: str, at: str, **extra: Any) -> dict[str, Any]:
    return {"source_id": source_id, "email": email, "name": name, "kind": kind, "occurred_at": at, **extra}


EVENTS = [
    # Ann: her second order, the day before the plan day.
    _event("a1", "ann@example.com", "Ann Lee", "purchase", "2026-09-01T10:00:00Z", amount="30.00"),
    _event("a2", "ann@example.com", "Ann Lee", "purchase", "2026-11-19T10:00:00Z", amount="42.00"),
    # Bo: a prospect who asked a question; he revoked email consent.
    _event("b1", "bo@example.com", "Bo Berg", "question", "2026-11-19T15:00:00Z",
           text="Do you ship to Norway?"),
    # Cy: a regular whose complaint we resolved; prefers SMS.
    _event("c0", "cy@example.com", "Cy Moss", "purchase", "2026-03-01T10:00:00Z", amount="25.00"),
    _event("c9", "cy@example.com", "Cy Moss", "purchase", "2026-07-01T10:00:00Z", amount="25.00"),
    _event("c1", "cy@example.com", "Cy Moss", "complaint", "2026-11-10T09:00:00Z", text="Tin arrived dented"),
    _event("c2", "cy@example.com", "Cy Moss", "complaint_resolved", "2026-11-18T09:00:00Z",
           text="Tin arrived dented"),
    # Di: praised an agent by name.
    _event("d1", "di@example.com", "Di Park", "praise", "2026-11-20T08:00:00Z",
           text="Maya was so patient on the phone", staff_email="maya@shop.test"),
    # Ed: a second order, but we thanked him ten days ago (recorded elsewhere).
    _event("e1", "ed@example.com", "Ed Ng", "purchase", "2026-06-01T10:00:00Z", amount="15.00"),
    _event("e2", "ed@example.com", "Ed Ng", "purchase", "2026-11-19T10:00:00Z", amount="15.00"),
    _event("e3", "ed@example.com", "Ed Ng", "appreciation_sent", "2026-11-10T10:00:00Z"),
]  # fmt: skip


def _load(db: Database, tmp_path: Path, settings: Settings) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(e) for e in EVENTS) + "\n")
    add_user(db, "maya@shop.test", "agent", name="Maya Gold")
    add_user(db, "max@shop.test", "manager", name="Max Stone")
    with db.transaction() as s:
        report = import_events(session=s, path=path, business=settings.business)
        assert not report.rejected, report.rejected
        for email, channels in {
            "ann@example.com": ["email"],
            "bo@example.com": ["email"],
            "cy@example.com": ["email", "sms"],
            "di@example.com": ["email", "card"],
            "ed@example.com": ["email"],
        }.items():
            person = get_person(s, email)
            for channel in channels:
                record_consent(s, person_id=person.id, channel=channel, granted=True, source="test")
        record_consent(s, person_id=get_person(s, "bo@example.com").id, channel="email", granted=False,
                       source="unsubscribe")  # fmt: skip
        get_person(s, "cy@example.com").preferred_channel = "sms"


def _plan(db: Database, settings: Settings) -> dict[str, Any]:
    with db.transaction() as s:
        notes.plan_and_draft(s, day=DAY, settings=settings)
    with db.reading() as s:
        return plan_view(s, DAY, default_zone=settings.business.timezone)


def test_events_become_a_plan_with_reasons_and_drafts(db: Database, tmp_path: Path) -> None:
    settings = _settings(db)
    _load(db, tmp_path, settings)
    view = _plan(db, settings)

    by_name = {item["person"]["name"]: item for item in view["items"]}
    assert set(by_name) == {"Ann Lee", "Cy Moss", "Di Park"}
    assert by_name["Ann Lee"]["moment"] == "second_order"
    assert "2nd order on 2026-11-19" in by_name["Ann Lee"]["evidence"]
    assert by_name["Ann Lee"]["channel"] == "email"
    assert by_name["Cy Moss"]["moment"] == "complaint_resolved"
    assert by_name["Cy Moss"]["channel"] == "sms"
    # SMS only inside 08:00-21:00 London time on the plan day (GMT in November).
    assert by_name["Cy Moss"]["window"] == {
        "start": "2026-11-20T08:00:00+00:00",
        "end": "2026-11-20T21:00:00+00:00",
        "local": "08:00–21:00 Europe/London",
    }
    assert by_name["Di Park"]["moment"] == "praise"
    assert by_name["Di Park"]["praised_staff"] == "Maya Gold"
    assert view["skipped"]["no_consent"] == 1  # Bo
    assert view["skipped"]["cap"] == 1  # Ed, thanked ten days ago
    assert view["holdout"] == []
    priorities = [item["priority"] for item in view["items"]]
    assert priorities == sorted(priorities, reverse=True)

    with db.reading() as s:
        drafts = s.scalars(select(Note).order_by(Note.id)).all()
        assert len(drafts) == 3
        for note in drafts:
            assert note.status == "draft"
            assert note.ok, (note.body, note.problems)
            assert note.writer_id is not None
        ann = next(n for n in drafts if n.person_id == get_person(s, "ann@example.com").id)
        assert "Ann" in ann.body
        di = next(n for n in drafts if n.moment == "praise")
        assert "Maya" in di.body


def test_planning_the_same_day_again_adds_nobody_twice(db: Database, tmp_path: Path) -> None:
    settings = _settings(db)
    _load(db, tmp_path, settings)
    first = _plan(db, settings)
    second = _plan(db, settings)
    assert [i["person"]["id"] for i in second["items"]] == [i["person"]["id"] for i in first["items"]]
    with db.reading() as s:
        assert s.scalar(select(func.count()).select_from(Note)) == 3
        assert s.scalar(select(func.count()).select_from(PlanItem)) == 3


def test_approving_queues_the_message_in_the_same_transaction(db: Database, tmp_path: Path) -> None:
    settings = _settings(db)
    _load(db, tmp_path, settings)
    _plan(db, settings)
    with db.reading() as s:
        maya = s.scalar(select(Note.writer_id).where(Note.moment == "praise"))
        cy_note = s.scalar(select(Note.id).where(Note.channel == "sms"))
        ann_note = s.scalar(select(Note.id).where(Note.moment == "second_order"))
    assert maya and cy_note and ann_note

    with db.transaction() as s:
        message = notes.approve(s, note_id=cy_note, user_id=maya)
        message_id = message.id
    with db.reading() as s:
        stored = s.get(Message, message_id)
        assert stored is not None and stored.status == "queued" and stored.channel == "sms"
        assert stored.not_before is not None and stored.not_before.hour == 8
        note = s.get(Note, cy_note)
        assert note is not None and note.status == "approved" and note.decided_by_id == maya
        assert s.scalar(select(PlanItem.status).where(PlanItem.id == note.plan_item_id)) == "approved"

    # A note turned into a pitch cannot be approved, and nothing is queued for it.
    with pytest.raises(notes.NoteBlocked) as blocked, db.transaction() as s:
        notes.approve(
            s, note_id=ann_note, user_id=maya,
            body="Dear valued customer, use code SAVE10 for 10% off your next order!!!",
        )  # fmt: skip
    kinds = {p.kind for p in blocked.value.check.problems}
    assert {"cliche", "sales_pitch"} <= kinds
    with db.reading() as s:
        assert s.scalar(select(func.count()).select_from(Message)) == 1
        assert s.get(Note, ann_note).status == "draft"  # type: ignore[union-attr]

    # Approving twice is refused; skipping needs a reason and frees the plan's slot.
    with pytest.raises(notes.NoteDecided), db.transaction() as s:
        notes.approve(s, note_id=cy_note, user_id=maya)
    with pytest.raises(notes.NoteError), db.transaction() as s:
        notes.skip(s, note_id=ann_note, user_id=maya, reason="  ")
    with db.transaction() as s:
        notes.skip(s, note_id=ann_note, user_id=maya, reason="Spoke to her in the shop yesterday")
    with db.reading() as s:
        item_status = s.scalar(
            select(PlanItem.status).join(Note, Note.plan_item_id == PlanItem.id).where(Note.id == ann_note)
        )
        assert item_status == "skipped"


def test_holdout_is_recorded_and_never_planned(db: Database, tmp_path: Path) -> None:
    settings = _settings(db, holdout_share="0.5")
    _load(db, tmp_path, settings)
    view = _plan(db, settings)
    held = {h["person"]["id"] for h in view["holdout"]}
    planned = {i["person"]["id"] for i in view["items"]}
    assert held.isdisjoint(planned)
    assert len(held) + len(planned) == 3  # the three eligible people, split at random
    again = _plan(db, settings)  # the assignment is kept, not redrawn
    assert {h["person"]["id"] for h in again["holdout"]} == held
    with db.reading() as s:
        assert s.scalar(select(func.count()).select_from(PlanHoldout)) == len(held)
        assert s.scalar(select(func.count()).select_from(Note)) == len(planned)


def test_held_and_skipped_people_are_not_planned_the_next_day(db: Database, tmp_path: Path) -> None:
    settings = _settings(db, holdout_share="0.5")
    _load(db, tmp_path, settings)
    first = _plan(db, settings)
    held = {h["person"]["id"] for h in first["holdout"]}
    with db.reading() as s:
        drafts = s.execute(select(Note.id, Note.person_id)).all()
        maya = s.scalar(select(Note.writer_id).limit(1))
    assert maya is not None
    skipped = set()
    with db.transaction() as s:
        for note_id, person_id in drafts:
            notes.skip(s, note_id=note_id, user_id=maya, reason="Spoke to them yesterday")
            skipped.add(person_id)
    with db.transaction() as s:
        notes.plan_and_draft(s, day=date(2026, 11, 21), settings=settings)
    with db.reading() as s:
        later = set(s.scalars(select(PlanItem.person_id).where(PlanItem.day == date(2026, 11, 21))).all())
        later_held = set(
            s.scalars(select(PlanHoldout.person_id).where(PlanHoldout.day == date(2026, 11, 21)))
        )
    assert later.isdisjoint(held | skipped)
    assert later_held.isdisjoint(held | skipped)


def test_approval_is_refused_once_consent_is_withdrawn(db: Database, tmp_path: Path) -> None:
    settings = _settings(db)
    _load(db, tmp_path, settings)
    _plan(db, settings)
    with db.transaction() as s:
        note = s.scalars(select(Note).where(Note.moment == "second_order")).one()
        note_id, writer = note.id, note.writer_id
        record_consent(s, person_id=note.person_id, channel="email", granted=False, source="unsubscribe")
    assert writer is not None
    with pytest.raises(notes.NoteError, match="withdrew consent for email"), db.transaction() as s:
        notes.approve(s, note_id=note_id, user_id=writer)
    with db.reading() as s:
        assert s.scalar(select(func.count()).select_from(Message)) == 0
        assert s.get(Note, note_id).status == "draft"  # type: ignore[union-attr]


def test_a_loyal_customer_is_drifting_on_the_days_they_become_overdue(db: Database, tmp_path: Path) -> None:
    from goodwill.insights.model import InsightRun, InsightScore
    from goodwill.planner.service import moments_for_person
    from goodwill.planner.signals import drifting_ids

    settings = _settings(db)
    _load(db, tmp_path, settings)
    with db.transaction() as s:
        cy = get_person(s, "cy@example.com").id
        di = get_person(s, "di@example.com").id
        di_person = s.get(Person, di)
        assert di_person is not None
        di_person.kind = "customer"
        run = InsightRun(as_of=DAY - timedelta(days=1), engine="duckdb", period="day", horizon_months=12,
                         monthly_discount=0.01, currency="GBP", customers=2, params={})  # fmt: skip
        s.add(run)
        s.flush()
        # Cy: 6 orders over 100 days (one every 20); with the factor 2.5 overdue after 50 days, and
        # his last order was 51 days before the plan day. Di: the same rhythm, but her last order was
        # 300 days ago: long overdue, a standing state and no moment any more.
        for pid, last in ((cy, DAY - timedelta(days=51)), (di, DAY - timedelta(days=300))):
            first = last - timedelta(days=100)
            s.add(InsightScore(person_id=pid, run_id=run.id, first_purchase_on=first, last_purchase_on=last,
                               orders=6, frequency=5, recency_days=100, age_days=(run.as_of - first).days,
                               total_spend_minor=30000, r_score=3, f_score=5, m_score=5, segment="loyal",
                               p_alive=0.2))  # fmt: skip
    config = settings.planner.moments
    fired: dict[int, list[int]] = {cy: [], di: []}
    with db.reading() as s:
        for shift in range(-2, 6):
            day = DAY + timedelta(days=shift)
            found = set(drifting_ids(s, day=day, config=config))
            for pid in (cy, di):
                moments = {
                    m.kind.value for m in moments_for_person(s, person_id=pid, day=day, settings=settings)
                }
                assert ("drifting" in moments) is (pid in found), (pid, day)
                if pid in found:
                    fired[pid].append(shift)
        evidence = next(
            m.evidence for m in moments_for_person(s, person_id=cy, day=DAY, settings=settings)
            if m.kind.value == "drifting"
        )  # fmt: skip
    # The plan day and the next lookback_days - 1 (3 - 1) days; not the day before, not after.
    assert fired == {cy: [0, 1, 2], di: []}
    assert evidence == "last order 2026-09-30 (51 days ago); usually orders every 20 days; P(alive) 0.20"


# The SQL in planner.signals.drifting_ids against the pure rule in planner.moments, on the same rows:
# histories around every crossing for several rhythms, two scoring runs (as of different days),
# plan days after and before them, and thresholds moved.
ORDERS = (2, 3, 5, 11)
SPANS = (0, 1, 7, 37, 60)
GAPS_AT_AS_OF = range(0, 161)
CONFIGS = [
    {},
    {"drifting_gap_factor": "1.37", "lookback_days": 1, "drifting_min_orders": 2},
    {"drifting_gap_factor": "1", "lookback_days": 7, "drifting_segments": ["at_risk", "new"]},
    {"drifting_gap_factor": "20", "lookback_days": 30, "drifting_min_orders": 5},
]


def test_drifting_ids_agree_with_the_moment_rule(db: Database) -> None:
    from goodwill.insights.model import InsightRun, InsightScore
    from goodwill.planner.config import MomentsConfig
    from goodwill.planner.domain import MomentKind, Signals
    from goodwill.planner.moments import moments_for
    from goodwill.planner.signals import drifting_ids

    rows: list[dict[str, Any]] = []
    with db.transaction() as s:
        runs = [InsightRun(as_of=DAY - timedelta(days=back), engine="duckdb", period="day", horizon_months=12,
                           monthly_discount=0.01, currency="GBP", customers=0, params={})
                for back in (1, 30)]  # fmt: skip
        s.add_all(runs)
        s.flush()
        shapes = [(run, o, span, k) for run in runs for o in ORDERS for span in SPANS for k in GAPS_AT_AS_OF]
        # Many orders over years: products past 2**31, which PostgreSQL integers would not hold.
        shapes += [(runs[0], 100_000, 2000, k) for k in (0, 5000)]
        people = [Person(kind="customer", name=f"P{i}") for i in range(len(shapes))]
        s.add_all(people)
        s.flush()
        for person, (run, orders, span, k) in zip(people, shapes, strict=True):
            last = run.as_of - timedelta(days=k)
            first = last - timedelta(days=span)
            segment = "new" if (k + orders) % 11 == 0 else "at_risk" if k % 5 == 0 else "loyal"
            rows.append({"person_id": person.id, "run_id": run.id, "first_purchase_on": first,
                         "last_purchase_on": last, "orders": orders, "frequency": orders - 1,
                         "recency_days": span, "age_days": (run.as_of - first).days,
                         "total_spend_minor": 1, "r_score": 1, "f_score": 1, "m_score": 1,
                         "segment": segment, "p_alive": 0.5})  # fmt: skip
        s.execute(insert(InsightScore), rows)
    with db.reading() as s:
        for changes in CONFIGS:
            config = MomentsConfig(enabled=(MomentKind.drifting,), **changes)
            for day in (DAY, DAY + timedelta(days=9), DAY - timedelta(days=40)):
                found = drifting_ids(s, day=day, config=config)
                expected = set()
                for row in rows:
                    signals = Signals(
                        person_id=row["person_id"],
                        kind="customer",
                        orders=row["orders"],
                        first_order_on=row["first_purchase_on"],
                        last_order_on=row["last_purchase_on"],
                        segment=row["segment"],
                        p_alive=row["p_alive"],
                    )
                    if moments_for(signals, today=day, config=config):
                        expected.add(row["person_id"])
                assert len(found) == len(set(found))
                assert set(found) == expected, (changes, day)
                assert 0 < len(expected) < len(rows) / 4, (changes, day)
