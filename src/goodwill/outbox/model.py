"""The outbox: a message is a row written in the business transaction; a worker delivers it.

States: queued -> sending -> sent | failed (with reason) | cancelled. The message id is the
idempotency key handed to the provider.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from goodwill.db import Base, BigId, UTCDateTime, utcnow


class MessageStatus:
    queued = "queued"
    sending = "sending"
    sent = "sent"
    failed = "failed"
    cancelled = "cancelled"


class AttemptOutcome:
    sent = "sent"
    transient = "transient"  # will be retried
    permanent = "permanent"  # stopped at once
    cancelled = "cancelled"  # a send-time check said no
    deferred = "deferred"  # quiet hours: put back until the window opens
    abandoned = "abandoned"  # the worker stopped during the attempt; the claim was taken back
    unknown = "unknown"  # the worker stopped after handing over: it may have been delivered


class Message(Base):
    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    channel: Mapped[str] = mapped_column(String(16))
    # Why we write: "appreciation" counts against the contact cap; every purpose starts a cooldown.
    purpose: Mapped[str] = mapped_column(String(30), default="appreciation")
    note_id: Mapped[int | None] = mapped_column(ForeignKey("notes.id", ondelete="SET NULL"), unique=True)
    subject: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default=MessageStatus.queued)
    # Not before / not after (UTC): quiet hours for SMS and calls, the plan day for the rest.
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime)
    not_after: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(80))
    # Set in its own commit just before the point of no return of a transport without idempotency
    # keys (SMTP's final DATA dot): a claim found stale with this set may have been delivered.
    handed_over_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    provider_id: Mapped[str | None] = mapped_column(String(200))
    # The address it went to (cleared on erasure), and why it failed or was cancelled.
    address: Mapped[str | None] = mapped_column(String(320))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_outbox_messages_status_next", "status", "next_attempt_at"),
        Index("ix_outbox_messages_person_created", "person_id", "created_at"),
    )


class MessageAttempt(Base):
    """One try at delivering a message, with what happened."""

    __tablename__ = "outbox_attempts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("outbox_messages.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    worker: Mapped[str] = mapped_column(String(80))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(12))
    error: Mapped[str | None] = mapped_column(Text)
    provider_id: Mapped[str | None] = mapped_column(String(200))
