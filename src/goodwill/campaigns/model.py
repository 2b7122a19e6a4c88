"""Campaign tables: a seasonal or one-off thank-you to an audience, and who was in it and why.

A campaign is drafted, previewed (nothing is stored but the campaign), then launched once. Launching
records every person of the audience in ``campaign_members`` *before* anything is queued: thanked
(a plan item and a note), held out (randomly, for impact), or excluded with the reason. That
assignment is never changed afterwards, so impact analysis compares the groups as assigned.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, Select, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column

from goodwill.db import Base, BigId, UTCDateTime, utcnow


class CampaignStatus(StrEnum):
    draft = "draft"  # editable; preview as often as you like
    launched = "launched"  # members assigned, notes drafted; no longer editable


class ReviewRule(StrEnum):
    all = "all"  # every note waits for a person to approve it
    sample = "sample"  # review_percent of the notes wait for a person; the rest go if the check passes


class MemberGroup(StrEnum):
    thanked = "thanked"
    holdout = "holdout"
    excluded = "excluded"


class Campaign(Base):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(12), default=CampaignStatus.draft)
    # The audience as a validated filter (goodwill.campaigns.audience): e.g.
    # {"kind": "customer", "min_orders_this_year": 3, "bank_status": ["healthy", "watch"],
    #  "not_thanked_days": 60}.
    audience: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Channels allowed, in the order tried after the person's preferred one.
    channels: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Note templates per segment (an RFM segment name, or "default"), Jinja text with the same
    # variables as the note templates (first_name, ...); the first line "Subject: ..." is the subject.
    templates: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    # The send day (a calendar day in each person's own time zone) and the window on it.
    send_on: Mapped[date] = mapped_column(Date)
    window_from_hour: Mapped[int] = mapped_column(Integer, default=10)
    window_until_hour: Mapped[int] = mapped_column(Integer, default=18)
    review_rule: Mapped[str] = mapped_column(String(10), default=ReviewRule.all)
    review_percent: Mapped[int] = mapped_column(Integer, default=100)  # used by the sample rule
    holdout_percent: Mapped[int] = mapped_column(Integer, default=10)
    # Seeds the random holdout and review-sample draws, so a re-launch draws the same.
    seed: Mapped[str] = mapped_column(String(64))
    # The plan run that holds the campaign's plan items (one per thanked person, on send_on).
    run_id: Mapped[int | None] = mapped_column(ForeignKey("plan_runs.id", ondelete="SET NULL"), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    launched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    launched_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class CampaignMember(Base):
    """One person of a launched campaign's audience: their group, and why when excluded."""

    __tablename__ = "campaign_members"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    assignment: Mapped[str] = mapped_column(String(10))  # a MemberGroup
    reason: Mapped[str | None] = mapped_column(String(40))  # excluded: no_consent, cap, cooldown, ...
    segment: Mapped[str] = mapped_column(String(40), default="default")
    channel: Mapped[str | None] = mapped_column(String(16))
    plan_item_id: Mapped[int | None] = mapped_column(ForeignKey("plan_items.id", ondelete="SET NULL"))
    note_id: Mapped[int | None] = mapped_column(ForeignKey("notes.id", ondelete="SET NULL"))
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("campaign_id", "person_id"),
        Index("ix_campaign_members_person", "person_id"),
        Index("ix_campaign_members_campaign_assignment", "campaign_id", "assignment"),
    )


def campaign_run_ids() -> Select[int | None]:
    """The plan runs that are campaigns' launches: a daily plan's figures leave them out."""
    return select(Campaign.run_id).where(Campaign.run_id.is_not(None))
