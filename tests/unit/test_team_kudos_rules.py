"""The pure rules behind kudos: which member of staff a customer's praise names, and the allowance."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from goodwill.team.kudos import KudosError, check_points, clean_reason, month_start, staff_named_in

STAFF = [(1, "Tom Baker"), (2, "Zoë Martin"), (3, "Anne-Marie Lenoir"), (4, "José Álvarez"), (5, "")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Tom was wonderful, thank you!", 1),
        ("thanks to TOM for the help", 1),
        ("Tom's advice saved my evening", 1),  # an apostrophe still ends the word
        ("zoe found my parcel", 2),  # accents folded in the text
        ("Zoë found my parcel", 2),
        ("JOSE fixed it", 4),  # accents folded in the staff name
        ("Anne-Marie was lovely", 3),
        ("Tom Baker sorted the refund", 1),  # full name
        ("Tom  \n Baker sorted it", 1),  # white space inside the name does not matter
    ],
)
def test_a_name_in_the_praise_finds_the_one_staff_member(text: str, expected: int) -> None:
    assert staff_named_in(text, STAFF) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Tomorrow I will come back",  # "Tom" inside a word
        "The tomato soup was great",
        "Atom-sized portions",
        "Anne was lovely",  # Anne is not Anne-Marie
        "Marie was lovely",
        "Great service from everyone",
        "",
    ],
)
def test_no_whole_word_name_gives_nobody(text: str) -> None:
    assert staff_named_in(text, STAFF) is None


def test_two_staff_named_is_ambiguous_and_gives_nobody() -> None:
    assert staff_named_in("Tom and Zoë were both great", STAFF) is None


def test_two_staff_with_the_same_first_name_are_ambiguous_unless_the_full_name_is_given() -> None:
    staff = [(1, "Tom Baker"), (2, "Tom Jones"), (3, "Zoë Martin")]
    assert staff_named_in("Tom helped me", staff) is None
    assert staff_named_in("Tom Jones helped me", staff) == 2
    assert staff_named_in("Tom Baker and Tom Jones helped me", staff) is None


def test_an_apostrophe_before_a_name_is_not_part_of_another_word() -> None:
    assert staff_named_in("'Tom' was kind", STAFF) == 1


def test_the_reason_is_trimmed_and_between_3_and_1000_characters() -> None:
    assert clean_reason("  Thanks for the cover  ") == "Thanks for the cover"
    for bad in ("", "  ", "ok", "x" * 1001):
        with pytest.raises(KudosError) as refused:
            clean_reason(bad)
        assert refused.value.field == "reason"
    assert clean_reason("  " + "y" * 1000 + " ") == "y" * 1000


def test_points_fit_what_is_left_of_the_allowance() -> None:
    check_points(30, allowance=50, spent=20)
    check_points(0, allowance=50, spent=50)
    with pytest.raises(KudosError, match=r"^You have 20 of your 50 points left this month$") as refused:
        check_points(21, allowance=50, spent=30)
    assert refused.value.field == "points"
    with pytest.raises(KudosError, match="You have 0 of your 50 points left"):
        check_points(1, allowance=50, spent=60)  # overspent (the allowance was lowered): 0 left, not -10


def test_no_allowance_means_no_points_and_negative_points_are_refused() -> None:
    check_points(0, allowance=0, spent=0)
    with pytest.raises(KudosError, match="no monthly allowance"):
        check_points(5, allowance=0, spent=0)
    with pytest.raises(KudosError, match="negative"):
        check_points(-1, allowance=50, spent=0)


def test_the_month_starts_at_midnight_in_the_business_time_zone() -> None:
    paris = ZoneInfo("Europe/Paris")
    # 23:30 UTC on 31 March is already 1 April in Paris (UTC+2 in summer time).
    assert month_start(datetime(2025, 3, 31, 23, 30, tzinfo=UTC), paris) == datetime(
        2025, 3, 31, 22, 0, tzinfo=UTC
    )
    # 22:30 UTC on 31 January is still January in Paris (UTC+1).
    assert month_start(datetime(2025, 1, 31, 22, 30, tzinfo=UTC), paris) == datetime(
        2024, 12, 31, 23, 0, tzinfo=UTC
    )
    tokyo = ZoneInfo("Asia/Tokyo")
    assert month_start(datetime(2025, 5, 31, 16, 0, tzinfo=UTC), tokyo) == datetime(
        2025, 5, 31, 15, 0, tzinfo=UTC
    )
