"""Plain data the planner's pure rules work on: what we know of a person on the plan day,
the moments found for them, and the plan the contact policy makes.

Nothing here touches a database; ``planner.service`` gathers ``Signals`` set-based and
``planner.moments`` / ``planner.policy`` decide.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum


class MomentKind(StrEnum):
    second_order = "second_order"  # a repeat customer's 2nd order
    nth_order = "nth_order"  # an order-count milestone (5th, 10th...)
    anniversary = "anniversary"  # n years since the first order
    spend_milestone = "spend_milestone"  # lifetime spend crossed a threshold
    complaint_resolved = "complaint_resolved"  # thank them for the feedback
    window_shopper = "window_shopper"  # a question or visit without a purchase
    drifting = "drifting"  # a loyal customer drifting away
    recovery = "recovery"  # an overdrawn or at-risk relationship: personal outreach by a manager
    praise = "praise"  # they praised us (and maybe someone in the team)
    referral = "referral"  # they sent someone our way
    # A campaign's thank-you (goodwill.campaigns): chosen by a person for an audience, never found
    # in events, so the moment rules never produce it.
    campaign = "campaign"


# The kinds the moment rules look for in events (every kind but the campaign's).
EVENT_MOMENTS: tuple[MomentKind, ...] = tuple(k for k in MomentKind if k is not MomentKind.campaign)


@dataclass(frozen=True)
class RecentEvent:
    """An event inside the planner's look-back window."""

    kind: str
    on: date  # the day it happened, in the business's time zone
    ordinal: int | None = None  # purchases only: this was their n-th paid order
    amount_minor: int | None = None
    channel: str | None = None
    staff_id: int | None = None
    staff_name: str | None = None
    text: str | None = None


@dataclass(frozen=True)
class MilestoneReached:
    """A milestone from insights (``nth_order``, ``anniversary``, ``lifetime_spend``)."""

    kind: str
    value: int  # the order count, the number of years, or the spend in minor units
    on: date


@dataclass(frozen=True)
class Signals:
    """Everything the moment rules may look at for one person on the plan day."""

    person_id: int
    kind: str  # customer | prospect
    orders: int = 0  # paid orders up to the plan day
    first_order_on: date | None = None
    last_order_on: date | None = None
    spend_minor: int = 0
    segment: str | None = None  # RFM segment from insights
    p_alive: float | None = None
    mean_gap_days: float | None = None  # mean days between their orders (None below 2 orders)
    clv_minor: int | None = None
    bank_status: str | None = None  # healthy | watch | overdrawn
    bad_streak: int = 0
    recent: tuple[RecentEvent, ...] = ()
    milestones: tuple[MilestoneReached, ...] = ()


@dataclass(frozen=True)
class Moment:
    kind: MomentKind
    strength: int  # 0..100: how strong a reason to thank them today
    evidence: str  # plain words a note writer reads: "5th order on 2026-11-20; first order 2024-03-02"
    staff_id: int | None = None  # praise: the employee the person praised
    by_manager: bool = False  # recovery outreach is personal, by a manager
    subject: str | None = None  # the specific thing: what they asked, what they praised


@dataclass(frozen=True)
class Candidate:
    """A person with a moment today, and what the contact policy needs to know about them."""

    person_id: int
    moment: Moment
    value_score: int  # 0..100, their value among all customers (CLV or spend percentile)
    bank_status: str | None
    preferred_channel: str | None
    consents: frozenset[str]  # channels with consent in force
    call_requested: bool  # they asked us to call them (a call needs no other consent)
    time_zone: str  # IANA name: theirs, else the business's
    # Appreciations already sent or planned for them (UTC), any channel, past and future.
    appreciations: tuple[datetime, ...] = ()
    last_contact_at: datetime | None = None  # any message or call from us, appreciation or not


class SkipReason(StrEnum):
    no_consent = "no_consent"
    cap = "cap"
    cooldown = "cooldown"
    capacity = "capacity"


@dataclass(frozen=True)
class PlanItem:
    person_id: int
    moment: Moment
    channel: str
    priority: int  # 0..100, documented in docs/appreciation.md
    reason: str  # why this channel and this rank, in plain words
    # SMS and calls: when, in UTC, the person's quiet hours allow contact on the plan day.
    window_start: datetime | None = None
    window_end: datetime | None = None


@dataclass(frozen=True)
class Held:
    """An eligible person randomly held out: recorded, not contacted (for impact analysis)."""

    person_id: int
    moment: Moment


@dataclass(frozen=True)
class Plan:
    day: date
    items: tuple[PlanItem, ...]
    holdout: tuple[Held, ...]
    skipped: dict[str, int] = field(default_factory=dict)  # SkipReason -> people
    skipped_people: tuple[tuple[int, SkipReason], ...] = ()
