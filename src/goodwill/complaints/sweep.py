"""The SLA sweep: clocks that ran out become breaches (withdrawals) and escalate to a manager.

Each clock breaches once: the complaint row remembers it (``*_breached_at``, set by a conditional
UPDATE that only one transaction can win) and the breach event has a fixed source_id, so running the
sweep again, or twice at once, charges nothing twice. On PostgreSQL a sweep skips the complaints
another sweep has locked (``FOR UPDATE SKIP LOCKED``); SQLite has one writer at a time anyway.
A clock the sweep never saw run out (answered or resolved late, between two sweeps) is charged by
``charge_breach`` from ``mark_responded`` and ``resolve``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import Session

from goodwill.complaints.model import Complaint, ComplaintStatus
from goodwill.complaints.records import add_log, refresh_bank
from goodwill.config import Settings
from goodwill.db import rows_changed
from goodwill.events.model import Event
from goodwill.events.service import NewEvent, record_event
from goodwill.team.model import Role, User
from goodwill.team.notices import notify
from goodwill.team.teams import manager_of

FIRST_RESPONSE = "first_response"
RESOLUTION = "resolution"
CLOCK_WORDS = {FIRST_RESPONSE: "first response", RESOLUTION: "resolution"}


@dataclass(frozen=True)
class Breach:
    complaint_id: int
    clock: str  # first_response or resolution
    due_at: datetime
    event_id: int


@dataclass(frozen=True)
class Escalation:
    complaint_id: int
    clock: str
    to_user_id: int
    to_email: str


@dataclass
class SweepReport:
    breaches: list[Breach] = field(default_factory=list)
    escalations: list[Escalation] = field(default_factory=list)


def _still_running(clock: str) -> list[ColumnElement[bool]]:
    """The clock has not stopped: nobody answered (first response) and it is not resolved."""
    running = [Complaint.resolved_at.is_(None), Complaint.status != ComplaintStatus.resolved]
    if clock == FIRST_RESPONSE:
        running += [Complaint.first_responded_at.is_(None), Complaint.status == ComplaintStatus.open]
    return running


def _overdue(session: Session, now: datetime) -> list[tuple[Complaint, str]]:
    found: list[tuple[Complaint, str]] = []
    for clock in (FIRST_RESPONSE, RESOLUTION):
        due = getattr(Complaint, f"{clock}_due_at")
        rows = session.scalars(
            select(Complaint)
            .where(*_still_running(clock), due <= now, getattr(Complaint, f"{clock}_breached_at").is_(None))
            .order_by(due, Complaint.id)
            # PostgreSQL: a concurrent sweep has these; leave them to it (SQLite ignores this).
            .with_for_update(skip_locked=True)
        ).all()
        found += [(complaint, clock) for complaint in rows]
    return found


def charge_breach(session: Session, *, complaint: Complaint, clock: str, at: datetime) -> Event | None:
    """Record that ``clock`` ran out: its ``complaint_sla_breached`` event (a withdrawal, dated when
    it was due) and the log. ``None`` when it was already charged or had stopped in the meantime.

    The conditional UPDATE is the claim: of two transactions charging the same clock, the second
    waits for the first and then finds nothing to update, so the event is recorded once.
    """
    breached = getattr(Complaint, f"{clock}_breached_at")
    claim = (
        update(Complaint)
        .where(Complaint.id == complaint.id, breached.is_(None), *_still_running(clock))
        .values({breached.key: at})
        .execution_options(synchronize_session="fetch")  # only the row really claimed changes in memory
    )
    if not rows_changed(session.execute(claim)):
        return None
    due = complaint.first_response_due_at if clock == FIRST_RESPONSE else complaint.resolution_due_at
    event, _ = record_event(
        session,
        NewEvent(
            person_id=complaint.person_id,
            kind="complaint_sla_breached",
            occurred_at=due,
            source="complaints",
            source_id=f"breach:{complaint.id}:{clock}",
            channel=complaint.channel,
            text=f"The {CLOCK_WORDS[clock]} was due and did not happen in time.",
        ),
    )
    add_log(
        session,
        complaint_id=complaint.id,
        action="breached",
        detail=f"{CLOCK_WORDS[clock]} was due",
        at=at,
    )
    return event


def escalation_target(session: Session, complaint: Complaint) -> User | None:
    """The assignee's team manager; else the first active manager (or admin) who is not the assignee."""
    if complaint.assignee_id is not None:
        manager = manager_of(session, complaint.assignee_id)
        if manager is not None:
            return manager
    for role in (Role.manager, Role.admin):
        stmt = select(User).where(User.role == role, User.active.is_(True)).order_by(User.id)
        if complaint.assignee_id is not None:
            stmt = stmt.where(User.id != complaint.assignee_id)
        user = session.scalars(stmt.limit(1)).first()
        if user is not None:
            return user
    return None


def sweep_sla(session: Session, *, now: datetime, settings: Settings) -> SweepReport:
    """Record every clock that ran out by ``now`` as a breach, and escalate it when configured."""
    report = SweepReport()
    touched: set[int] = set()
    for complaint, clock in _overdue(session, now):
        event = charge_breach(session, complaint=complaint, clock=clock, at=now)
        if event is None:  # stopped or charged since it was read: SQLite reads before it may write
            continue
        report.breaches.append(Breach(complaint.id, clock, event.occurred_at, event.id))
        touched.add(complaint.person_id)
        if settings.complaints.escalate_on_breach:
            escalation = _escalate(session, complaint, clock, now)
            if escalation is not None:
                report.escalations.append(escalation)
    session.flush()
    refresh_bank(session, person_ids=touched, settings=settings)
    return report


def _escalate(session: Session, complaint: Complaint, clock: str, now: datetime) -> Escalation | None:
    target = escalation_target(session, complaint)
    if target is None:
        add_log(
            session,
            complaint_id=complaint.id,
            action="escalated",
            detail="no manager or admin to tell",
            at=now,
        )
        return None
    if complaint.escalated_at is None:
        complaint.escalated_at = now
    complaint.escalated_to_id = target.id
    notify(
        session,
        user_id=target.id,
        kind="escalation",
        key=f"escalation:{complaint.id}:{clock}",
        text=f"Complaint #{complaint.id} missed its {CLOCK_WORDS[clock]} time.",
        link=f"/complaints/{complaint.id}",
    )
    add_log(
        session,
        complaint_id=complaint.id,
        action="escalated",
        detail=f"to {target.email} ({CLOCK_WORDS[clock]})",
        at=now,
    )
    return Escalation(complaint.id, clock, target.id, target.email)
