"""SLA clocks on both backends: breaches are withdrawals recorded once, escalate to the team's manager
with a notice; a resolution is a deposit (with the bank's in-time bonus) and a planner moment.

The business is in Paris, open Monday to Friday 09:00-17:00. The complaint arrives on Wednesday
14 May 2025 at 10:00 with normal priority: first response due Thursday 10:00 (8 business hours),
resolution due Monday 19 May 10:00 (24 business hours).
"""

from __future__ import annotations

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
    db: Database, settings: Settings, *, assignee_id: int | None, source_id: str = "t-1"
) -> Complaint:
    with db.transaction() as s:
        complaint, created = service.open_complaint(
            s,
            new=service.NewComplaint(
                body="The teapot arrived with a cracked lid.",
                source="api",
                source_id=source_id,
                received_at=RECEIVED,
                email="nora@example.test",
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
