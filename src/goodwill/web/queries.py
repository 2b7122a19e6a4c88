"""Reads the pages and the API need that the domain services do not offer in this shape."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from goodwill.events.model import Event
from goodwill.events.service import counts_as_spend
from goodwill.money import to_decimal


@dataclass(frozen=True)
class RowTotals:
    orders: int
    spent_minor: int


def purchase_totals_for(
    session: Session, person_ids: Sequence[int], *, currency: str
) -> dict[int, RowTotals]:
    """Orders and net spend (in ``currency``) for a page of people, in one grouped query."""
    if not person_ids:
        return {}
    in_currency = Event.currency == currency
    signed = case(
        (and_(Event.kind == "purchase", in_currency), Event.amount_minor),
        (and_(Event.kind == "refund", in_currency), -Event.amount_minor),
        else_=0,
    )
    rows = session.execute(
        select(
            Event.person_id,
            func.sum(case((Event.kind == "purchase", 1), else_=0)),
            func.coalesce(func.sum(signed), 0),
        )
        .where(
            Event.person_id.in_(list(person_ids)), Event.kind.in_(("purchase", "refund")), counts_as_spend()
        )
        .group_by(Event.person_id)
    ).all()
    return {pid: RowTotals(int(orders or 0), int(spent or 0)) for pid, orders, spent in rows}


def event_dict(event: Event, *, hidden_text: str | None = None) -> dict[str, object]:
    """An event as the API shows it: times in UTC, the amount as an exact decimal string.

    ``hidden_text`` stands in for the event's own text when the viewer may not read it."""
    return {
        "id": event.id,
        "person_id": event.person_id,
        "kind": event.kind,
        "occurred_at": event.occurred_at.astimezone(UTC).isoformat(),
        "amount": str(to_decimal(event.amount_minor, event.currency))
        if event.amount_minor is not None and event.currency
        else None,
        "currency": event.currency,
        "channel": event.channel,
        "text": event.text if hidden_text is None else hidden_text,
        "staff_id": event.staff_id,
        "source": event.source,
        "source_id": event.source_id,
        "recorded_at": event.recorded_at.astimezone(UTC).isoformat(),
    }
