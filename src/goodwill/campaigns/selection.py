"""Who matches a campaign's audience: one set-based query over people, their orders and standing.

Order counts, spend and the latest order come from one grouped pass over the purchase and refund
events (only when a filter needs them); "not thanked in N days" is three correlated NOT EXISTS on
indexed (person, time) columns. No row is read back per person.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Subquery, and_, case, exists, func, select
from sqlalchemy.orm import Session

from goodwill.bank.model import BankStanding
from goodwill.campaigns.audience import Audience
from goodwill.events.model import Event
from goodwill.events.service import counts_as_spend
from goodwill.insights.model import InsightScore
from goodwill.loyalty.model import LoyaltyAccount
from goodwill.outbox.model import Message, MessageStatus
from goodwill.people.model import Person
from goodwill.planner.model import PlanItem
from goodwill.planner.signals import APPRECIATION_EVENT_KINDS


def start_of(day: date, tz: ZoneInfo) -> datetime:
    """The first instant of ``day`` in ``tz``, in UTC."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def audience_ids(
    session: Session, audience: Audience, *, send_on: date, tz: ZoneInfo, currency: str
) -> list[int]:
    """Ids of everyone the audience describes, erased people included (they are excluded by name
    later, so the preview can say how many there were)."""
    query = select(Person.id)
    if audience.kind != "any":
        query = query.where(Person.kind == audience.kind)
    if audience.needs_orders():
        orders = _orders(send_on=send_on, tz=tz, currency=currency)
        query = query.outerjoin(orders, orders.c.person_id == Person.id)
        if audience.min_orders_total:
            query = query.where(func.coalesce(orders.c.total, 0) >= audience.min_orders_total)
        if audience.min_orders_this_year:
            query = query.where(func.coalesce(orders.c.this_year, 0) >= audience.min_orders_this_year)
        if audience.min_spend_minor:
            query = query.where(func.coalesce(orders.c.spend, 0) >= audience.min_spend_minor)
        if audience.last_order_within_days is not None:
            since = start_of(send_on - timedelta(days=audience.last_order_within_days), tz)
            query = query.where(orders.c.last >= since)
    if audience.bank_status:
        query = query.outerjoin(BankStanding, BankStanding.person_id == Person.id).where(
            func.coalesce(BankStanding.status, "healthy").in_(audience.bank_status)
        )
    if audience.rfm_segments:
        query = query.join(InsightScore, InsightScore.person_id == Person.id).where(
            InsightScore.segment.in_(audience.rfm_segments)
        )
    if audience.loyalty_tiers:
        query = query.join(LoyaltyAccount, LoyaltyAccount.person_id == Person.id).where(
            LoyaltyAccount.tier.in_(audience.loyalty_tiers)
        )
    if audience.not_thanked_days is not None:
        query = query.where(~_thanked_since(send_on - timedelta(days=audience.not_thanked_days), tz))
    return list(session.scalars(query.order_by(Person.id)).all())


def _orders(*, send_on: date, tz: ZoneInfo, currency: str) -> Subquery:
    """Per person: paid orders ever and this year, spend net of refunds, the latest order; all up
    to the end of the send day (a campaign previewed later sees the same numbers)."""
    purchase = Event.kind == "purchase"
    in_currency = Event.currency == currency
    year_start = start_of(date(send_on.year, 1, 1), tz)
    return (
        select(
            Event.person_id.label("person_id"),
            func.sum(case((purchase, 1), else_=0)).label("total"),
            func.sum(case((and_(purchase, Event.occurred_at >= year_start), 1), else_=0)).label("this_year"),
            func.sum(
                case(
                    (and_(purchase, in_currency), Event.amount_minor),
                    (and_(Event.kind == "refund", in_currency), -Event.amount_minor),
                    else_=0,
                )
            ).label("spend"),
            func.max(case((purchase, Event.occurred_at))).label("last"),
        )
        .where(
            Event.kind.in_(("purchase", "refund")),
            Event.occurred_at < start_of(send_on + timedelta(days=1), tz),
            counts_as_spend(),
        )
        .group_by(Event.person_id)
        .subquery()
    )


def _thanked_since(first_day: date, tz: ZoneInfo) -> ColumnElement[bool]:
    """An appreciation planned (not skipped) on or after ``first_day``, or sent or queued since it,
    or recorded by another system since it: the planner's own three sources of appreciations."""
    since = start_of(first_day, tz)
    planned = exists().where(
        PlanItem.person_id == Person.id, PlanItem.status != "skipped", PlanItem.day >= first_day
    )
    messaged = exists().where(
        Message.person_id == Person.id,
        Message.purpose == "appreciation",
        Message.status.not_in((MessageStatus.cancelled, MessageStatus.failed)),
        func.coalesce(Message.sent_at, Message.created_at) >= since,
    )
    recorded = exists().where(
        Event.person_id == Person.id, Event.kind.in_(APPRECIATION_EVENT_KINDS), Event.occurred_at >= since
    )
    return planned | messaged | recorded
