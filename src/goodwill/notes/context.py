"""Build a ``NoteContext`` from what we know of a person: only true, specific things."""

from __future__ import annotations

from collections import Counter
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from goodwill.config import Settings
from goodwill.events.model import Event, Order
from goodwill.notes.domain import NoteContext
from goodwill.people import service as people
from goodwill.people.model import Person
from goodwill.planner.domain import Moment, MomentKind
from goodwill.team.model import User

RECENT_ORDERS = 50


def writer_name(user: User | None, settings: Settings) -> str:
    """The first name of the person signing; the team's name when nobody is assigned."""
    if user is not None and user.name.strip():
        return user.name.split()[0]
    return f"the {settings.business.name} team"


def context_for(
    session: Session,
    *,
    person: Person,
    moment: Moment,
    channel: str,
    writer: User | None,
    settings: Settings,
) -> NoteContext:
    orders = session.scalars(
        select(Order)
        .where(Order.person_id == person.id, Order.cancelled_at.is_(None))
        .order_by(Order.placed_at.desc(), Order.id.desc())
        .limit(RECENT_ORDERS)
    ).all()
    last_items = tuple(_names(orders[0].items))[:3] if orders else ()
    counts: Counter[str] = Counter(name for order in orders for name in set(_names(order.items)))
    favourite = None
    if counts:
        name, times = counts.most_common(1)[0]
        favourite = name if times >= 2 else None
    totals = people.purchase_totals(session, person.id, currency=settings.business.currency)
    first_order_on: date | None = None
    if totals.first_order_at is not None:
        first_order_on = totals.first_order_at.astimezone(settings.business.tz).date()
    praised_staff = None
    if moment.kind == MomentKind.praise and moment.staff_id is not None:
        staff = session.get(User, moment.staff_id)
        praised_staff = staff.name.split()[0] if staff is not None and staff.name.strip() else None
    subject = moment.subject
    complaint = None
    if moment.kind in (MomentKind.complaint_resolved, MomentKind.recovery):
        # The moment's text may be how we resolved it; the note speaks to what they told us.
        complaint = _latest_complaint(session, person.id) or (
            subject if moment.kind == MomentKind.recovery else None
        )
    return NoteContext(
        first_name=person.greeting_name,
        full_name=person.name,
        business_name=settings.business.name,
        writer_name=writer_name(writer, settings),
        moment=moment,
        channel=channel,
        facts=tuple(f.text for f in people.facts(session, person.id))[-5:],
        last_items=last_items,
        favourite_item=favourite,
        orders=totals.orders,
        first_order_on=first_order_on,
        city=person.city,
        question=subject if moment.kind == MomentKind.window_shopper else None,
        complaint=complaint,
        praise=subject if moment.kind == MomentKind.praise else None,
        praised_staff_name=praised_staff,
    )


def _latest_complaint(session: Session, person_id: int) -> str | None:
    text: str | None = session.scalar(
        select(Event.text)
        .where(Event.person_id == person_id, Event.kind == "complaint", Event.text.is_not(None))
        .order_by(Event.occurred_at.desc(), Event.id.desc())
        .limit(1)
    )
    return text.strip() if text and text.strip() else None


def _names(items: list[dict[str, object]] | None) -> list[str]:
    names: list[str] = []
    for item in items or []:
        name = str(item.get("name") or "").strip()
        if name and name not in names:
            names.append(name)
    return names
