"""Earning rules: points, rounding, multipliers, caps, dates, tiers and segments, times, edits."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from goodwill.loyalty.config import EarnRuleConfig, LoyaltyConfig
from goodwill.loyalty.rules import (
    RuleError,
    bonus_points,
    capped,
    checked_rules,
    day_bounds,
    earn_times,
    effective_rules,
    emails_in,
    local_day,
    month_bounds,
    points_text,
    purchase_points,
    refund_target,
    rule_applies,
    rules_for,
    validate_rule,
    yearly_dates,
)

PURCHASE = EarnRuleConfig(name="purchase", trigger="purchase", points_per_unit=1)
REVIEW = EarnRuleConfig(name="review", trigger="review", points=50, cap_per_day=60, cap_per_month=100)
PARIS = ZoneInfo("Europe/Paris")


@pytest.mark.parametrize(
    ("amount", "exponent", "per_unit", "multiplier", "points"),
    [
        (4590, 2, 1, 100, 45),  # 45.90 USD: whole units only
        (4590, 2, 1, 125, 56),  # 45 x 1.25 = 56.25, rounded down
        (4599, 2, 1, 110, 49),  # 45 x 1.10 = 49.5
        (99, 2, 1, 100, 0),  # under one unit
        (100, 2, 1, 100, 1),
        (4590, 2, 3, 125, 168),  # 45 x 3 x 1.25 = 168.75
        (1234, 0, 1, 100, 1234),  # JPY has no minor unit
        (12345, 3, 2, 100, 24),  # 12.345 KWD: 12 units x 2
        (0, 2, 1, 100, 0),
        (-500, 2, 1, 100, 0),  # never negative points from a purchase
    ],
)
def test_purchase_points_round_down_once_whole_units(
    amount: int, exponent: int, per_unit: int, multiplier: int, points: int
) -> None:
    rule = EarnRuleConfig(name="purchase", trigger="purchase", points_per_unit=per_unit)
    assert purchase_points(rule, amount, exponent, multiplier) == points


def test_purchase_points_ignore_the_multiplier_when_the_rule_says_so() -> None:
    rule = EarnRuleConfig(name="flat", trigger="purchase", points_per_unit=2, tier_multiplier=False)
    assert purchase_points(rule, 1000, 2, 150) == 20


@given(st.integers(0, 10**9), st.integers(0, 10_000), st.integers(100, 1000), st.sampled_from([0, 2, 3]))
def test_purchase_points_are_exact_integers(
    amount: int, per_unit: int, multiplier: int, exponent: int
) -> None:
    rule = EarnRuleConfig(name="purchase", trigger="purchase", points_per_unit=per_unit)
    points = purchase_points(rule, amount, exponent, multiplier)
    assert isinstance(points, int)
    exact_times_100 = (amount // 10**exponent) * per_unit * multiplier
    assert points * 100 <= exact_times_100 < (points + 1) * 100


def test_bonus_points_with_and_without_multiplier() -> None:
    assert bonus_points(REVIEW, 125) == 62
    birthday = EarnRuleConfig(name="birthday", trigger="birthday", points=100, tier_multiplier=False)
    assert bonus_points(birthday, 125) == 100


@pytest.mark.parametrize(
    ("points", "today", "month", "expected"),
    [
        (50, 0, 0, 50),
        (50, 10, 10, 50),  # 60 a day: 50 still fits
        (50, 20, 20, 40),  # cut to what the day leaves
        (50, 60, 60, 0),  # day full
        (50, 0, 70, 30),  # the month leaves less than the day
        (50, 0, 100, 0),
        (50, 0, 130, 0),  # over the cap (it was lowered): nothing, never negative
    ],
)
def test_caps_per_day_and_month(points: int, today: int, month: int, expected: int) -> None:
    assert capped(points, REVIEW, earned_today=today, earned_this_month=month) == expected


def test_no_caps_leave_points_alone() -> None:
    assert capped(10_000, PURCHASE, earned_today=10**6, earned_this_month=10**7) == 10_000


def test_caps_fill_greedily_in_event_order() -> None:
    given_so_far: list[int] = []
    for _ in range(4):
        today = sum(given_so_far)
        given_so_far.append(capped(50, REVIEW, earned_today=today, earned_this_month=today))
    assert given_so_far == [50, 10, 0, 0]


def test_rule_dates_are_inclusive() -> None:
    rule = EarnRuleConfig(
        name="spring",
        trigger="purchase",
        points_per_unit=2,
        starts_on=date(2026, 4, 1),
        ends_on=date(2026, 4, 14),
    )
    assert not rule_applies(rule, on=date(2026, 3, 31), tier="Member", segment=None)
    assert rule_applies(rule, on=date(2026, 4, 1), tier="Member", segment=None)
    assert rule_applies(rule, on=date(2026, 4, 14), tier="Member", segment=None)
    assert not rule_applies(rule, on=date(2026, 4, 15), tier="Member", segment=None)


def test_rule_limited_to_tiers_and_segments() -> None:
    rule = EarnRuleConfig(
        name="vip", trigger="review", points=10, tiers=("Silver", "Gold"), segments=("champions",)
    )
    on = date(2026, 1, 1)
    assert rule_applies(rule, on=on, tier="Gold", segment="champions")
    assert not rule_applies(rule, on=on, tier="Member", segment="champions")
    assert not rule_applies(rule, on=on, tier="Gold", segment="at_risk")
    assert not rule_applies(rule, on=on, tier="Gold", segment=None)  # not scored yet


def test_unlimited_rule_applies_to_everyone_and_disabled_rule_to_no_one() -> None:
    on = date(2026, 1, 1)
    assert rule_applies(PURCHASE, on=on, tier="", segment=None)
    off = PURCHASE.model_copy(update={"enabled": False})
    assert not rule_applies(off, on=on, tier="Member", segment="champions")
    assert rules_for((PURCHASE, off, REVIEW), "purchase") == (PURCHASE,)


@pytest.mark.parametrize(
    ("start", "months", "end"),
    [
        (datetime(2025, 1, 31, 23, 30, tzinfo=UTC), 1, datetime(2025, 2, 28, 23, 30, tzinfo=UTC)),
        (datetime(2024, 1, 31, 8, 0, tzinfo=UTC), 1, datetime(2024, 2, 29, 8, 0, tzinfo=UTC)),
        (datetime(2024, 2, 29, 8, 0, tzinfo=UTC), 12, datetime(2025, 2, 28, 8, 0, tzinfo=UTC)),
        (
            datetime(2025, 3, 15, 0, 0, 0, 999, tzinfo=UTC),
            12,
            datetime(2026, 3, 15, 0, 0, 0, 999, tzinfo=UTC),
        ),
        (datetime(2025, 12, 31, 12, 0, tzinfo=UTC), 2, datetime(2026, 2, 28, 12, 0, tzinfo=UTC)),
        (datetime(2025, 8, 31, 12, 0, tzinfo=UTC), 120, datetime(2035, 8, 31, 12, 0, tzinfo=UTC)),
    ],
)
def test_expiry_is_calendar_months_clamped_to_month_end(start: datetime, months: int, end: datetime) -> None:
    assert earn_times(start, pending_days=0, expiry_months=months) == (start, end)


def test_earn_times_pending_and_expiry() -> None:
    at = datetime(2025, 1, 31, 22, 0, tzinfo=PARIS)  # 21:00 UTC
    available, expires = earn_times(at, pending_days=14, expiry_months=1)
    assert available == datetime(2025, 2, 14, 21, 0, tzinfo=UTC)
    assert expires == datetime(2025, 2, 28, 21, 0, tzinfo=UTC)
    assert earn_times(at, pending_days=0, expiry_months=0) == (at, None)


def test_local_days_and_their_bounds_across_dst() -> None:
    late = datetime(2025, 3, 29, 23, 30, tzinfo=UTC)  # already 30 March in Paris
    assert local_day(late, PARIS) == date(2025, 3, 30)
    start, end = day_bounds(date(2025, 3, 30), PARIS)  # the spring-forward day: 23 hours
    assert (start, end - start) == (datetime(2025, 3, 29, 23, 0, tzinfo=UTC), timedelta(hours=23))
    start, end = month_bounds(date(2025, 12, 17), PARIS)
    assert (start, end) == (
        datetime(2025, 11, 30, 23, 0, tzinfo=UTC),
        datetime(2025, 12, 31, 23, 0, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("month", "day", "on", "expected"),
    [
        (6, 3, date(2026, 6, 3), True),
        (6, 3, date(2026, 6, 4), False),
        (2, 29, date(2024, 2, 29), True),
        (2, 29, date(2024, 2, 28), False),  # leap year: the real day comes next
        (2, 29, date(2025, 2, 28), True),  # no 29 February: celebrated on the 28th
        (2, 28, date(2025, 2, 28), True),
        (2, 29, date(2025, 3, 1), False),
    ],
)
def test_yearly_days_and_leap_birthdays(month: int, day: int, on: date, expected: bool) -> None:
    assert ((month, day) in yearly_dates(on)) is expected


@pytest.mark.parametrize(
    ("earned", "refunded", "total", "points"),
    [
        (45, 2295, 4590, 22),
        (45, 4590, 4590, 45),
        (45, 9999, 4590, 45),
        (45, 0, 4590, 0),
        (45, 100, 0, 0),
        (7, 1, 3, 2),
    ],
)
def test_refund_takes_back_in_proportion_rounded_down(
    earned: int, refunded: int, total: int, points: int
) -> None:
    assert refund_target(earned, refunded, total) == points


def test_emails_in_a_referral_text() -> None:
    assert emails_in("Referred Jo.Bloggs@Example.com and jo.bloggs@example.com, also x@y.co.uk.") == [
        "jo.bloggs@example.com",
        "x@y.co.uk",
    ]
    assert emails_in(None) == []
    assert emails_in("no address here @ all") == []


def test_points_text() -> None:
    assert points_text(50, "Thanks for your review") == "+50 points: Thanks for your review"


def test_effective_rules_replace_in_place_and_append_new_ones() -> None:
    config = LoyaltyConfig()
    rules = effective_rules(
        config,
        {
            "review": {"name": "review", "trigger": "review", "points": 75},
            "autumn": {"name": "autumn", "trigger": "purchase", "points_per_unit": 2, "tiers": ["Gold"]},
        },
    )
    names = [rule.name for rule in rules]
    assert names == [rule.name for rule in config.rules] + ["autumn"]
    review = next(rule for rule in rules if rule.name == "review")
    assert (review.points, review.cap_per_month) == (75, None)  # the edit replaces the whole rule
    assert effective_rules(config, {}) == config.rules


@pytest.mark.parametrize(
    ("definition", "field"),
    [
        ({"name": "x1", "trigger": "purchase", "points_per_unit": -1}, "points_per_unit"),
        ({"name": "x1", "trigger": "bought"}, "trigger"),
        ({"name": "X", "trigger": "review"}, "name"),
        ({"name": "x1", "trigger": "review", "colour": "red"}, "colour"),
        ({"name": "x1", "trigger": "review", "tiers": ["Platinum"]}, "tiers"),
        ({"name": "x1", "trigger": "review", "cap_per_day": -5}, "cap_per_day"),
        ({"name": "x1", "trigger": "review", "starts_on": "soon"}, "starts_on"),
    ],
)
def test_a_bad_rule_names_its_field(definition: dict[str, object], field: str) -> None:
    with pytest.raises(RuleError) as caught:
        validate_rule(definition, LoyaltyConfig())
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")


def test_a_rule_stored_under_another_name_is_skipped_and_reported() -> None:
    config = LoyaltyConfig()
    rules, problems = checked_rules(config, {"review": {"name": "other", "trigger": "review", "points": 5}})
    assert rules == config.rules  # the file's review rule applies
    [problem] = problems
    assert "'review'" in problem and "named 'other'" in problem and "goodwill.toml's rule" in problem


def test_stale_edits_are_skipped_one_by_one_and_reported() -> None:
    """An admin saved rules for tier Gold; goodwill.toml renamed Gold since. An older version stored
    a key that no longer exists. Neither may stop the others (or awarding) from working."""
    config = LoyaltyConfig.model_validate(
        {
            "tiers": [
                {"name": "Member", "threshold": 0},
                {"name": "Platinum", "threshold": 1000, "multiplier_percent": 150},
            ],
            "rules": [
                {"name": "purchase", "trigger": "purchase", "points_per_unit": 1},
                {"name": "gold_reviews", "trigger": "review", "points": 10, "tiers": ["Platinum"]},
            ],
        }
    )
    overrides = {
        "gold_reviews": {"name": "gold_reviews", "trigger": "review", "points": 99, "tiers": ["Gold"]},
        "autumn": {"name": "autumn", "trigger": "purchase", "points_per_unit": 2, "colour": "red"},
        "review_bonus": {"name": "review_bonus", "trigger": "review", "points": 7},
    }
    rules, problems = checked_rules(config, overrides)
    by_name = {rule.name: rule for rule in rules}
    assert list(by_name) == ["purchase", "gold_reviews", "review_bonus"]
    assert by_name["gold_reviews"].points == 10  # the file's rule, not the stale edit
    assert by_name["review_bonus"].points == 7  # a good edit still applies
    assert len(problems) == 2
    assert "'autumn'" in problems[0] and "colour" in problems[0] and "no rule applies" in problems[0]
    assert "'gold_reviews'" in problems[1] and "unknown tier 'Gold'" in problems[1]
    assert effective_rules(config, overrides) == rules
