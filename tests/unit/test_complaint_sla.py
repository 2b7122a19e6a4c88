"""Business-hours arithmetic for complaint clocks: weekends, holidays, outside hours, fractions, DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from goodwill.complaints.config import BusinessHours
from goodwill.complaints.sla import business_seconds_between, describe, due_at

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")
WEEKDAYS = BusinessHours()  # Monday to Friday, 09:00-17:00
EVERY_DAY = BusinessHours(days=("mon", "tue", "wed", "thu", "fri", "sat", "sun"))


def at(tz: ZoneInfo, *parts: int) -> datetime:
    return datetime(*parts, tzinfo=tz)  # type: ignore[misc]


def due(start: datetime, hours: float, tz: ZoneInfo = PARIS, config: BusinessHours = WEEKDAYS) -> datetime:
    return due_at(start, hours, hours_config=config, tz=tz)


def between(start: datetime, end: datetime, tz: ZoneInfo = PARIS, config: BusinessHours = WEEKDAYS) -> int:
    return business_seconds_between(start, end, hours_config=config, tz=tz)


# 2025-05-14 is a Wednesday; 2025-05-16 a Friday.


def test_inside_hours_the_clock_runs_straight() -> None:
    assert due(at(PARIS, 2025, 5, 14, 10, 0), 3) == at(PARIS, 2025, 5, 14, 13, 0)


def test_a_clock_ending_at_closing_time_is_due_at_closing_not_next_morning() -> None:
    assert due(at(PARIS, 2025, 5, 14, 9, 0), 8) == at(PARIS, 2025, 5, 14, 17, 0)


def test_friday_afternoon_runs_over_the_weekend_to_monday() -> None:
    # 30 minutes on Friday, 3h30 on Monday morning.
    assert due(at(PARIS, 2025, 5, 16, 16, 30), 4) == at(PARIS, 2025, 5, 19, 12, 30)
    assert between(at(PARIS, 2025, 5, 16, 16, 30), at(PARIS, 2025, 5, 19, 12, 30)) == 4 * 3600


def test_a_start_on_the_weekend_counts_from_monday_opening() -> None:
    assert due(at(PARIS, 2025, 5, 17, 11, 0), 1) == at(PARIS, 2025, 5, 19, 10, 0)


def test_before_opening_counts_from_opening_and_after_closing_from_next_morning() -> None:
    assert due(at(PARIS, 2025, 5, 14, 7, 15), 2) == at(PARIS, 2025, 5, 14, 11, 0)
    assert due(at(PARIS, 2025, 5, 14, 18, 0), 2) == at(PARIS, 2025, 5, 15, 11, 0)
    assert due(at(PARIS, 2025, 5, 14, 17, 0), 1) == at(PARIS, 2025, 5, 15, 10, 0)


def test_holidays_are_skipped() -> None:
    config = BusinessHours(holidays=(date(2025, 5, 19),))  # the Monday off
    assert due(at(PARIS, 2025, 5, 16, 16, 0), 2, config=config) == at(PARIS, 2025, 5, 20, 10, 0)
    assert between(at(PARIS, 2025, 5, 16, 9, 0), at(PARIS, 2025, 5, 20, 9, 0), config=config) == 8 * 3600


def test_fractional_hours() -> None:
    assert due(at(PARIS, 2025, 5, 14, 9, 0), 1.25) == at(PARIS, 2025, 5, 14, 10, 15)
    assert due(at(PARIS, 2025, 5, 14, 16, 45), 0.5) == at(PARIS, 2025, 5, 15, 9, 15)
    assert between(at(PARIS, 2025, 5, 14, 9, 0), at(PARIS, 2025, 5, 14, 9, 40)) == 40 * 60


def test_other_business_hours() -> None:
    config = BusinessHours(days=("tue", "sat"), opens=time(10, 0), closes=time(14, 30))
    # Wednesday 12:00 -> Saturday 10:00 + 4h30 -> the whole Saturday, 0.5h into Tuesday.
    assert due(at(PARIS, 2025, 5, 14, 12, 0), 5, config=config) == at(PARIS, 2025, 5, 20, 10, 30)


def test_seconds_between_is_negative_backwards_and_zero_outside_hours() -> None:
    start, end = at(PARIS, 2025, 5, 14, 10, 0), at(PARIS, 2025, 5, 14, 12, 0)
    assert between(end, start) == -7200
    assert between(at(PARIS, 2025, 5, 17, 9, 0), at(PARIS, 2025, 5, 18, 20, 0)) == 0
    assert between(start, start) == 0


def test_paris_spring_forward_over_a_weekend() -> None:
    # Clocks go forward on Sunday 30 March 2025: Friday is UTC+1, Monday UTC+2.
    start = at(PARIS, 2025, 3, 28, 16, 0)
    assert due(start, 2) == at(PARIS, 2025, 3, 31, 10, 0)
    assert due(start, 2) == datetime(2025, 3, 31, 8, 0, tzinfo=UTC)
    assert between(start, at(PARIS, 2025, 3, 31, 17, 0)) == 9 * 3600


def test_paris_fall_back_day_still_has_its_full_wall_clock_hours() -> None:
    # Sunday 26 October 2025 is 25 hours long; 09:00-17:00 on it is still eight hours.
    day_start, day_end = at(PARIS, 2025, 10, 26, 9, 0), at(PARIS, 2025, 10, 26, 17, 0)
    assert between(day_start, day_end, config=EVERY_DAY) == 8 * 3600
    assert due(at(PARIS, 2025, 10, 25, 16, 0), 2, config=EVERY_DAY) == datetime(
        2025, 10, 26, 9, 0, tzinfo=UTC
    )


def test_a_business_day_spanning_the_change_is_its_local_wall_clock_span() -> None:
    night = BusinessHours(days=EVERY_DAY.days, opens=time(1, 0), closes=time(4, 0))
    # 01:00-04:00 is two real hours on the spring-forward night and four on the fall-back night.
    assert between(at(PARIS, 2025, 3, 30, 0, 0), at(PARIS, 2025, 3, 30, 12, 0), config=night) == 2 * 3600
    assert between(at(PARIS, 2025, 10, 26, 0, 0), at(PARIS, 2025, 10, 26, 12, 0), config=night) == 4 * 3600
    assert due(at(PARIS, 2025, 3, 30, 0, 0), 2, config=night) == at(PARIS, 2025, 3, 30, 4, 0)


def test_new_york_spring_forward_and_fall_back() -> None:
    # Clocks go forward on Sunday 9 March 2025 and back on Sunday 2 November 2025.
    assert due(at(NEW_YORK, 2025, 3, 7, 16, 0), 3, NEW_YORK) == datetime(2025, 3, 10, 15, 0, tzinfo=UTC)
    assert due(at(NEW_YORK, 2025, 10, 31, 16, 30), 1, NEW_YORK) == datetime(2025, 11, 3, 14, 30, tzinfo=UTC)
    assert between(at(NEW_YORK, 2025, 3, 7, 9, 0), at(NEW_YORK, 2025, 3, 10, 17, 0), NEW_YORK) == 16 * 3600
    # On the fall-back Sunday itself, when the business opens every day.
    assert between(at(NEW_YORK, 2025, 11, 2), at(NEW_YORK, 2025, 11, 3), NEW_YORK, EVERY_DAY) == 8 * 3600


def test_times_without_a_zone_are_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        due(datetime(2025, 5, 14, 10, 0), 1)  # no zone: the point of the test
    with pytest.raises(ValueError, match="negative"):
        due(at(PARIS, 2025, 5, 14, 10, 0), -1)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0m"),
        (30, "under 1m"),
        (45 * 60, "45m"),
        (3 * 3600, "3h"),
        (3 * 3600 + 20 * 60, "3h 20m"),
        (49 * 3600, "2d 1h"),
        (48 * 3600, "2d"),
        (-3600, "1h"),
    ],
)
def test_describe(seconds: int, text: str) -> None:
    assert describe(seconds) == text


def test_describe_in_business_days() -> None:
    assert describe(17 * 3600, day_hours=8) == "2d 1h"


ZONES = st.sampled_from([PARIS, NEW_YORK])
CONFIGS = st.sampled_from(
    [WEEKDAYS, EVERY_DAY, BusinessHours(holidays=(date(2025, 3, 31), date(2025, 11, 3)))]
)


@st.composite
def starts_inside_hours(draw: st.DrawFn) -> tuple[datetime, ZoneInfo, BusinessHours]:
    tz, config = draw(ZONES), draw(CONFIGS)
    day = date(2025, 1, 1) + timedelta(days=draw(st.integers(0, 364)))
    while day.weekday() not in config.weekdays or day in config.holidays:
        day += timedelta(days=1)
    minute = draw(st.integers(9 * 60, 17 * 60 - 1))
    return datetime.combine(day, time(minute // 60, minute % 60), tzinfo=tz), tz, config


@settings(max_examples=300, deadline=None)
@given(starts_inside_hours(), st.integers(1, 200 * 60))
def test_property_the_clock_adds_exactly_the_business_time(
    start: tuple[datetime, ZoneInfo, BusinessHours], minutes: int
) -> None:
    moment, tz, config = start
    hours = minutes / 60
    end = due_at(moment, hours, hours_config=config, tz=tz)
    assert end >= moment
    assert business_seconds_between(moment, end, hours_config=config, tz=tz) == round(hours * 3600)


@settings(max_examples=200, deadline=None)
@given(
    st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2026, 12, 31), timezones=st.just(UTC)),
    st.floats(min_value=0, max_value=100, allow_nan=False),
    ZONES,
)
def test_property_never_due_before_it_started(start: datetime, hours: float, tz: ZoneInfo) -> None:
    end = due_at(start, hours, hours_config=WEEKDAYS, tz=tz)
    assert end >= start
    # Counted back, the business time is the hours asked for (to the microsecond timedelta keeps).
    assert abs(business_seconds_between(start, end, hours_config=WEEKDAYS, tz=tz) - hours * 3600) <= 1
