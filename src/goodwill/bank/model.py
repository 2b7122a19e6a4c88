"""Bank tables: entries (a projection of the event log by the rules) and each person's standing."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from goodwill.db import Base, BigId, UTCDateTime


class BankEntry(Base):
    """A deposit (+) or withdrawal (-) that a rule derived from one event.

    Entries are never edited by hand: corrections are ``goodwill_adjustment`` events, and the entries
    are recomputed from the events (``refresh_people``, ``rebuild``). ``event_id`` has no foreign key
    on purpose: events are only ever removed with their person, which cascades here, and a bulk
    rebuild would otherwise pay a second key check per row.
    """

    __tablename__ = "bank_entries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(BigId)
    kind: Mapped[str] = mapped_column(String(40))
    rule: Mapped[str] = mapped_column(String(40))
    amount: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    side: Mapped[str] = mapped_column(String(10))
    effect: Mapped[str] = mapped_column(String(8))

    __table_args__ = (
        UniqueConstraint("event_id", "rule"),
        Index("ix_bank_entries_person_at", "person_id", "at"),
    )


class BankStanding(Base):
    """Where a person stands now, kept so alerts are one indexed query.

    ``score`` is sum(amount * 2^(days since 2020-01-01 / half-life)) over entries made so far; the
    balance at any moment is ``score * 2^-(days since 2020-01-01 / half-life)``. Entries dated in
    the future (a question that will be unanswered at its deadline) set ``next_due_at``: the standing
    is recomputed once that moment has passed (``refresh_due``).
    """

    __tablename__ = "bank_standings"

    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), primary_key=True)
    score: Mapped[float] = mapped_column(Float)
    bad_streak: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10))
    value_minor: Mapped[int] = mapped_column(BigInteger)  # spend net of refunds, business currency
    next_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_bank_standings_status_value", "status", "value_minor"),
        Index("ix_bank_standings_next_due_at", "next_due_at"),
    )
