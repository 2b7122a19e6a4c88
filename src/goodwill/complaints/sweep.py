"""The SLA sweep: clocks that ran out become breaches (withdrawals) and escalate to a manager.

Each clock breaches once: the complaint row remembers it (``*_breached_at``) and the breach event
has a fixed source_id, so running the sweep again, or twice at once, charges nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from goodwill.complaints.model import Complaint, ComplaintStatus
from goodwill.complaints.records import add_log, refresh_bank
from goodwill.config import Settings
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


def _overdue(session: Session, now: datetime) -> list[tuple[Complaint, str]]:
    first = session.scalars(
        select(Complaint)
        .where(
            Complaint.status == ComplaintStatus.open,
            Complaint.first_response_due_at <= now,
            Complaint.first_response_breached_at.is_(None),
        )
        .order_by(Complaint.first_response_due_at, Complaint.id)
    ).all()
    resolution = session.scalars(
        select(Complaint)
        .where(
            Complaint.status.in_([ComplaintStatus.open, ComplaintStatus.responded]),
            Complaint.resolution_due_at <= now,
            Complaint.resolution_breached_at.is_(None),
        )
        .order_by(Complaint.resolution_due_at, Complaint.id)
    ).all()
    return [(c, FIRST_RESPONSE) for c in first] + [(c, RESOLUTION) for c in resolution]


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
        setattr(complaint, f"{clock}_breached_at", now)
        add_log(
            session,
            complaint_id=complaint.id,
            action="breached",
            detail=f"{CLOCK_WORDS[clock]} was due",
            at=now,
        )
        report.breaches.append(Breach(complaint.id, clock, due, event.id))
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
