"""SLA clocks on both backends: breaches are withdrawals recorded once, escalate to the team's manager
with a notice; a resolution is a deposit (with the bank's in-time bonus) and a planner moment.

The business is in Paris, open Monday to Friday 09:00-17:00. The complaint arrives on Wednesday
14 May 2025 at 10:00 with normal priority: first response due Thursday 10:00 (8 business hours),
resolution due Monday 19 May 10:00 (24 business hours).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from test_complaints_intake import bank_entries, complaint_settings, count
from test_web_client import add_user

from goodwill.complaints import service
from goodwill.complaints.model import Complaint, ComplaintLog
from goodwill.config import Settings
from goodwill.db import Database, utcnow
from goodwill.events.model import Event
from goodwill.outbox.model import Message
from goodwill.planner.service import moments_for_person
from goodwill.team.model import StaffNotice
from goodwill.team.teams import add_member, create_team

PARIS = ZoneInfo("Europe/Paris")
RECEIVED = datetime(2025, 5, 14, 10, 0, tzinfo=PARIS)
FIRST_DUE = datetime(2025, 5, 15, 10, 0, tzinfo=PARIS)
RESOLUTION_DUE = datetime(2025, 5, 19, 10, 0, tzinfo=PARIS)


@dataclass
class Desk:
    settings: Settings
    ann: int  # agent in the Front desk team
    max: int  # the Front desk's manager
    other_manager: int
    complaint_id: int
    person_id: int


def open_one(
    db: Database,
    settings: Settings,
    *,
    assignee_id: int | None,
    source_id: str = "t-1",
    email: str = "nora@example.test",
) -> Complaint:
    with db.transaction() as s:
        complaint, created = service.open_complaint(
            s,
            new=service.NewComplaint(
                body="The teapot arrived with a cracked lid.",
                source="api",
                source_id=source_id,
                received_at=RECEIVED,
                email=email,
                name="Nora",
                assignee_id=assignee_id,
            ),
            settings=settings,
        )
        assert created
        s.expunge(complaint)
        return complaint


@pytest.fixture
def desk(db: Database) -> Desk:
    return make_desk(db)


def make_desk(db: Database) -> Desk:
    settings = complaint_settings(db)
    other = add_user(db, "aaron@shop.test", "manager", name="Aaron")  # the first manager by id
    max_ = add_user(db, "max@shop.test", "manager", name="Max")
    ann = add_user(db, "ann@shop.test", "agent", name="Ann")
    with db.transaction() as s:
        team = create_team(s, name="Front desk", manager_id=max_)
        add_member(s, team_id=team.id, user_id=ann)
    complaint = open_one(db, settings, assignee_id=ann)
    return Desk(settings, ann, max_, other, complaint.id, complaint.person_id)


def sweep(db: Database, settings: Settings, now: datetime) -> service.SweepReport:
    with db.transaction() as s:
        return service.sweep_sla(s, now=now.astimezone(UTC), settings=settings)


def test_clocks_are_set_in_business_hours(db: Database, desk: Desk) -> None:
    with db.reading() as s:
        complaint = s.get(Complaint, desk.complaint_id)
        assert complaint is not None
        assert complaint.first_response_due_at == FIRST_DUE
        assert complaint.resolution_due_at == RESOLUTION_DUE


def test_a_breach_is_a_withdrawal_recorded_once_and_escalated_to_the_team_manager(
    db: Database, desk: Desk
) -> None:
    assert sweep(db, desk.settings, datetime(2025, 5, 15, 9, 59, tzinfo=PARIS)).breaches == []

    report = sweep(db, desk.settings, datetime(2025, 5, 15, 10, 30, tzinfo=PARIS))
    assert [(b.complaint_id, b.clock) for b in report.breaches] == [(desk.complaint_id, "first_response")]
    assert [(e.to_user_id, e.clock) for e in report.escalations] == [(desk.max, "first_response")]
    with db.reading() as s:
        event = s.scalars(select(Event).where(Event.kind == "complaint_sla_breached")).one()
        assert event.source_id == f"breach:{desk.complaint_id}:first_response"
        assert event.occurred_at == FIRST_DUE  # when the promise was missed, not when the sweep ran
        complaint = s.get(Complaint, desk.complaint_id)
        assert complaint is not None and complaint.escalated_to_id == desk.max
        assert complaint.first_response_breached_at is not None and complaint.escalated_at is not None
        notice = s.scalars(select(StaffNotice)).one()
        assert (notice.user_id, notice.kind) == (desk.max, "escalation")
        assert notice.link == f"/complaints/{desk.complaint_id}"
        actions = s.scalars(select(ComplaintLog.action).where(ComplaintLog.complaint_id == desk.complaint_id))
        assert list(actions) == ["received", "assigned", "breached", "escalated"]
    assert bank_entries(db, desk.person_id).count(("complaint_sla_breached", -3)) == 1

    again = sweep(db, desk.settings, datetime(2025, 5, 16, 16, 0, tzinfo=PARIS))
    assert again.breaches == [] and again.escalations == []
    assert count(db, Event, Event.kind == "complaint_sla_breached") == 1
    assert count(db, StaffNotice) == 1

    later = sweep(db, desk.settings, datetime(2025, 5, 19, 10, 0, tzinfo=PARIS))
    assert [b.clock for b in later.breaches] == ["resolution"]
    assert count(db, Event, Event.kind == "complaint_sla_breached") == 2
    assert count(db, StaffNotice) == 2
    assert bank_entries(db, desk.person_id).count(("complaint_sla_breached", -3)) == 2


def test_without_a_team_manager_the_first_manager_hears_of_it(db: Database, desk: Desk) -> None:
    unassigned = open_one(db, desk.settings, assignee_id=None, source_id="t-2")
    report = sweep(db, desk.settings, datetime(2025, 5, 15, 11, 0, tzinfo=PARIS))
    targets = {e.complaint_id: e.to_user_id for e in report.escalations}
    assert targets == {desk.complaint_id: desk.max, unassigned.id: desk.other_manager}


def test_escalation_can_be_turned_off(db: Database, desk: Desk) -> None:
    quiet = complaint_settings(db, escalate_on_breach=False)
    report = sweep(db, quiet, datetime(2025, 5, 15, 11, 0, tzinfo=PARIS))
    assert len(report.breaches) == 1 and report.escalations == []
    assert count(db, StaffNotice) == 0


def test_an_answered_complaint_does_not_breach_its_first_response(db: Database, desk: Desk) -> None:
    with db.transaction() as s:
        complaint = s.get(Complaint, desk.complaint_id)
        assert complaint is not None
        service.mark_responded(
            s, complaint=complaint, at=datetime(2025, 5, 14, 15, 0, tzinfo=PARIS), by_user_id=desk.ann
        )
        service.mark_responded(
            s, complaint=complaint, at=datetime(2025, 5, 15, 15, 0, tzinfo=PARIS), by_user_id=desk.ann
        )
    report = sweep(db, desk.settings, datetime(2025, 5, 16, 12, 0, tzinfo=PARIS))
    assert report.breaches == []
    with db.reading() as s:
        complaint = s.get(Complaint, desk.complaint_id)
        assert complaint is not None and complaint.status == "responded"
        assert complaint.first_responded_at == datetime(2025, 5, 14, 15, 0, tzinfo=PARIS)
    assert [b.clock for b in sweep(db, desk.settings, RESOLUTION_DUE).breaches] == ["resolution"]


def test_priority_change_recomputes_only_the_clocks_still_running(db: Database, desk: Desk) -> None:
    sweep(db, desk.settings, datetime(2025, 5, 15, 10, 30, tzinfo=PARIS))  # first response breached
    with db.transaction() as s:
        service.set_priority(
            s, complaint_id=desk.complaint_id, priority="urgent", by_user_id=desk.max, settings=desk.settings
        )
    with db.reading() as s:
        complaint = s.get(Complaint, desk.complaint_id)
        assert complaint is not None and complaint.priority == "urgent"
        assert complaint.first_response_due_at == FIRST_DUE  # breached: left as it was
        assert complaint.resolution_due_at == datetime(2025, 5, 15, 10, 0, tzinfo=PARIS)  # 8 business hours
    with db.transaction() as s, pytest.raises(service.ComplaintError) as refused:
        service.set_priority(
            s, complaint_id=desk.complaint_id, priority="asap", by_user_id=desk.max, settings=desk.settings
        )
    assert refused.value.field == "priority"


def test_resolving_in_time_is_a_deposit_with_the_in_time_bonus_and_a_planner_moment(
    db: Database, desk: Desk
) -> None:
    resolved_at = utcnow()
    with db.transaction() as s:
        service.resolve(
            s,
            complaint_id=desk.complaint_id,
            resolution="Sent a new teapot by express and refunded the postage.",
            by_user_id=desk.ann,
            now=resolved_at,
            settings=desk.settings,
        )
    with db.transaction() as s:  # resolving again changes nothing
        service.resolve(
            s,
            complaint_id=desk.complaint_id,
            resolution="again",
            by_user_id=desk.max,
            now=utcnow(),
            settings=desk.settings,
        )
    with db.reading() as s:
        complaint = s.get(Complaint, desk.complaint_id)
        assert complaint is not None and complaint.status == "resolved"
        assert complaint.resolution == "Sent a new teapot by express and refunded the postage."
        event = s.scalars(select(Event).where(Event.kind == "complaint_resolved")).one()
        assert (event.source_id, event.id, event.staff_id) == (
            f"resolved:{desk.complaint_id}",
            complaint.resolved_event_id,
            desk.ann,
        )
    entries = bank_entries(db, desk.person_id)
    assert ("complaint_resolved", 4) in entries
    # The complaint event is dated 2025, so this resolution is outside [bank] complaint_sla_days:
    # the in-time bonus is the bank's calendar-day rule, checked in the next test.
    assert sweep(db, desk.settings, datetime(2026, 1, 1, tzinfo=PARIS)).breaches == []
    with db.reading() as s:
        today = resolved_at.astimezone(PARIS).date()
        moments = moments_for_person(s, person_id=desk.person_id, day=today, settings=desk.settings)
        assert "complaint_resolved" in [m.kind for m in moments]
        found = next(m for m in moments if m.kind == "complaint_resolved")
        assert "new teapot" in found.evidence


def test_resolved_within_the_banks_calendar_days_earns_the_in_time_bonus(db: Database) -> None:
    settings = complaint_settings(db)
    now = utcnow()
    with db.transaction() as s:
        complaint, _ = service.open_complaint(
            s,
            new=service.NewComplaint(
                body="Late again.", source="api", source_id="t-9", received_at=now, email="l@example.test"
            ),
            settings=settings,
        )
        service.resolve(
            s,
            complaint_id=complaint.id,
            resolution="Apologised and refunded the delivery.",
            by_user_id=None,
            now=now,
            settings=settings,
        )
        person_id = complaint.person_id
    rules = [rule for rule, _ in bank_entries(db, person_id)]
    # The one-question follow-up is queued, in its own message (complaints.reply_service).
    assert count(db, Message, Message.person_id == person_id) == 1
    assert rules.count("complaint_resolved_in_time") == 1 and "complaint" in rules
    # Resolved before its clocks ran out: later sweeps find nothing.
    with db.transaction() as s:
        assert service.sweep_sla(s, now=now.replace(year=now.year + 1), settings=settings).breaches == []


def test_resolution_needs_words(db: Database, desk: Desk) -> None:
    with db.transaction() as s, pytest.raises(service.ComplaintError) as refused:
        service.resolve(
            s,
            complaint_id=desk.complaint_id,
            resolution="  ",
            by_user_id=desk.ann,
            now=utcnow(),
            settings=desk.settings,
        )
    assert refused.value.field == "resolution"
    assert count(db, Event, Event.kind == "complaint_resolved") == 0


def test_command_line_records_lists_assigns_resolves_and_sweeps(db: Database, desk: Desk) -> None:
    import json

    from typer.testing import CliRunner

    from goodwill.complaints.cli import app

    runner = CliRunner()

    def run(*args: str, stdin: str | None = None) -> tuple[int, str]:
        result = runner.invoke(app, list(args), input=stdin, env={"GOODWILL_DATABASE_URL": db.url})
        return result.exit_code, result.stdout + result.stderr

    code, out = run("new", "--name", "Mrs Hale", "--channel", "letter", "--source-id", "l-1", "--json",
                    stdin="Your van blocked my drive for an hour.\n")  # fmt: skip
    assert code == 0, out
    created = json.loads(out)
    assert created["created"] and created["channel"] == "letter" and created["source"] == "form"
    code, out = run("new", "Your van blocked my drive.", "--name", "Mrs Hale", "--source-id", "l-1", "--json")
    assert code == 0 and json.loads(out)["id"] == created["id"] and not json.loads(out)["created"]
    code, out = run("new", "", "--name", "Mrs Hale")
    assert code == 1 and "body" in out

    code, out = run("sla", "--json")  # the desk's complaint (May 2025) ran out long ago
    assert code == 0, out
    swept = json.loads(out)
    assert {(b["complaint_id"], b["clock"]) for b in swept["breaches"]} == {
        (desk.complaint_id, "first_response"),
        (desk.complaint_id, "resolution"),
    }
    assert {e["to_email"] for e in swept["escalations"]} == {"max@shop.test"}
    assert json.loads(run("sla", "--json")[1]) == {"breaches": [], "escalations": []}

    code, out = run("assign", str(created["id"]), "ann@shop.test")
    assert code == 0 and "ann@shop.test" in out
    assert run("assign", str(created["id"]), "nobody@shop.test")[0] == 1
    code, out = run("list", "--json")
    assert code == 0
    assert [item["id"] for item in json.loads(out)] == [desk.complaint_id, created["id"]]
    code, out = run("resolve", str(created["id"]), "Spoke to the driver; sent flowers.", "--json")
    assert code == 0 and json.loads(out)["status"] == "resolved"
    assert [item["id"] for item in json.loads(run("list", "--json")[1])] == [desk.complaint_id]
    assert len(json.loads(run("list", "--all", "--json")[1])) == 2
    code, out = run("show", str(created["id"]))
    assert code == 0 and "Your van blocked my drive" in out and "resolved" in out
    assert run("show", "999999")[0] == 1
    assert run("show", str(2**64))[0] == 1 and run("resolve", str(2**64), "x")[0] == 1
    assert run("list", "--status", "lost")[0] == 1


def test_the_delivery_worker_checks_the_clocks_once_a_minute(db: Database, desk: Desk) -> None:
    """`goodwill worker` runs the sweep in its first thread, so breaches need no separate cron job."""
    from goodwill.outbox.worker import Worker

    after_both = datetime(2025, 5, 20, 12, 0, tzinfo=UTC)
    quiet = Worker(database=db, settings=desk.settings, transports={}, clock=lambda: after_both)
    assert quiet.run(once=True).sla_breaches == 0  # a worker without the sweep leaves the clocks alone
    assert count(db, Event, Event.kind == "complaint_sla_breached") == 0
    sweeping = Worker(
        database=db, settings=desk.settings, transports={}, clock=lambda: after_both, sweep_seconds=60
    )
    assert sweeping.run(once=True).sla_breaches == 2  # first response and resolution
    assert sweeping.run(once=True).sla_breaches == 0  # recorded once
    assert count(db, Event, Event.kind == "complaint_sla_breached") == 2


# --- Clocks that ran out between two sweeps -------------------------------------------------------------


def breach_events(db: Database) -> list[tuple[str, datetime]]:
    with db.reading() as s:
        rows = s.scalars(
            select(Event).where(Event.kind == "complaint_sla_breached").order_by(Event.source_id)
        ).all()
        return [(e.source_id, e.occurred_at) for e in rows]


def log_actions(db: Database, complaint_id: int) -> list[str]:
    with db.reading() as s:
        query = select(ComplaintLog.action).where(ComplaintLog.complaint_id == complaint_id)
        return list(s.scalars(query.order_by(ComplaintLog.id)))


def test_resolving_late_before_any_sweep_charges_the_missed_clocks(db: Database, desk: Desk) -> None:
    late = datetime(2025, 5, 20, 12, 0, tzinfo=PARIS)  # both clocks ran out; no sweep has run
    with db.transaction() as s:
        service.resolve(
            s, complaint_id=desk.complaint_id, resolution="Refunded.", by_user_id=desk.ann, now=late,
            settings=desk.settings,
        )  # fmt: skip
    c = desk.complaint_id
    assert breach_events(db) == [
        (f"breach:{c}:first_response", FIRST_DUE),
        (f"breach:{c}:resolution", RESOLUTION_DUE),
    ]
    with db.reading() as s:
        complaint = s.get(Complaint, c)
        assert complaint is not None and complaint.status == "resolved"
        assert complaint.first_response_breached_at == late and complaint.resolution_breached_at == late
    assert log_actions(db, c) == ["received", "assigned", "breached", "breached", "resolved"]
    assert bank_entries(db, desk.person_id).count(("complaint_sla_breached", -3)) == 2
    assert count(db, StaffNotice) == 0  # nothing to escalate: it is resolved
    assert sweep(db, desk.settings, late).breaches == []
    assert len(breach_events(db)) == 2


def test_answering_late_before_any_sweep_charges_the_first_response(db: Database, desk: Desk) -> None:
    late = datetime(2025, 5, 15, 11, 0, tzinfo=PARIS)  # an hour after the first response was due
    for _ in range(2):
        with db.transaction() as s:
            complaint = s.get(Complaint, desk.complaint_id)
            assert complaint is not None
            service.mark_responded(
                s, complaint=complaint, at=late, by_user_id=desk.ann, settings=desk.settings
            )
    assert breach_events(db) == [(f"breach:{desk.complaint_id}:first_response", FIRST_DUE)]
    assert bank_entries(db, desk.person_id).count(("complaint_sla_breached", -3)) == 1
    assert log_actions(db, desk.complaint_id) == ["received", "assigned", "breached", "responded"]
    assert sweep(db, desk.settings, datetime(2025, 5, 16, 12, 0, tzinfo=PARIS)).breaches == []
    assert [b.clock for b in sweep(db, desk.settings, RESOLUTION_DUE).breaches] == ["resolution"]


def test_answering_and_resolving_in_time_charge_nothing(db: Database, desk: Desk) -> None:
    with db.transaction() as s:
        complaint = s.get(Complaint, desk.complaint_id)
        assert complaint is not None
        service.mark_responded(
            s, complaint=complaint, at=FIRST_DUE, by_user_id=desk.ann, settings=desk.settings
        )
        service.resolve(
            s, complaint_id=desk.complaint_id, resolution="Done.", by_user_id=desk.ann, now=RESOLUTION_DUE,
            settings=desk.settings,
        )  # fmt: skip
    assert breach_events(db) == []


def test_history_resolved_late_is_not_charged(db: Database, desk: Desk) -> None:
    from goodwill.events.service import NewEvent, record_event

    with db.transaction() as s:
        event, _ = record_event(
            s,
            NewEvent(person_id=desk.person_id, kind="complaint", occurred_at=datetime(2023, 2, 1, tzinfo=UTC),
                     source="legacy", source_id="old-1", text="From the old helpdesk."),
        )  # fmt: skip
        service.open_for_events(s, event_ids=[event.id], settings=desk.settings)
        old = s.scalars(select(Complaint).where(Complaint.event_id == event.id)).one()
        service.resolve(
            s,
            complaint_id=old.id,
            resolution="Settled.",
            by_user_id=None,
            now=utcnow(),
            settings=desk.settings,
        )
    assert breach_events(db) == []


def test_the_manager_an_escalation_falls_back_to_can_open_it(db: Database, desk: Desk) -> None:
    from test_complaints_intake import API, client_for
    from test_web_client import token_for

    bob = add_user(db, "bob@shop.test", "agent", name="Bob")  # in no team: no team manager to tell
    bobs = open_one(db, desk.settings, assignee_id=bob, source_id="t-bob")
    report = sweep(db, desk.settings, datetime(2025, 5, 15, 11, 0, tzinfo=PARIS))
    assert {e.complaint_id: e.to_user_id for e in report.escalations}[bobs.id] == desk.other_manager
    client, aaron = client_for(db, desk.settings), token_for(db, desk.other_manager)
    assert client.get(f"{API}/{bobs.id}", headers=aaron).status_code == 200
    assert bobs.id in [item["id"] for item in client.get(API, headers=aaron).json()["items"]]
    # Ann's manager, Max, is still not shown Bob's complaint: it was not escalated to him.
    assert client.get(f"{API}/{bobs.id}", headers=token_for(db, desk.max)).status_code == 404


# --- Two at once ----------------------------------------------------------------------------------------

AFTER_BOTH = datetime(2025, 5, 20, 12, 0, tzinfo=UTC)


def blocked_on_a_lock(db: Database) -> bool:
    """Is another connection to this database waiting for a lock (PostgreSQL)?"""
    with db.engine.connect() as conn:
        waiting = conn.exec_driver_sql(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ).scalar()
    return bool(waiting)


def wait_until(condition: Callable[[], bool]) -> None:
    """Poll until ``condition`` holds; the limit only stops a broken run from hanging."""
    for _ in range(3000):
        if condition():
            return
        time.sleep(0.01)
    raise AssertionError("the other transaction neither finished nor waited for a lock")


def in_thread(work: Callable[[], object], start: threading.Event) -> tuple[threading.Thread, list[object]]:
    """Run ``work`` in a thread once ``start`` is set; the list gets its result or its exception."""
    outcome: list[object] = []

    def run() -> None:
        start.wait()
        try:
            outcome.append(work())
        except Exception as exc:  # handed to the test, which asserts on it
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def test_a_second_sweep_skips_what_a_running_sweep_holds(pg_db: Database) -> None:
    db, desk = pg_db, make_desk(pg_db)
    first_swept = threading.Event()

    def second_sweep() -> service.SweepReport:
        with db.transaction() as s:
            return service.sweep_sla(s, now=AFTER_BOTH, settings=desk.settings)

    thread, second = in_thread(second_sweep, first_swept)
    with db.transaction() as s:
        first = service.sweep_sla(s, now=AFTER_BOTH, settings=desk.settings)
        first_swept.set()
        wait_until(lambda: bool(second) or blocked_on_a_lock(db))
    thread.join()
    assert len(first.breaches) == 2
    [report] = second
    assert isinstance(report, service.SweepReport), report
    assert report.breaches == [] and report.escalations == []
    assert len(breach_events(db)) == 2 and count(db, StaffNotice) == 2


@pytest.mark.parametrize("late", [True, False], ids=["late", "in-time"])
def test_a_second_resolve_waits_and_finds_it_resolved(pg_db: Database, late: bool) -> None:
    db, desk = pg_db, make_desk(pg_db)
    complaint_id = desk.complaint_id
    if not late:
        with db.transaction() as s:
            fresh, _ = service.open_complaint(
                s,
                new=service.NewComplaint(
                    body="Cold tea.", source="api", source_id="now-1", received_at=utcnow(), email="c@x.test"
                ),
                settings=desk.settings,
            )  # fmt: skip
            complaint_id = fresh.id
    first_resolved = threading.Event()

    def second_resolve() -> tuple[str, str | None]:
        with db.transaction() as s:
            s.get(Complaint, complaint_id)  # read before the first one commits, as a double click does
            done = service.resolve(
                s, complaint_id=complaint_id, resolution="Second click.", by_user_id=desk.max, now=utcnow(),
                settings=desk.settings,
            )  # fmt: skip
            return done.status, done.resolution

    with db.transaction() as s:
        s.get(Complaint, complaint_id)
        thread, second = in_thread(second_resolve, first_resolved)
        service.resolve(
            s, complaint_id=complaint_id, resolution="First click.", by_user_id=desk.ann, now=utcnow(),
            settings=desk.settings,
        )  # fmt: skip
        first_resolved.set()
        wait_until(lambda: bool(second) or blocked_on_a_lock(db))
    thread.join()
    assert second == [("resolved", "First click.")]
    assert count(db, Event, Event.kind == "complaint_resolved") == 1
    assert count(db, ComplaintLog, ComplaintLog.action == "resolved") == 1
    assert count(db, Message) == 1  # one follow-up question
    assert len(breach_events(db)) == (2 if late else 0)


@pytest.mark.parametrize("action", ["sweep", "resolve"])
def test_two_at_once_on_either_backend_raise_nothing(db: Database, desk: Desk, action: str) -> None:
    bob = add_user(db, "bob@shop.test", "agent", name="Bob")
    others = [
        open_one(db, desk.settings, assignee_id=bob, source_id=f"other-{n}", email=f"p{n}@example.test").id
        for n in range(3)
    ]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def work(name: str) -> None:
        try:
            with db.transaction() as s:
                barrier.wait()
                if action == "sweep":
                    service.sweep_sla(s, now=AFTER_BOTH, settings=desk.settings)
                else:
                    service.resolve(
                        s, complaint_id=desk.complaint_id, resolution=name, by_user_id=None, now=utcnow(),
                        settings=desk.settings,
                    )  # fmt: skip
        except BaseException as exc:  # handed to the test, which asserts on it
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(name,)) for name in ("one", "two")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    if action == "sweep":
        assert len(breach_events(db)) == 2 * (1 + len(others))
    else:
        assert count(db, Event, Event.kind == "complaint_resolved") == 1
        assert len(breach_events(db)) == 2
