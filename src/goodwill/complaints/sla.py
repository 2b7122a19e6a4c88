"""Business-hours arithmetic for complaint clocks. Pure: no database, no clock of its own.

A business day is the local wall-clock span ``opens``..``closes`` on a working day in the business
time zone, holidays skipped. Each day's span is converted to UTC on its own, so a day on which the
clocks change still has its full wall-clock hours (09:00-17:00 is eight hours on both sides of a
DST change) and a span never drifts by an hour across a change.

Counting the business time between two moments does not walk the days in between: whole days are
counted by the calendar (weeks times working days a week, holidays taken off), and the few days on
which a clock change falls inside the opening hours are corrected from a table made once per year
and zone. A complaint due decades ago costs no more than one due yesterday.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from goodwill.complaints.config import BusinessHours

# A clock that cannot be placed within ten years of working days is a configuration error
# (every day a holiday), not something to loop on forever. Only ``due_at`` walks days.
MAX_DAYS = 3660
ONE_DAY = timedelta(days=1)


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"{name} needs a time zone")
    return value.astimezone(UTC)


def _span(day: date, opens: time, closes: time, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC span of ``day``'s opening hours (empty, closes <= opens, on a day a change swallows)."""
    return (
        datetime.combine(day, opens, tzinfo=tz).astimezone(UTC),
        datetime.combine(day, closes, tzinfo=tz).astimezone(UTC),
    )


def _working(day: date, hours_config: BusinessHours) -> bool:
    return day.weekday() in hours_config.weekdays and day not in hours_config.holidays


def _spans_from(
    day: date, *, hours_config: BusinessHours, tz: ZoneInfo
) -> Iterator[tuple[datetime, datetime]]:
    """The working spans (UTC) of ``day`` and the days after it, in order."""
    for offset in range(MAX_DAYS):
        current = day + timedelta(days=offset)
        if not _working(current, hours_config):
            continue
        opens, closes = _span(current, hours_config.opens, hours_config.closes, tz)
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


def _wall_length(opens: time, closes: time) -> timedelta:
    return datetime.combine(date.min, closes) - datetime.combine(date.min, opens)


def business_day_hours(hours_config: BusinessHours) -> float:
    """The length of a working day on the wall clock, in hours: what a "working day" means."""
    return _wall_length(hours_config.opens, hours_config.closes).total_seconds() / 3600


@lru_cache(maxsize=512)
def _changed_days(tz: ZoneInfo, opens: time, closes: time, year: int) -> tuple[tuple[date, timedelta], ...]:
    """The days of ``year`` whose opening hours last longer or shorter than the wall clock says
    (a clock change between opening and closing), each with the difference. Usually none."""
    nominal = _wall_length(opens, closes)
    changed = []
    day = date(year, 1, 1)
    while day.year == year:
        begin, end = _span(day, opens, closes, tz)
        length = max(end - begin, timedelta(0))
        if length != nominal:
            changed.append((day, length - nominal))
        day += ONE_DAY
    return tuple(changed)


def _working_days(first: date, last: date, hours_config: BusinessHours) -> int:
    """Working days from ``first`` to ``last`` inclusive: whole weeks, the remainder, less holidays."""
    weekdays = hours_config.weekdays
    weeks, rest = divmod((last - first).days + 1, 7)
    count = weeks * len(weekdays)
    count += sum(1 for offset in range(rest) if (first.weekday() + offset) % 7 in weekdays)
    count -= sum(
        1 for day in set(hours_config.holidays) if first <= day <= last and day.weekday() in weekdays
    )
    return count


def _whole_days(first: date, last: date, *, hours_config: BusinessHours, tz: ZoneInfo) -> timedelta:
    """The business time of every working day from ``first`` to ``last`` inclusive."""
    if last < first:
        return timedelta(0)
    opens, closes = hours_config.opens, hours_config.closes
    total = _wall_length(opens, closes) * _working_days(first, last, hours_config)
    for year in range(first.year, last.year + 1):
        for day, difference in _changed_days(tz, opens, closes, year):
            if first <= day <= last and _working(day, hours_config):
                total += difference
    return total


def _part_of_day(
    day: date, start: datetime, end: datetime, *, hours_config: BusinessHours, tz: ZoneInfo
) -> timedelta:
    """The business time of ``day`` that falls between ``start`` and ``end``."""
    if not _working(day, hours_config):
        return timedelta(0)
    opens, closes = _span(day, hours_config.opens, hours_config.closes, tz)
    begin, finish = max(opens, start), min(closes, end)
    return max(finish - begin, timedelta(0))


def business_seconds_between(
    start: datetime, end: datetime, *, hours_config: BusinessHours, tz: ZoneInfo
) -> int:
    """Business seconds from ``start`` to ``end`` (negative when ``end`` is before ``start``)."""
    start = _aware(start, "start")
    end = _aware(end, "end")
    if end < start:
        return -business_seconds_between(end, start, hours_config=hours_config, tz=tz)
    first, last = start.astimezone(tz).date(), end.astimezone(tz).date()
    total = _part_of_day(first, start, end, hours_config=hours_config, tz=tz)
    if last > first:
        total += _whole_days(first + ONE_DAY, last - ONE_DAY, hours_config=hours_config, tz=tz)
        total += _part_of_day(last, start, end, hours_config=hours_config, tz=tz)
    return round(total.total_seconds())


def describe(seconds: int, *, day_hours: float = 24, working_days: bool = False) -> str:
    """A short duration: "45m", "3h 20m", "2d 1h". The sign is dropped: callers say "left"/"overdue by".

    ``day_hours`` is how many hours make a day; pass the length of a business day
    (``business_day_hours``) with ``working_days`` to say "2 working days 1h".
    """
    seconds = abs(int(seconds))
    minutes = seconds // 60
    if minutes < 1:
        return "under 1m" if seconds else "0m"
    day_minutes = max(1, round(day_hours * 60))
    days, rest = divmod(minutes, day_minutes)
    hours, mins = divmod(rest, 60)
    if days:
        unit = (" working day" if days == 1 else " working days") if working_days else "d"
        return f"{days}{unit} {hours}h" if hours else f"{days}{unit}"
    if hours:
        return f"{hours}h {mins}m" if mins else f"{hours}h"
    return f"{mins}m"
