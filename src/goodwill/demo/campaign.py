"""The demo's past Thanksgiving campaign: launched, delivered, and measured against its holdout.

The sample business was generated without any effect of thanks built in, so the Impact page shows
what an honest analysis of such data says (most likely "no clear difference" or "too small to
tell"): the point of the demo is the method, not a flattering number.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from goodwill.bank.config import load_bank_config
from goodwill.bank.service import refresh_people
from goodwill.campaigns.model import Campaign
from goodwill.campaigns.service import CampaignDraft, create_campaign, launch
from goodwill.config import Settings
from goodwill.db import Database
from goodwill.demo import catalogue as cat
from goodwill.notes.model import Note
from goodwill.outbox.delivered import record_delivery_event
from goodwill.outbox.model import Message, MessageStatus
from goodwill.planner.model import PlanItem
from goodwill.team.model import User

TEMPLATE = """Subject: Thank you, {{ first_name }}

Dear {{ first_name }},

This week we are thinking of the people who kept our little tea shop going this year, and you are
one of them. Thank you for coming back to us, order after order.

{{ writer_first_name }}, {{ business_name }}
"""


def last_thanksgiving(today: date) -> date:
    """The fourth Thursday of November before ``today`` (this year's if it has passed)."""
    year = today.year if today > _fourth_thursday(today.year) else today.year - 1
    return _fourth_thursday(year)


def _fourth_thursday(year: int) -> date:
    first = date(year, 11, 1)
    return first + timedelta(days=(3 - first.weekday()) % 7 + 21)


def load_campaign(*, db: Database, settings: Settings, seed: int, now: datetime) -> str | None:
    """Launch and deliver last Thanksgiving's campaign once; returns its name (None if already there)."""
    tz = settings.business.tz
    day = last_thanksgiving(now.astimezone(tz).date())
    name = f"Thanksgiving {day.year}"
    with db.transaction() as s:
        if s.scalar(select(Campaign.id).where(Campaign.name == name)) is not None:
            return None
        owner = s.scalar(select(User.id).where(User.email == cat.OWNER_EMAIL))
        campaign = create_campaign(
            s,
            draft=CampaignDraft(
                name=name,
                description="Thanks to our regulars at the end of the year, one note each, no offer.",
                send_on=day,
                audience={"kind": "customer", "min_orders_total": 2},
                templates={"default": TEMPLATE},
                review_rule="sample",
                review_percent=10,
                holdout_percent=30,
            ),
            user_id=owner,
            settings=settings,
        )
        campaign.seed = f"demo-{seed}"  # the same demo seed draws the same holdout
        launch(
            s,
            campaign_id=campaign.id,
            user_id=owner,
            settings=settings,
            now=datetime.combine(day - timedelta(days=2), time(9), tzinfo=tz),
        )
        _deliver(s, campaign, at=datetime.combine(day, time(10), tzinfo=tz), settings=settings)
    return name


def _deliver(session: Session, campaign: Campaign, *, at: datetime, settings: Settings) -> None:
    """The worker would have sent these on the day; the demo records them as sent then."""
    messages = session.scalars(
        select(Message)
        .join(Note, Note.id == Message.note_id)
        .join(PlanItem, PlanItem.id == Note.plan_item_id)
        .where(PlanItem.run_id == campaign.run_id, Message.status == MessageStatus.queued)
    ).all()
    for message in messages:
        sent_at = max(at, message.not_before or at)
        message.status = MessageStatus.sent
        message.sent_at = sent_at
        message.attempts = 1
        message.created_at = at - timedelta(days=1)
        record_delivery_event(session, message, at=sent_at, staff_id=message.created_by_id)
    refresh_people(
        session=session,
        person_ids=sorted({m.person_id for m in messages if m.person_id is not None}),
        config=load_bank_config(settings),
        currency=settings.business.currency,
    )
