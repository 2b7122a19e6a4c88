"""SQL that SQLite and PostgreSQL spell differently, for the bulk awarding (``awards_sql``).

Dates: ``plus_days`` and ``plus_months`` are ``rules.earn_times`` in SQL (the tests prove they
agree). Local days: PostgreSQL converts with ``AT TIME ZONE``; SQLite knows no time zones, so the
zone's UTC offsets over the events' span are worked out here (zoneinfo) and inlined as a CASE on
the stored UTC text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.orm import Session

_ZONE_NAME = re.compile(r"^[A-Za-z0-9_/+-]+$")
_SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores a UTC datetime in SQLite


def utc_offsets(tz: ZoneInfo, start: datetime, end: datetime) -> list[tuple[datetime | None, int]]:
    """The zone's UTC offset in seconds over [start, end]: ``[(from, offset), ...]``, the first
    ``from`` None (everything before). Transitions are found to the second by bisection."""

    def offset(moment: datetime) -> int:
        delta = moment.astimezone(tz).utcoffset()
        return int(delta.total_seconds()) if delta is not None else 0

    step = timedelta(hours=6)  # shorter than any gap between two transitions
    moment = start.astimezone(UTC).replace(microsecond=0) - timedelta(days=1)
    spans: list[tuple[datetime | None, int]] = [(None, offset(moment))]
    stop = end.astimezone(UTC) + timedelta(days=1)
    while moment < stop:
        following = moment + step
        if offset(following) != spans[-1][1]:
            low, high = moment, following  # offset(low) is the old one, offset(high) the new
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) // 2
                middle = middle.replace(microsecond=0)
                if offset(middle) == spans[-1][1]:
                    low = middle
                else:
                    high = middle
            spans.append((high, offset(high)))
        moment = following
    return spans


@dataclass(frozen=True)
class Dialect:
    """The expressions SQLite and PostgreSQL spell differently, for one business time zone."""

    sqlite: bool
    zone: str
    offsets: tuple[tuple[datetime | None, int], ...] = ()

    @classmethod
    def of(cls, session: Session, zone: str, span: tuple[datetime, datetime] | None = None) -> Dialect:
        if not _ZONE_NAME.match(zone):
            raise ValueError(f"refusing to build SQL from time zone {zone!r}")
        sqlite = session.get_bind().dialect.name == "sqlite"
        offsets: tuple[tuple[datetime | None, int], ...] = ()
        if sqlite and span is not None:
            offsets = tuple(utc_offsets(ZoneInfo(zone), *span))
        return cls(sqlite, zone, offsets)

    def least(self, first: str, second: str) -> str:
        return f"MIN({first}, {second})" if self.sqlite else f"LEAST({first}, {second})"

    # SQLite: dates are computed on the stored text's date part only and the time of day is carried
    # over as text. Whole seconds through date() would be rounded (.9996 s up to the next second,
    # and so possibly the next day); and date() on a bare date is the cheapest call SQLite has.

    def plus_days(self, column: str, days: int) -> str:
        """Whole days of 24 hours, as ``timedelta(days=...)`` (UTC has no DST)."""
        if self.sqlite:
            return f"(date(substr({column}, 1, 10), '{days:+d} days') || substr({column}, 11))"
        return f"({column} + interval '1 hour' * {24 * days})"

    def plus_months(self, column: str, months: int) -> str:
        """Calendar months on the UTC calendar, the day clamped to the month's end (``lots.expiry_for``)."""
        if not self.sqlite:
            return f"(({column} AT TIME ZONE 'UTC') + interval '{months} months') AT TIME ZONE 'UTC'"
        # SQLite's '+N months' rolls 31 January over into March: days 29 to 31 are clamped by hand.
        day = f"substr({column}, 1, 10)"
        first = f"date({day}, 'start of month', '{months:+d} months')"
        last = f"date({day}, 'start of month', '{months + 1:+d} months', '-1 day')"
        dom, time_of_day = f"substr({column}, 9, 2)", f"substr({column}, 11)"
        return (
            f"(CASE WHEN {dom} <= '28' THEN date({day}, '{months:+d} months') || {time_of_day}"
            f" WHEN {dom} <= substr({last}, 9, 2) THEN substr({first}, 1, 8) || substr({column}, 9)"
            f" ELSE {last} || {time_of_day} END)"
        )

    def local_day(self, column: str) -> str:
        """The local date of a UTC column: a DATE on PostgreSQL, 'YYYY-MM-DD' text on SQLite."""
        if not self.sqlite:
            return f"CAST({column} AT TIME ZONE '{self.zone}' AS DATE)"
        whole = f"substr({column}, 1, 19)"  # the fraction dropped, never rounded into the next day
        if len(self.offsets) <= 1:
            seconds = self.offsets[0][1] if self.offsets else 0
            return f"date({whole}, '{seconds:+d} seconds')" if seconds else f"substr({column}, 1, 10)"
        whens = " ".join(
            f"WHEN {column} < '{start:{_SQLITE_TIME}}' THEN '{before:+d} seconds'"
            for (_, before), (start, _) in zip(self.offsets, self.offsets[1:], strict=False)
            if start is not None
        )
        return f"date({whole}, CASE {whens} ELSE '{self.offsets[-1][1]:+d} seconds' END)"

    def local_month(self, day: str) -> str:
        return f"substr({day}, 1, 7)" if self.sqlite else f"CAST(date_trunc('month', {day}) AS DATE)"

    def day_value(self, value: date) -> Any:
        return value.isoformat() if self.sqlite else value


# The key of the transaction-scoped advisory lock that loyalty's bulk jobs share ("gw-loyal" in ASCII).
BULK_LOCK_KEY = 0x67772D6C6F79616C


def hold_bulk_lock(session: Session, *, shared: bool = False) -> None:
    """Serialise loyalty's bulk jobs (``award_all``, ``expire_due`` for everyone, ``refresh_tiers``
    for everyone) until the transaction ends.

    Each of them locks many accounts in an order of its own (an upsert or UPDATE over thousands of
    rows locks them as the plan meets them), so two at once on PostgreSQL could deadlock. With
    this lock they take turns. SQLite needs nothing: any write takes its one database lock.

    Live passes that lock several accounts (``award_events``, ``refresh_tiers`` for some people)
    take it ``shared``: they run alongside each other (they lock in person id order) but never
    alongside a bulk job, whose order they cannot follow. A bulk job's own live pass (``award_all``
    calls ``award_events``) already holds it, which PostgreSQL allows.
    """
    if session.get_bind().dialect.name == "postgresql":
        function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
        session.execute(text(f"SELECT {function}(:key)"), {"key": BULK_LOCK_KEY})
