"""Complaint tables: the complaint itself, its replies, what happened to it, and its theme.

A complaint is always also a ``complaint`` event (``event_id``): the bank sees the withdrawal, the
planner sees the moment once it is resolved. The row here carries what the event cannot: who
handles it, its SLA clocks (as UTC due times, computed in business hours when it arrived), the
replies, and the resolution. Breaches and resolutions are events too (``complaint_sla_breached``,
``complaint_resolved``), so the bank reads them like any other fact.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from goodwill.db import Base, BigId, UTCDateTime, utcnow


class Priority(StrEnum):
    urgent = "urgent"
    high = "high"
    normal = "normal"
    low = "low"


class ComplaintStatus(StrEnum):
    open = "open"  # nobody has answered yet: the first-response clock runs
    responded = "responded"  # we answered (first response sent); the resolution clock runs
    resolved = "resolved"  # what was done is recorded; both clocks stopped


class ComplaintSource(StrEnum):
    api = "api"
    form = "form"  # a member of staff typed it in (phone call, counter, letter)
    email = "email"  # fetched from the complaints mailbox
    events = "events"  # a `complaint` event from the events importer or the events API


class ReplyKind(StrEnum):
    first_response = "first_response"  # thanks for telling us + what happens next
    update = "update"
    satisfaction = "satisfaction"  # the one-question follow-up, never in the same message as the thanks


class ReplyStatus(StrEnum):
    draft = "draft"
    queued = "queued"  # approved: an outbox message exists
    discarded = "discarded"
    undelivered = "undelivered"  # its message was cancelled or failed: it did not answer them


class Complaint(Base):
    __tablename__ = "complaints"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    # The `complaint` event this complaint is (one each way: an event opens at most one complaint).
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id", ondelete="SET NULL"), unique=True)
    # Where it came from and its id there (an email's Message-ID, an API caller's id): idempotency.
    source: Mapped[str] = mapped_column(String(20))
    source_id: Mapped[str] = mapped_column(String(300))
    channel: Mapped[str] = mapped_column(String(40), default="email")
    subject: Mapped[str] = mapped_column(String(300), default="")
    body: Mapped[str] = mapped_column(Text, default="")  # their own words, as received
    priority: Mapped[str] = mapped_column(String(10), default=Priority.normal)
    status: Mapped[str] = mapped_column(String(12), default=ComplaintStatus.open)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The SLA clocks, fixed when the complaint arrives (or its priority changes), in UTC.
    first_response_due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resolution_due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    first_responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    resolution: Mapped[str | None] = mapped_column(Text)  # what was done
    resolved_event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id", ondelete="SET NULL"))
    # Set once by the SLA sweep, which also records the breach event (a withdrawal).
    first_response_breached_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolution_breached_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalated_to_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    theme_id: Mapped[int | None] = mapped_column(ForeignKey("complaint_themes.id", ondelete="SET NULL"))
    # The one-question follow-up: "yes" / "partly" / "no" to "Did we put it right?".
    satisfaction: Mapped[str | None] = mapped_column(String(10))
    satisfaction_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        UniqueConstraint("source", "source_id"),
        Index("ix_complaints_status_response_due", "status", "first_response_due_at"),
        Index("ix_complaints_status_resolution_due", "status", "resolution_due_at"),
        Index("ix_complaints_assignee_status", "assignee_id", "status"),
        Index("ix_complaints_received", "received_at"),
    )


class ComplaintReply(Base):
    """A reply drafted, checked and approved by a person; approval queues an outbox message."""

    __tablename__ = "complaint_replies"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default=ReplyStatus.draft)
    # The sincerity check of the body as approved (or last saved): score and problems.
    check_score: Mapped[int | None] = mapped_column(Integer)
    check_problems: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("outbox_messages.id", ondelete="SET NULL"), unique=True
    )
    written_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ComplaintLog(Base):
    """What happened to a complaint, in order: received, assigned, replied, breached, escalated, resolved."""

    __tablename__ = "complaint_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    action: Mapped[str] = mapped_column(String(30))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    detail: Mapped[str] = mapped_column(Text, default="")


class ComplaintTheme(Base):
    """A group of similar complaints from the latest themes run, named by its top keywords."""

    __tablename__ = "complaint_themes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    run_id: Mapped[int] = mapped_column(Integer, index=True)  # themes of older runs are kept, not shown
    label: Mapped[str] = mapped_column(String(200))
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    size: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
