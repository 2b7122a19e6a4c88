"""Stored plans: one run per day, its items (whom to thank, why, how) and its holdout.

A day's plan is kept once made: re-planning the same day adds people who became eligible since
and never moves anyone already planned or held out, so the random assignment that impact analysis
relies on is recorded once, before anything is sent.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, SmallInteger, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from goodwill.db import Base, BigId, UTCDateTime, utcnow


class PlanRun(Base):
    __tablename__ = "plan_runs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    planned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    planned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    candidates: Mapped[int] = mapped_column(Integer)
    items: Mapped[int] = mapped_column(Integer)
    held: Mapped[int] = mapped_column(Integer)
    skipped: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)

    __table_args__ = (Index("ix_plan_runs_day", "day"),)


class PlanItem(Base):
    """One person to thank on one day, with the moment, the channel and the reason."""

    __tablename__ = "plan_items"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("plan_runs.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    moment: Mapped[str] = mapped_column(String(30))
    strength: Mapped[int] = mapped_column(SmallInteger)
    evidence: Mapped[str] = mapped_column(Text)
    subject: Mapped[str | None] = mapped_column(Text)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    by_manager: Mapped[bool] = mapped_column(default=False)
    channel: Mapped[str] = mapped_column(String(16))
    priority: Mapped[int] = mapped_column(SmallInteger)
    reason: Mapped[str] = mapped_column(Text)
    window_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    window_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # planned -> approved (a message is queued) or skipped (a reviewer decided not to).
    status: Mapped[str] = mapped_column(String(12), default="planned")

    __table_args__ = (
        UniqueConstraint("day", "person_id"),
        Index("ix_plan_items_person_day", "person_id", "day"),
    )


class PlanHoldout(Base):
    """An eligible person randomly left out of a day's plan, recorded before anything is sent."""

    __tablename__ = "plan_holdouts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("plan_runs.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    moment: Mapped[str] = mapped_column(String(30))
    evidence: Mapped[str] = mapped_column(Text)
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    __table_args__ = (UniqueConstraint("day", "person_id"), Index("ix_plan_holdouts_person", "person_id"))
