"""Small helpers every complaint operation shares: its log, its clocks, the bank after new events."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.orm import Session

from goodwill.complaints.model import ComplaintLog
from goodwill.complaints.sla import due_at
from goodwill.config import Settings
from goodwill.db import utcnow


def add_log(
    session: Session,
    *,
    complaint_id: int,
    action: str,
    user_id: int | None = None,
    detail: str = "",
    at: datetime | None = None,
) -> None:
    session.add(
        ComplaintLog(
            complaint_id=complaint_id, action=action, user_id=user_id, detail=detail, at=at or utcnow()
        )
    )


def clocks_for(received_at: datetime, priority: str, settings: Settings) -> tuple[datetime, datetime]:
    """(first response due, resolution due) in UTC, counted in business hours from ``received_at``."""
    policy = settings.complaints.sla[priority]
    hours, tz = settings.complaints.hours, settings.business.tz
    return (
        due_at(received_at, policy.first_response_hours, hours_config=hours, tz=tz),
        due_at(received_at, policy.resolution_hours, hours_config=hours, tz=tz),
    )


def refresh_bank(session: Session, *, person_ids: Iterable[int], settings: Settings) -> None:
    """The relationship bank follows new complaint events in the same transaction."""
    ids = sorted(set(person_ids))
    if not ids:
        return
    # Imported here: the bank imports events and people; complaints must stay importable from events.
    from goodwill.bank.config import load_bank_config
    from goodwill.bank.service import refresh_people

    refresh_people(
        session=session,
        person_ids=ids,
        config=load_bank_config(settings),
        currency=settings.business.currency,
    )
