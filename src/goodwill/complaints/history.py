"""Resolutions that arrive as events: a helpdesk's history imported, or another tool's API call.

A ``complaint_resolved`` event from outside (not one Goodwill recorded itself when staff resolved a
complaint here) closes that person's oldest complaint that also came as an event (source
``events``) and was still open at the time of the event. Without this, importing a year of helpdesk
history would fill the inbox with complaints that were settled long ago. A complaint that reached us
by email, the API or the staff form is ours to resolve: an outside tool's resolution, about
something else, never closes it. Nothing is sent: the follow-up question belongs to resolutions
made in Goodwill.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from goodwill.complaints.model import Complaint, ComplaintSource, ComplaintStatus
from goodwill.complaints.records import add_log
from goodwill.db import among
from goodwill.events.model import Event

OWN_SOURCE = "complaints"  # resolutions recorded by complaints.service.resolve


def close_for_events(session: Session, *, event_ids: Sequence[int]) -> int:
    """Resolve complaints for the outside ``complaint_resolved`` events among ``event_ids``; how many."""
    if not event_ids:
        return 0
    linked = exists().where(Complaint.resolved_event_id == Event.id)
    events = session.scalars(
        select(Event)
        .where(
            among(session, Event.id, list(event_ids)),
            Event.kind == "complaint_resolved",
            Event.source != OWN_SOURCE,
            ~linked,
        )
        .order_by(Event.occurred_at, Event.id)
    ).all()
    closed = 0
    for event in events:
        complaint = session.scalars(
            select(Complaint)
            .where(
                Complaint.person_id == event.person_id,
                Complaint.source == ComplaintSource.events.value,
                Complaint.status != ComplaintStatus.resolved.value,
                Complaint.received_at <= event.occurred_at,
            )
            .order_by(Complaint.received_at, Complaint.id)
            .limit(1)
        ).first()
        if complaint is None:
            continue  # a resolution without a complaint we know of: the event alone is the record
        complaint.status = ComplaintStatus.resolved.value
        complaint.resolved_at = event.occurred_at
        complaint.resolved_by_id = event.staff_id
        complaint.resolution = event.text or ""
        complaint.resolved_event_id = event.id
        said = f": {event.text[:400]}" if event.text else ""
        add_log(
            session,
            complaint_id=complaint.id,
            action="resolved",
            user_id=event.staff_id,
            detail=f"from event {event.id} ({event.source}){said}",
            at=event.occurred_at,
        )
        closed += 1
    return closed
