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
        ("Tom's advice saved my evening", 1),  # an apostrophe still ends the word
        ("Zoe found my parcel", 2),  # accents folded in the text
        ("Zoë found my parcel", 2),
        ("Jose fixed it", 4),  # accents folded in the staff name
        ("Anne-Marie was lovely", 3),
        ("Tom Baker sorted the refund", 1),  # full name
        ("tom baker sorted the refund", 1),  # a full name is found whatever its case
        ("TOM BAKER SORTED IT", 1),
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
        # A first name alone must be written as a name: capitalised as the member of staff writes it.
        "thanks to tom for the help",
        "thanks to TOM for the help",
        "zoe found my parcel",
        "JOSE fixed it",
        "TOM WAS WONDERFUL",  # all in capitals: nothing is written as a name
    ],
)
def test_no_whole_word_name_gives_nobody(text: str) -> None:
    assert staff_named_in(text, STAFF) is None


# First names that are also everyday words, written as words.
WORDY = [(11, "Will Turner"), (12, "Mark Twain"), (13, "May Blossom"), (14, "Grace Jones"),
         (15, "Bill Evans"), (16, "Rob Roy"), (17, "Pat Cash")]  # fmt: skip


@pytest.mark.parametrize(
    "text",
    [
        "Great shop, will definitely come back!",
        "I may come again",
        "A pat on the back for the team",
        "The bill was fair",
        "Nobody tried to rob me",
        "Served with grace",
        "Lovely. Mark my words: the best shop in town",  # opening a sentence
        "Will definitely come back!",
        "Lovely tea.\nMay your shop live long",
        '"Grace" is the word',
        "GREAT SHOP, WILL COME BACK",
    ],
)
def test_a_first_name_that_is_an_everyday_word_is_not_a_name_unless_written_as_one(text: str) -> None:
    assert staff_named_in(text, WORDY) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Thanks to Will for the help", 11),  # capitalised inside a sentence: a name
        ("Great shop, thanks Mark!", 12),
        ("Will Turner was so patient", 11),  # a full name counts anywhere
        ("will turner was so patient", 11),
    ],
)
def test_a_first_name_written_as_a_name_still_finds_them(text: str, expected: int) -> None:
    assert staff_named_in(text, WORDY) == expected


def test_the_customer_signing_their_own_name_praises_nobody() -> None:
    staff = [(1, "Anna Berg"), (2, "Tom Baker"), (3, "Sam Hill")]
    assert staff_named_in("Lovely service. Anna", staff, author=("Anna Smith",)) is None
    assert staff_named_in("Lovely service. Anna", staff) == 1  # without knowing who wrote it
    # Their preferred name and the start of their email are theirs too.
    assert staff_named_in("Cheers, Sam", staff, author=("Samuel Oak", "Sam")) is None
    assert staff_named_in("Lovely. Tom", staff, author=("", "", "tom.smith@example.com")) is None
    # ...but they can still name a colleague with the same first name by their full name,
    assert staff_named_in("Tom Baker was wonderful. Tom", staff, author=("Tom Smith",)) == 2
    # or name someone else while signing.
    assert staff_named_in("Sam was wonderful. Anna", staff, author=("Anna Smith",)) == 3
    # A one-word name of theirs does not hide a colleague's full name.
    assert staff_named_in("Anna Berg was wonderful", staff, author=("", "Anna", "anna@example.com")) == 1
    # A customer with the very name of a member of staff, signing: nobody.
    assert staff_named_in("Thank you! Anna Berg", staff, author=("Anna Berg",)) is None


def test_the_reason_loses_nul_characters() -> None:
    assert clean_reason("Thanks\x00 for\x00 the cover") == "Thanks for the cover"


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
