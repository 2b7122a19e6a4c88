"""Points lots: what a person's positive entries still hold, and which to draw from (pure).

A *lot* is a positive ``earn`` or ``adjust`` entry. Its ``remaining`` points are its points minus
what redemptions, expiries and reversals drew from it (refunds give draws back). A lot is pending
until ``available_at``, spendable from then, and gone once ``expires_at`` has passed (the moment
itself counts as expired, so an expiry "at midnight" leaves nothing spendable at midnight).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Lot:
    id: int
    points: int
    remaining: int
    earned_at: datetime
    available_at: datetime
    expires_at: datetime | None

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    def is_spendable(self, now: datetime) -> bool:
        return self.available_at <= now and not self.expired(now)

    def is_pending(self, now: datetime) -> bool:
        return self.available_at > now and not self.expired(now)


class NotEnoughPoints(ValueError):
    """``plan_draws`` found fewer usable points than asked for."""

    def __init__(self, *, needed: int, usable: int) -> None:
        super().__init__(f"{needed} points needed, {usable} can be drawn")
        self.needed = needed
        self.usable = usable


def spendable(lots: Iterable[Lot], now: datetime) -> int:
    return sum(lot.remaining for lot in lots if lot.is_spendable(now))


def pending(lots: Iterable[Lot], now: datetime) -> int:
    return sum(lot.remaining for lot in lots if lot.is_pending(now))


def _order_key(lot: Lot) -> tuple[bool, datetime, datetime, int]:
    # Lots that never expire go last; among them (False/True ties) the earned_at decides.
    return (lot.expires_at is None, lot.expires_at or lot.earned_at, lot.earned_at, lot.id)


def draw_order(lots: Iterable[Lot]) -> list[Lot]:
    """The order points are taken in: soonest expiry first (never-expiring last), then oldest, then id."""
    return sorted(lots, key=_order_key)


def plan_draws(
    lots: Iterable[Lot], points: int, now: datetime, *, spendable_only: bool = True
) -> list[tuple[int, int]]:
    """``(lot id, points)`` to take ``points`` in draw order; expired lots are never drawn.

    ``spendable_only=False`` also draws from pending lots (corrections, reversals). Raises
    ``NotEnoughPoints`` (a ValueError) if the usable lots hold less than ``points``.
    """
    if points < 0:
        raise ValueError("cannot draw a negative number of points")
    usable = [
        lot
        for lot in draw_order(lots)
        if lot.remaining > 0 and (lot.is_spendable(now) if spendable_only else not lot.expired(now))
    ]
    available = sum(lot.remaining for lot in usable)
    if available < points:
        raise NotEnoughPoints(needed=points, usable=available)
    draws: list[tuple[int, int]] = []
    left = points
    for lot in usable:
        if left == 0:
            break
        take = min(lot.remaining, left)
        draws.append((lot.id, take))
        left -= take
    return draws


def due_to_expire(lots: Iterable[Lot], now: datetime) -> list[Lot]:
    """Lots whose expiry has come with points still in them, in draw order."""
    return draw_order(lot for lot in lots if lot.remaining > 0 and lot.expired(now))


def expiring_soon(lots: Iterable[Lot], now: datetime, days: int) -> list[tuple[datetime, int]]:
    """``(expires_at, points)`` of points that expire after ``now`` and within ``days``, soonest first.

    Lots sharing an expiry moment are added up; pending points are included (they expire too).
    """
    until = now + timedelta(days=days)
    totals: dict[datetime, int] = {}
    for lot in lots:
        if lot.remaining > 0 and lot.expires_at is not None and now < lot.expires_at <= until:
            totals[lot.expires_at] = totals.get(lot.expires_at, 0) + lot.remaining
    return sorted(totals.items())


def add_months(at: datetime, months: int) -> datetime:
    """``at`` plus whole calendar months, the day clamped to the month's end (31 Jan + 1 = 28/29 Feb)."""
    index = at.month - 1 + months
    year, month = at.year + index // 12, index % 12 + 1
    day = min(at.day, calendar.monthrange(year, month)[1])
    return at.replace(year=year, month=month, day=day)


def expiry_for(earned_at: datetime, expiry_months: int) -> datetime | None:
    """When points earned at ``earned_at`` expire under ``[loyalty] expiry_months`` (0: never)."""
    return add_months(earned_at, expiry_months) if expiry_months > 0 else None
