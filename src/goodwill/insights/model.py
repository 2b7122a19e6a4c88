"""Stored insights: one row per scored person and their milestones, replaced by each scoring run.

Only results live here; they are derived from events and can be recomputed at any time with
``goodwill insights score``. The runs table keeps a small history of when scoring happened and
which parameters it found.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, Float, ForeignKey, Index, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from goodwill.db import Base, BigId, UTCDateTime, utcnow


class InsightRun(Base):
    __tablename__ = "insight_runs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    as_of: Mapped[date] = mapped_column(Date)
    scored_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    engine: Mapped[str] = mapped_column(String(10))
    period: Mapped[str] = mapped_column(String(8))
    horizon_months: Mapped[int] = mapped_column(Integer)
    monthly_discount: Mapped[float] = mapped_column(Float)
    currency: Mapped[str] = mapped_column(String(3))
    customers: Mapped[int] = mapped_column(Integer)
    # {"bgnbd": {...} | null, "gamma_gamma": {...} | null, "notes": [...]}
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class InsightScore(Base):
    __tablename__ = "insight_scores"

    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("insight_runs.id", ondelete="CASCADE"), index=True)
    first_purchase_on: Mapped[date] = mapped_column(Date)
    last_purchase_on: Mapped[date] = mapped_column(Date)
    orders: Mapped[int] = mapped_column(Integer)
    frequency: Mapped[int] = mapped_column(Integer)  # repeat purchase days
    recency_days: Mapped[int] = mapped_column(Integer)
    age_days: Mapped[int] = mapped_column(Integer)
    total_spend_minor: Mapped[int] = mapped_column(BigInteger)
    r_score: Mapped[int] = mapped_column(SmallInteger)
    f_score: Mapped[int] = mapped_column(SmallInteger)
    m_score: Mapped[int] = mapped_column(SmallInteger)
    segment: Mapped[str] = mapped_column(String(24))
    p_alive: Mapped[float | None] = mapped_column(Float)
    expected_purchases: Mapped[float | None] = mapped_column(Float)
    clv_minor: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (Index("ix_insight_scores_segment", "segment"),)


class InsightMilestone(Base):
    __tablename__ = "insight_milestones"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("insight_runs.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    value: Mapped[int] = mapped_column(BigInteger)
    reached_on: Mapped[date] = mapped_column(Date)

    # The planner asks "who reached a milestone on this day?"
    __table_args__ = (Index("ix_insight_milestones_reached_on_kind", "reached_on", "kind"),)
