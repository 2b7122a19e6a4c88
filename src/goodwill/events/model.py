"""The interaction log: immutable facts about people, and the orders behind purchases."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from goodwill.db import Base, BigId, UTCDateTime, utcnow

# Every kind Goodwill understands, with what it means. New kinds are added here, in code,
# so a typo in an import file ("purchse") is rejected instead of silently creating a new kind.
EVENT_KINDS: dict[str, str] = {
    "purchase": "an order that was paid (cancelled orders are not purchases)",
    "order_cancelled": "an order cancelled before it was fulfilled",
    "refund": "money given back for an order, in part or in full",
    "visit": "a visit to the shop, showroom or site without buying",
    "question": "a question asked by the person",
    "question_answered": "the business answered a question",
    "complaint": "a complaint or report of a problem",
    "complaint_resolved": "a complaint the business resolved",
    "complaint_sla_breached": "a complaint waited longer than the promised response or resolution time",
    "praise": "the person praised the business or someone in it",
    "return": "goods sent back",
    "defect": "a product arrived broken or faulty",
    "late_delivery": "a delivery arrived later than promised",
    "service_failure": "the business let the person down (missed call, wrong order...)",
    "referral": "the person referred someone",
    "review": "the person wrote a review",
    "appreciation_sent": "the business thanked the person personally",
    "card_sent": "a handwritten card was sent",
    "call_made": "someone from the business phoned the person",
    "reward_redeemed": "a loyalty reward was redeemed",
    "points_earned": "bonus loyalty points were given (review, referral, birthday, anniversary, a gesture)",
    "goodwill_adjustment": "a manual goodwill gesture or correction, with a reason",
    "note": "anything else worth remembering",
}

KIND_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,39}$")


class Order(Base):
    """An order as the shop knows it, with its line items; purchases and refunds are its events."""

    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(40))
    external_id: Mapped[str] = mapped_column(String(120))
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    currency: Mapped[str] = mapped_column(String(3))
    total_minor: Mapped[int] = mapped_column(BigInteger)
    refunded_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("source", "external_id"),)


class Event(Base):
    __tablename__ = "events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    channel: Mapped[str | None] = mapped_column(String(40))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    text: Mapped[str | None] = mapped_column(Text)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    # Where the fact came from and its id there: (source, source_id) makes every import idempotent.
    source: Mapped[str] = mapped_column(String(40))
    source_id: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("source", "source_id"),
        Index("ix_events_person_occurred", "person_id", "occurred_at"),
        Index("ix_events_kind_occurred", "kind", "occurred_at"),
    )
