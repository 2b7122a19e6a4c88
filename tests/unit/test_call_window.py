"""The call list's pure rules: the window in their zone, the state now, who may be called, CSV cells."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from goodwill.outbox.call_rules import (
    BLOCKED,
    CALL_NOW,
    STATES,
    TOO_EARLY,
    TOO_LATE,
    call_blocker,
    call_state,
    call_window,
    offset_label,
    safe_cell,
    window_day,
)

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
TOKYO = ZoneInfo("Asia/Tokyo")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")
KATHMANDU = ZoneInfo("Asia/Kathmandu")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_the_window_start_is_inside_and_its_end_is_not() -> None:
    start, end = call_window(date(2026, 11, 20), LONDON, 8, 21)
    assert call_state(utc("2026-11-20T07:59:59"), start, end) == TOO_EARLY
    assert call_state(utc("2026-11-20T08:00:00"), start, end) == CALL_NOW
    assert call_state(utc("2026-11-20T20:59:59"), start, end) == CALL_NOW
    assert call_state(utc("2026-11-20T21:00:00"), start, end) == TOO_LATE
    assert BLOCKED in STATES and STATES.index(CALL_NOW) == 0


@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        (LONDON, CALL_NOW),  # 12:00 there
        (TOKYO, TOO_LATE),  # 21:00 there: the window has just closed
        (LOS_ANGELES, TOO_EARLY),  # 04:00 there
        (KATHMANDU, CALL_NOW),  # 17:45 there
    ],
)
def test_one_instant_is_a_different_state_in_each_zone(zone: ZoneInfo, expected: str) -> None:
    now = utc("2026-11-20T12:00:00")
    day = window_day(date(2026, 11, 20), now=now, zone=zone, business_zone=LONDON)
    start, end = call_window(day, zone, 8, 21)
    assert call_state(now, start, end) == expected


def test_windows_are_local_hours_in_summer_and_in_winter() -> None:
    winter = call_window(date(2026, 1, 15), NEW_YORK, 8, 21)
    summer = call_window(date(2026, 7, 15), NEW_YORK, 8, 21)
    assert [t.astimezone(UTC).hour for t in winter] == [13, 2]  # EST, UTC-5; 21:00 is 02:00 UTC next day
    assert [t.astimezone(UTC).hour for t in summer] == [12, 1]  # EDT, UTC-4
    assert [t.strftime("%H:%M") for t in (*winter, *summer)] == ["08:00", "21:00"] * 2
    assert offset_label(winter[0]) == "UTC-05:00" and offset_label(summer[0]) == "UTC-04:00"


def test_on_the_days_the_clocks_change_the_window_is_still_the_local_hours() -> None:
    # London springs forward at 01:00 UTC on 29 March 2026 and falls back on 25 October.
    spring = call_window(date(2026, 3, 29), LONDON, 8, 21)
    assert spring[0].astimezone(UTC) == utc("2026-03-29T07:00:00")
    assert spring[1].astimezone(UTC) == utc("2026-03-29T20:00:00")
    autumn = call_window(date(2026, 10, 25), LONDON, 8, 21)
    assert autumn[0].astimezone(UTC) == utc("2026-10-25T08:00:00")
    assert (autumn[1] - autumn[0]).total_seconds() == 13 * 3600
    # 08:00 BST the day before the change is 07:00 UTC: calling at 07:30 UTC is too early on the
    # change day itself in winter time, and fine the day before.
    before = call_window(date(2026, 10, 24), LONDON, 8, 21)
    assert call_state(utc("2026-10-24T07:30:00"), *before) == CALL_NOW
    assert call_state(utc("2026-10-25T07:30:00"), *autumn) == TOO_EARLY


def test_an_hour_the_clocks_skip_opens_the_window_at_the_jump() -> None:
    # New York skips 02:00-03:00 on 8 March 2026: a window "from 02:00" opens at 03:00 EDT.
    start, end = call_window(date(2026, 3, 8), NEW_YORK, 2, 21)
    assert start.astimezone(UTC) == utc("2026-03-08T07:00:00")
    assert start.strftime("%H:%M") == "03:00" and offset_label(start) == "UTC-04:00"
    assert call_state(utc("2026-03-08T06:59:59"), start, end) == TOO_EARLY
    assert call_state(utc("2026-03-08T07:00:00"), start, end) == CALL_NOW
    # A repeated hour (1 November 2026, 01:00-02:00 twice) is read as its first occurrence.
    repeated, _ = call_window(date(2026, 11, 1), NEW_YORK, 1, 21)
    assert repeated.astimezone(UTC) == utc("2026-11-01T05:00:00")


def test_the_window_shown_today_is_the_persons_own_today() -> None:
    evening_in_london = utc("2026-11-20T20:00:00")  # already 05:00 on the 21st in Tokyo
    today = date(2026, 11, 20)
    assert window_day(today, now=evening_in_london, zone=TOKYO, business_zone=LONDON) == date(2026, 11, 21)
    assert window_day(today, now=evening_in_london, zone=LOS_ANGELES, business_zone=LONDON) == today
    start, end = call_window(date(2026, 11, 21), TOKYO, 8, 21)
    assert call_state(evening_in_london, start, end) == TOO_EARLY  # opens at 23:00 London time
    later = date(2026, 11, 23)
    assert window_day(later, now=evening_in_london, zone=TOKYO, business_zone=LONDON) == later


def blocker(
    phone: str | None = "+44 20 7946 0000",
    consent: bool | None = True,
    planned_as_call: bool = False,
    listed: bool = False,
) -> str | None:
    return call_blocker(
        phone=phone, consent=consent, planned_as_call=planned_as_call, on_suppression_list=listed
    )


def test_who_may_be_called() -> None:
    assert blocker() is None
    assert blocker(consent=None, planned_as_call=True) is None  # they asked for the call
    assert blocker(consent=None) == "they have not consented to calls"
    assert blocker(consent=False, planned_as_call=True) == "they withdrew consent for calls"
    assert blocker(listed=True) == "the number is on the suppression list"
    for phone in (None, "", "  ", "+", "n/a"):
        assert blocker(phone=phone) == "no phone number on file"


@pytest.mark.parametrize(
    ("given", "cell"),
    [
        ('=HYPERLINK("http://evil")', '\'=HYPERLINK("http://evil")'),
        ("+44 20 7946 0000", "'+44 20 7946 0000"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("Zoë = happy", "Zoë = happy"),
        ("07946 000000", "07946 000000"),
        (42, "42"),
        (None, ""),
    ],
)
def test_csv_cells_never_start_like_a_formula(given: object, cell: str) -> None:
    assert safe_cell(given) == cell


def test_offsets_with_minutes() -> None:
    assert offset_label(datetime(2026, 1, 1, 9, tzinfo=KATHMANDU)) == "UTC+05:45"
    assert offset_label(datetime(2026, 1, 1, 9, tzinfo=UTC)) == "UTC+00:00"
    assert offset_label(datetime(2026, 1, 1, 9, tzinfo=ZoneInfo("America/St_Johns"))) == "UTC-03:30"
