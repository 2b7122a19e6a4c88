"""Complaints as plain data for the API and the CLI's ``--json`` (the same shape in both)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from goodwill.complaints.model import Complaint, ComplaintLog
from goodwill.complaints.timers import timers_for, worst_state
from goodwill.config import Settings
from goodwill.people.model import Person
from goodwill.team.model import User

FIELDS = (
    "id",
    "person_id",
    "event_id",
    "source",
    "source_id",
    "channel",
    "subject",
    "body",
    "priority",
    "status",
    "assignee_id",
    "received_at",
    "first_response_due_at",
    "resolution_due_at",
    "first_responded_at",
    "resolved_at",
    "resolved_by_id",
    "resolution",
    "resolved_event_id",
    "first_response_breached_at",
    "resolution_breached_at",
    "escalated_at",
    "escalated_to_id",
    "satisfaction",
    "created_by_id",
    "created_at",
)


def complaint_json(
    complaint: Complaint, *, now: datetime, settings: Settings, person: Person | None = None
) -> dict[str, Any]:
    timers = timers_for(complaint, now=now, settings=settings)
    data: dict[str, Any] = {name: getattr(complaint, name) for name in FIELDS}
    data["timers"] = [asdict(t) for t in timers]
    data["sla_state"] = worst_state(timers)
    if person is not None:
        data["person"] = {"id": person.id, "name": person.name, "email": person.email, "kind": person.kind}
    return data


def log_json(session: Session, complaint_id: int) -> list[dict[str, Any]]:
    rows = session.execute(
        select(ComplaintLog, User.email)
        .outerjoin(User, User.id == ComplaintLog.user_id)
        .where(ComplaintLog.complaint_id == complaint_id)
        .order_by(ComplaintLog.at, ComplaintLog.id)
    )
    return [
        {
            "at": log.at,
            "action": log.action,
            "user_id": log.user_id,
            "user_email": email,
            "detail": log.detail,
        }
        for log, email in rows
    ]
