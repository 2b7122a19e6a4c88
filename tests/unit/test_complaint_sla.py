"""Business-hours arithmetic for complaint clocks: weekends, holidays, outside hours, fractions, DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
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


# --- References written here, independent of sla.py's arithmetic --------------------------------------

NIGHT = BusinessHours(days=EVERY_DAY.days, opens=time(1, 0), closes=time(4, 0))  # spans the DST hour
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")  # a half-hour DST change at 02:00
CASABLANCA = ZoneInfo("Africa/Casablanca")  # DST suspended for Ramadan: changes a month apart


def walk_seconds_between(start: datetime, end: datetime, *, hours_config: BusinessHours, tz: ZoneInfo) -> int:
    """The day-by-day walk sla.py used before it counted whole weeks, kept as the reference."""
    if end < start:
        return -walk_seconds_between(end, start, hours_config=hours_config, tz=tz)
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    total = timedelta(0)
    day = start.astimezone(tz).date()
    while True:
        if day.weekday() in hours_config.weekdays and day not in hours_config.holidays:
            opens = datetime.combine(day, hours_config.opens, tzinfo=tz).astimezone(UTC)
            closes = datetime.combine(day, hours_config.closes, tzinfo=tz).astimezone(UTC)
            if closes > opens:
                if opens >= end:
                    break
                begin, finish = max(opens, start), min(closes, end)
                if finish > begin:
                    total += finish - begin
        day += timedelta(days=1)
    return round(total.total_seconds())


def in_hours(moment: datetime, config: BusinessHours, tz: ZoneInfo) -> bool:
    """Is the business open at this instant? Read off the local wall clock, nothing else."""
    local = moment.astimezone(tz)
    day = local.date()
    working = day.weekday() in config.weekdays and day not in config.holidays
    return working and config.opens <= local.time().replace(tzinfo=None) < config.closes


def minute_walk(start: datetime, end: datetime, config: BusinessHours, tz: ZoneInfo) -> int:
    """Business minutes in [start, end), counted one minute at a time (start and end on whole minutes)."""
    minutes, moment = 0, start
    while moment < end:
        minutes += in_hours(moment, config, tz)
        moment += timedelta(minutes=1)
    return minutes


def test_a_complaint_due_decades_ago_is_still_counted() -> None:
    """A clock that ran out in 1990 once made every inbox crash (the walk gave up after ten years)."""
    start, end = at(PARIS, 1990, 3, 1, 12, 0), at(PARIS, 2026, 11, 24, 12, 0)
    counted = between(start, end)
    assert counted == walk_seconds_between(start, end, hours_config=WEEKDAYS, tz=PARIS)
    assert counted > 9000 * 8 * 3600  # over 9000 working days of eight hours
    assert between(end, start) == -counted
    # Thursday 1 March 1990 12:00-17:00 and Tuesday 24 November 2026 09:00-12:00 make one more day.
    assert describe(counted, day_hours=8, working_days=True) == "9583 working days"


MONTH_OFF = BusinessHours(holidays=tuple(date(2025, 5, d) for d in range(1, 32)))  # weekends too
LONG_ZONES = st.sampled_from([PARIS, NEW_YORK, LORD_HOWE, CASABLANCA, UTC])
LONG_CONFIGS = st.sampled_from(
    [
        WEEKDAYS,
        EVERY_DAY,
        NIGHT,
        BusinessHours(days=("tue", "sat"), opens=time(10, 0), closes=time(14, 30)),
        BusinessHours(
            days=("mon", "tue", "wed", "thu", "fri", "sun"),
            opens=time(0, 30),
            closes=time(23, 45),
            holidays=(date(2024, 12, 25), date(2025, 3, 30), date(2025, 10, 26), date(2026, 1, 1)),
        ),
        MONTH_OFF,
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    st.datetimes(min_value=datetime(2023, 6, 1), max_value=datetime(2026, 6, 30), timezones=st.just(UTC)),
    st.integers(min_value=-3 * 366 * 86400, max_value=3 * 366 * 86400),
    LONG_ZONES,
    LONG_CONFIGS,
)
@example(datetime(2025, 1, 1, tzinfo=UTC), 300 * 86400, PARIS, MONTH_OFF)
@example(datetime(2024, 1, 1, 12, tzinfo=UTC), 700 * 86400, PARIS, NIGHT)
@example(datetime(2024, 1, 1, 12, tzinfo=UTC), 700 * 86400, CASABLANCA, EVERY_DAY)
def test_property_whole_weeks_count_the_same_as_the_day_walk(
    start: datetime, seconds: int, tz: ZoneInfo, config: BusinessHours
) -> None:
    end = start + timedelta(seconds=seconds)
    expected = walk_seconds_between(start, end, hours_config=config, tz=tz)
    assert business_seconds_between(start, end, hours_config=config, tz=tz) == expected


SHORT_ZONES = st.sampled_from([PARIS, NEW_YORK, LORD_HOWE])
SHORT_CONFIGS = st.sampled_from(
    [WEEKDAYS, EVERY_DAY, NIGHT, BusinessHours(holidays=(date(2025, 3, 31), date(2025, 11, 3)))]
)
# Around the clock changes of 2025 (Europe: 30 March, 26 October; US: 9 March, 2 November;
# Lord Howe: 6 April, 5 October), and anywhere in the year.
AROUND = st.sampled_from(
    [
        (datetime(2025, 3, 5), 35),
        (datetime(2025, 10, 1), 40),
        (datetime(2025, 1, 1), 364),
    ]
)


@st.composite
def minute_starts(draw: st.DrawFn) -> datetime:
    first, days = draw(AROUND)
    minute = draw(st.integers(0, days * 24 * 60))
    return (first + timedelta(minutes=minute)).replace(tzinfo=UTC)


@settings(max_examples=150, deadline=None)
@given(minute_starts(), st.integers(0, 16 * 60), SHORT_ZONES, SHORT_CONFIGS)
def test_property_due_at_agrees_with_a_minute_by_minute_count(
    start: datetime, minutes: int, tz: ZoneInfo, config: BusinessHours
) -> None:
    due = due_at(start, minutes / 60, hours_config=config, tz=tz)
    assert minute_walk(start, due, config, tz) == minutes
    if minutes:  # and not a minute later than needed: the last minute counted was a working one
        assert in_hours(due - timedelta(minutes=1), config, tz)


@settings(max_examples=150, deadline=None)
@given(minute_starts(), st.integers(-6 * 24 * 60, 6 * 24 * 60), SHORT_ZONES, SHORT_CONFIGS)
def test_property_seconds_between_agrees_with_a_minute_by_minute_count(
    start: datetime, minutes: int, tz: ZoneInfo, config: BusinessHours
) -> None:
    end = start + timedelta(minutes=minutes)
    low, high = min(start, end), max(start, end)
    counted = minute_walk(low, high, config, tz) * 60
    assert business_seconds_between(start, end, hours_config=config, tz=tz) == (
        counted if end >= start else -counted
    )


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (40 * 3600, "5 working days"),
        (9 * 3600, "1 working day 1h"),
        (17 * 3600 + 59 * 60, "2 working days 1h"),
        (7 * 3600 + 30 * 60, "7h 30m"),
    ],
)
def test_describe_in_working_days(seconds: int, text: str) -> None:
    assert describe(seconds, day_hours=8, working_days=True) == text


def test_business_day_hours_is_the_wall_clock_span() -> None:
    from goodwill.complaints.sla import business_day_hours

    assert business_day_hours(WEEKDAYS) == 8
    assert business_day_hours(BusinessHours(opens=time(8, 30), closes=time(12, 0))) == 3.5


def test_timers_count_days_as_working_days() -> None:
    """40 business hours with a 09:00-17:00 day are five working days, not "1d 16h"."""
    from goodwill.complaints.model import Complaint
    from goodwill.complaints.timers import timers_for
    from goodwill.config import load_settings

    config = load_settings(
        database_url="sqlite://", secret_key="unit", business={"name": "Tea", "timezone": "Europe/Paris"}
    )
    now = at(PARIS, 2025, 5, 14, 9, 0)  # a Wednesday morning
    complaint = Complaint(
        received_at=now,
        first_response_due_at=at(PARIS, 2025, 5, 14, 12, 30),
        resolution_due_at=due(now, 40),
    )
    first, resolution = timers_for(complaint, now=now, settings=config)
    assert first.text == "first response due in 3h 30m (business hours)"
    assert resolution.text == "resolution due in 5 working days (business hours)"
    late = timers_for(complaint, now=due(now, 49), settings=config)[1]
    assert late.text == "resolution overdue by 1 working day 1h (business hours)"
