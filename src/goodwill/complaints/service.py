"""Complaints: opening one from any source, who sees it, and what staff do with it.

Every complaint is also a ``complaint`` event (a withdrawal in the relationship bank); its
resolution is a ``complaint_resolved`` event (a deposit). Functions take a session and never
commit: the caller's unit of work does. Every action leaves a ``ComplaintLog`` row. Opening lives
in ``opening``, the inbox in ``inbox`` and the SLA sweep in ``sweep``; all are imported from here.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from goodwill.complaints.inbox import InboxRow, list_visible
from goodwill.complaints.model import Complaint, ComplaintStatus
from goodwill.complaints.opening import (
    MAX_BODY,
    MAX_CHANNEL,
    MAX_SUBJECT,
    ComplaintError,
    NewComplaint,
    active_user,
    check_priority,
    open_complaint,
    open_for_events,
    without_nul,
)
from goodwill.complaints.records import add_log, clocks_for, refresh_bank
from goodwill.complaints.sweep import FIRST_RESPONSE, RESOLUTION, SweepReport, charge_breach, sweep_sla
from goodwill.complaints.visibility import visible_condition
from goodwill.config import Settings
from goodwill.db import MAX_ID, rows_changed
from goodwill.events.service import NewEvent, record_event
from goodwill.team.model import Role

__all__ = [
    "MAX_BODY",
    "MAX_CHANNEL",
    "MAX_ID",
    "MAX_SUBJECT",
    "ComplaintError",
    "ComplaintNotFound",
    "InboxRow",
    "NewComplaint",
    "SweepReport",
    "assign",
    "check_new_assignee",
    "get_visible",
    "list_visible",
    "mark_responded",
    "may_see",
    "open_complaint",
    "open_for_events",
    "resolve",
    "set_priority",
    "sweep_sla",
]


class ComplaintNotFound(LookupError):
    """No such complaint, or one the caller may not see (the same answer on purpose)."""


def get_visible(session: Session, *, complaint_id: int, user_id: int, role: str) -> Complaint:
    complaint = None
    if 1 <= complaint_id <= MAX_ID:  # past 64 bits no row can match, and the database would refuse it
        complaint = session.scalar(
            select(Complaint).where(
                Complaint.id == complaint_id, visible_condition(session, user_id=user_id, role=role)
            )
        )
    if complaint is None:
        raise ComplaintNotFound(f"no complaint with id {complaint_id}")
    return complaint


def may_see(session: Session, *, complaint_id: int, user_id: int, role: str) -> bool:
    try:
        get_visible(session, complaint_id=complaint_id, user_id=user_id, role=role)
    except ComplaintNotFound:
        return False
    return True


def check_new_assignee(*, role: str, user_id: int, assignee_id: int | None) -> None:
    """Agents open a complaint for themselves or for the shared queue; managers and admins for anyone."""
    if role == Role.agent and assignee_id not in (None, user_id):
        raise ComplaintError("assignee_id", "agents can only open complaints for themselves or the queue")


def _get(session: Session, complaint_id: int) -> Complaint:
    complaint = session.get(Complaint, complaint_id) if 1 <= complaint_id <= MAX_ID else None
    if complaint is None:
        raise ComplaintNotFound(f"no complaint with id {complaint_id}")
    return complaint


def assign(
    session: Session, *, complaint_id: int, assignee_id: int | None, by_user_id: int | None, role: str
) -> Complaint:
    """Agents may take an unassigned complaint for themselves; managers and admins assign anyone active."""
    complaint = _get(session, complaint_id)
    if complaint.status == ComplaintStatus.resolved:
        raise ComplaintError("assignee_id", "this complaint is resolved; there is nothing left to handle")
    if role == Role.agent:
        if assignee_id != by_user_id:
            raise ComplaintError("assignee_id", "agents can only take complaints for themselves")
        if complaint.assignee_id not in (None, by_user_id):
            raise ComplaintError("assignee_id", "someone else already handles this complaint")
    assignee = active_user(session, assignee_id, field="assignee_id") if assignee_id is not None else None
    if complaint.assignee_id == assignee_id:
        return complaint
    complaint.assignee_id = assignee_id
    detail = f"to {assignee.email}" if assignee is not None else "back to the queue"
    add_log(session, complaint_id=complaint.id, action="assigned", user_id=by_user_id, detail=detail)
    return complaint


def set_priority(
    session: Session, *, complaint_id: int, priority: str, by_user_id: int | None, settings: Settings
) -> Complaint:
    """Change the priority; the clocks that still run are recomputed from when it arrived."""
    complaint = _get(session, complaint_id)
    if not priority.strip():
        raise ComplaintError("priority", "a priority is needed: urgent, high, normal or low")
    clean = check_priority(priority, settings)
    if complaint.priority == clean:
        return complaint
    first_due, resolution_due = clocks_for(complaint.received_at, clean, settings)
    if complaint.first_responded_at is None and complaint.first_response_breached_at is None:
        complaint.first_response_due_at = first_due
    if complaint.resolved_at is None and complaint.resolution_breached_at is None:
        complaint.resolution_due_at = resolution_due
    old, complaint.priority = complaint.priority, clean
    add_log(
        session, complaint_id=complaint.id, action="priority", user_id=by_user_id, detail=f"{old} -> {clean}"
    )
    return complaint


def mark_responded(
    session: Session,
    *,
    complaint: Complaint,
    at: datetime,
    by_user_id: int | None,
    settings: Settings | None = None,
) -> None:
    """The first response went out (or was queued): the first-response clock stops. Idempotent.

    An answer after its due time that no sweep has charged yet is charged here (the breach event and
    the log; no escalation: it is answered). With ``settings`` the bank follows at once; without,
    at the person's next refresh.
    """
    if complaint.first_responded_at is not None:
        return
    late = _charge_late(session, complaint, [FIRST_RESPONSE], at)
    complaint.first_responded_at = at
    if complaint.status == ComplaintStatus.open:
        complaint.status = ComplaintStatus.responded.value
    add_log(session, complaint_id=complaint.id, action="responded", user_id=by_user_id, at=at)
    if late and settings is not None:
        refresh_bank(session, person_ids=[complaint.person_id], settings=settings)


def _charge_late(session: Session, complaint: Complaint, clocks: list[str], at: datetime) -> bool:
    """Charge each of ``clocks`` that ran out before ``at`` and is not charged yet; whether any was."""
    charged = False
    for clock in clocks:
        due = complaint.first_response_due_at if clock == FIRST_RESPONSE else complaint.resolution_due_at
        if due < at and getattr(complaint, f"{clock}_breached_at") is None:
            charged |= charge_breach(session, complaint=complaint, clock=clock, at=at) is not None
    return charged


def resolve(
    session: Session,
    *,
    complaint_id: int,
    resolution: str,
    by_user_id: int | None,
    now: datetime,
    settings: Settings,
) -> Complaint:
    """Record what was done: both clocks stop, a ``complaint_resolved`` event (a deposit) is recorded.

    Resolving a resolved complaint again changes nothing (a retried request, a double click, or two
    people at once: the conditional UPDATE lets one win, the other finds it resolved). A clock that
    ran out with no sweep to see it is charged here, before the complaint leaves the sweep's sight.
    """
    complaint = _get(session, complaint_id)
    if complaint.status == ComplaintStatus.resolved:
        return complaint
    text = without_nul(resolution or "").strip()
    if not text:
        raise ComplaintError("resolution", "say what was done to put it right")
    if len(text) > MAX_BODY:
        raise ComplaintError("resolution", f"at most {MAX_BODY} characters")
    clocks = [RESOLUTION] if complaint.first_responded_at is not None else [FIRST_RESPONSE, RESOLUTION]
    _charge_late(session, complaint, clocks, now)
    claim = (
        update(Complaint)
        .where(Complaint.id == complaint.id, Complaint.status != ComplaintStatus.resolved)
        .values(
            status=ComplaintStatus.resolved.value, resolved_at=now, resolved_by_id=by_user_id, resolution=text
        )
        .execution_options(synchronize_session="fetch")
    )
    if not rows_changed(session.execute(claim)):
        session.refresh(complaint)  # resolved by someone else meanwhile: theirs stands
        return complaint
    event, _ = record_event(
        session,
        NewEvent(
            person_id=complaint.person_id,
            kind="complaint_resolved",
            occurred_at=now,
            source="complaints",
            source_id=f"resolved:{complaint.id}",
            channel=complaint.channel,
            staff_id=by_user_id,
            text=text,
        ),
    )
    complaint.resolved_event_id = event.id
    add_log(
        session, complaint_id=complaint.id, action="resolved", user_id=by_user_id, detail=text[:500], at=now
    )
    refresh_bank(session, person_ids=[complaint.person_id], settings=settings)
    if settings.complaints.satisfaction_follow_up:
        # Imported here: replies build on this module.
        from goodwill.complaints.reply_service import queue_satisfaction

        queue_satisfaction(session, complaint=complaint, settings=settings, now=now)
    return complaint
