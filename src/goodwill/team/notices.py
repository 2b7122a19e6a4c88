"""Notices for staff: praise for someone in their team, a complaint escalated to them, a weekly digest.

A notice is told once: ``key`` names the thing (``praise:<kudos id>``), so telling twice changes nothing.
Callers own the transaction.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from goodwill.db import ignoring_duplicates, utcnow
from goodwill.team.model import StaffNotice

NOTICE_KINDS = frozenset({"praise", "escalation", "digest", "kudos"})


def notify(
    session: Session, *, user_id: int, kind: str, key: str, text: str, link: str = ""
) -> StaffNotice | None:
    """Tell ``user_id`` once; returns the new notice, or None when this key was told before."""
    if kind not in NOTICE_KINDS:
        raise ValueError(f"unknown notice kind {kind!r}; use one of {', '.join(sorted(NOTICE_KINDS))}")
    row = {"user_id": user_id, "kind": kind, "key": key[:120], "text": text, "link": link}
    row["created_at"] = utcnow()
    inserted = session.execute(
        ignoring_duplicates(session, StaffNotice.__table__).values(row).returning(StaffNotice.id)
    ).scalar_one_or_none()
    return session.get(StaffNotice, inserted) if inserted is not None else None


def notices_for(session: Session, *, user_id: int, limit: int = 50) -> list[StaffNotice]:
    return list(
        session.scalars(
            select(StaffNotice)
            .where(StaffNotice.user_id == user_id)
            .order_by(StaffNotice.created_at.desc(), StaffNotice.id.desc())
            .limit(limit)
        )
    )


def unread_count(session: Session, *, user_id: int) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(StaffNotice)
            .where(StaffNotice.user_id == user_id, StaffNotice.read_at.is_(None))
        )
        or 0
    )


def mark_read(session: Session, *, user_id: int, now: datetime, notice_id: int | None = None) -> int:
    """Mark one notice (or all of them) read; only the user's own. Returns how many changed."""
    stmt = update(StaffNotice).where(StaffNotice.user_id == user_id, StaffNotice.read_at.is_(None))
    if notice_id is not None:
        stmt = stmt.where(StaffNotice.id == notice_id)
    result = session.execute(stmt.values(read_at=now))
    return int(getattr(result, "rowcount", 0) or 0)
