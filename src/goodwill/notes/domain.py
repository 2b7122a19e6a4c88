"""Plain data for drafting and checking notes (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from goodwill.planner.domain import Moment


@dataclass(frozen=True)
class NoteContext:
    """What a draft may say about a person: only true, specific things we know."""

    first_name: str  # what we call them: preferred name, else first word of their name
    full_name: str
    business_name: str
    writer_name: str  # who signs the note ("Maya"), a real person in the team
    moment: Moment
    channel: str  # email | sms | card | call
    facts: tuple[str, ...] = ()  # staff-written facts ("is training for the Lisbon marathon")
    last_items: tuple[str, ...] = ()  # product names in their latest order
    favourite_item: str | None = None  # the product they bought most often
    orders: int = 0
    first_order_on: date | None = None
    city: str | None = None
    question: str | None = None  # the question they asked (window_shopper)
    complaint: str | None = None  # what they complained about (complaint_resolved, recovery)
    praise: str | None = None  # what they said (praise)
    praised_staff_name: str | None = None


@dataclass(frozen=True)
class Draft:
    subject: str  # email subject; empty for other channels
    body: str
    template: str  # which template made it ("second_order/2"), so variants can rotate
