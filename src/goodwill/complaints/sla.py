"""Business-hours arithmetic for complaint clocks. Pure: no database, no clock of its own.

A business day is the local wall-clock span ``opens``..``closes`` on a working day in the business
time zone, holidays skipped. Each day's span is converted to UTC on its own, so a day on which the
clocks change still has its full wall-clock hours (09:00-17:00 is eight hours on both sides of a
DST change) and a span never drifts by an hour across a change.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from goodwill.complaints.config import BusinessHours

# A clock that cannot be placed within ten years of working days is a configuration error
# (every day a holiday), not something to loop on forever.
MAX_DAYS = 3660


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"{name} needs a time zone")
    return value.astimezone(UTC)


def _spans_from(
    day: date, *, hours_config: BusinessHours, tz: ZoneInfo
) -> Iterator[tuple[datetime, datetime]]:
    """The working spans (UTC) of ``day`` and the days after it, in order."""
    weekdays = hours_config.weekdays
    holidays = set(hours_config.holidays)
    for offset in range(MAX_DAYS):
        current = day + timedelta(days=offset)
        if current.weekday() not in weekdays or current in holidays:
            continue
        opens = datetime.combine(current, hours_config.opens, tzinfo=tz).astimezone(UTC)
        closes = datetime.combine(current, hours_config.closes, tzinfo=tz).astimezone(UTC)
        if closes > opens:
            yield opens, closes
    raise ValueError(f"no working time within {MAX_DAYS} days; check [complaints.hours] days and holidays")


def due_at(start: datetime, hours: float, *, hours_config: BusinessHours, tz: ZoneInfo) -> datetime:
    """The UTC moment ``hours`` business hours after ``start``.

    A start outside business hours counts from the next opening; a clock that ends exactly at
    closing time is due at closing time, not at the next opening.
    """
    if hours < 0:
        raise ValueError("hours cannot be negative")
    start = _aware(start, "start")
    remaining = timedelta(hours=hours)
    local_day = start.astimezone(tz).date()
    for opens, closes in _spans_from(local_day, hours_config=hours_config, tz=tz):
        begin = max(opens, start)
        if begin >= closes:
            continue
        available = closes - begin
        if remaining <= available:
            return begin + remaining
        remaining -= available
    raise AssertionError("unreachable: _spans_from raises when it runs out")  # pragma: no cover


def business_seconds_between(
    start: datetime, end: datetime, *, hours_config: BusinessHours, tz: ZoneInfo
) -> int:
    """Business seconds from ``start`` to ``end`` (negative when ``end`` is before ``start``)."""
    start = _aware(start, "start")
    end = _aware(end, "end")
    if end < start:
        return -business_seconds_between(end, start, hours_config=hours_config, tz=tz)
    total = timedelta(0)
    for opens, closes in _spans_from(start.astimezone(tz).date(), hours_config=hours_config, tz=tz):
        if opens >= end:
            break
        begin, finish = max(opens, start), min(closes, end)
        if finish > begin:
            total += finish - begin
    return round(total.total_seconds())


def describe(seconds: int, *, day_hours: float = 24) -> str:
    """A short duration: "45m", "3h 20m", "2d 1h". The sign is dropped: callers say "left"/"overdue by".

    ``day_hours`` is how many hours make a "d"; pass the length of a business day to count in
    business days.
    """
    seconds = abs(int(seconds))
    minutes = seconds // 60
    if minutes < 1:
        return "under 1m" if seconds else "0m"
    day_minutes = max(1, round(day_hours * 60))
    days, rest = divmod(minutes, day_minutes)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {mins}m" if mins else f"{hours}h"
    return f"{mins}m"
