"""The bank's rules, decay, streaks and status, with hand-computed expectations (see docs/bank.md)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from goodwill.bank.rules import (
    IN_TIME,
    RULES,
    BankConfig,
    Effect,
    EventFact,
    Side,
    Status,
    adjustment_points,
    decay,
    project,
    recovery_bonus,
    review_rule,
    running_balances,
    score_of,
    standing,
)
from goodwill.events.model import EVENT_KINDS

DAY0 = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)
CONFIG = BankConfig()


def day(n: float) -> datetime:
    return DAY0 + timedelta(days=n)


def events(*specs: tuple[float, str] | tuple[float, str, str]) -> list[EventFact]:
    return [
        EventFact(i + 1, spec[1], day(spec[0]), spec[2] if len(spec) > 2 else None)  # type: ignore[misc]
        for i, spec in enumerate(specs)
    ]


def amounts(entries: list) -> list[tuple[str, int]]:  # type: ignore[type-arg]
    return [(e.rule, e.amount) for e in entries]


@pytest.mark.parametrize(
    ("kind", "points", "side", "effect"),
    [
        ("purchase", 2, Side.customer, Effect.none),
        ("praise", 5, Side.customer, Effect.none),
        ("referral", 6, Side.customer, Effect.none),
        ("appreciation_sent", 3, Side.business, Effect.answers),
        ("card_sent", 5, Side.business, Effect.answers),
        ("call_made", 3, Side.business, Effect.answers),
        ("question_answered", 2, Side.business, Effect.answers),
        ("complaint_resolved", 4, Side.business, Effect.answers),
        ("points_earned", 1, Side.business, Effect.answers),
        ("reward_redeemed", 3, Side.business, Effect.answers),
        ("complaint", -6, Side.business, Effect.extends),
        ("late_delivery", -4, Side.business, Effect.extends),
        ("service_failure", -6, Side.business, Effect.extends),
        ("defect", -5, Side.business, Effect.extends),
        ("return", -2, Side.business, Effect.extends),
        ("order_cancelled", -3, Side.business, Effect.extends),
    ],
)
def test_each_direct_rule_has_its_default_weight_side_and_effect(
    kind: str, points: int, side: Side, effect: Effect
) -> None:
    [entry] = project(events((0, kind)), CONFIG)
    assert (entry.rule, entry.amount, entry.side, entry.effect, entry.at) == (
        kind,
        points,
        side,
        effect,
        DAY0,
    )


@pytest.mark.parametrize("kind", ["visit", "note", "refund"])
def test_neutral_kinds_make_no_entry(kind: str) -> None:
    assert project(events((0, kind)), CONFIG) == []


def test_every_event_kind_is_either_a_rule_or_neutral_by_decision() -> None:
    ruled = {rule.kind for rule in RULES} | {
        "goodwill_adjustment",
        "visit",
        "note",
        "refund",
    }
    assert set(EVENT_KINDS) == ruled


@pytest.mark.parametrize(
    ("text", "rule", "points"),
    [
        ("Lovely shop 5/5", "review_positive", 6),
        ("★★★★ would buy again", "review_positive", 6),
        ("4/5, slow but kind", "review_positive", 6),
        ("meh 2/5", "review_negative", -6),
        ("★ broken on arrival", "review_negative", -6),
        ("★★★ fine", "review", 2),
        ("3/5", "review", 2),
        (None, "review", 2),
    ],
)
def test_reviews_read_a_rating_from_their_text(text: str | None, rule: str, points: int) -> None:
    assert review_rule(text) == rule
    [entry] = project([EventFact(1, "review", DAY0, text)], CONFIG)
    assert (entry.rule, entry.amount) == (rule, points)


@pytest.mark.parametrize(
    ("text", "points"),
    [("+10 replaced the vase", 10), ("-5 praise counted twice", -5), ("+9999 x", 9999)],
)
def test_adjustment_points_come_from_the_signed_number_before_the_first_space(text: str, points: int) -> None:
    assert adjustment_points(text) == points


@pytest.mark.parametrize("text", ["10 no sign", "+10000 too big", "+1.5 decimals", "because +5", "", None])
def test_adjustment_without_signed_points_is_worth_nothing(text: str | None) -> None:
    assert adjustment_points(text) == 0
    assert project([EventFact(1, "goodwill_adjustment", DAY0, text)], CONFIG) == []


def test_positive_adjustment_answers_a_streak_negative_one_is_bookkeeping() -> None:
    plus, minus = project(
        events((0, "goodwill_adjustment", "+10 sorry"), (1, "goodwill_adjustment", "-3 fix")), CONFIG
    )
    assert (plus.amount, plus.effect, plus.side) == (10, Effect.answers, Side.business)
    assert (minus.amount, minus.effect) == (-3, Effect.none)


def test_question_unanswered_after_its_deadline_is_a_withdrawal_at_the_deadline() -> None:
    [entry] = project(events((0, "question")), CONFIG)
    assert (entry.rule, entry.amount, entry.at, entry.event_id) == ("question_unanswered", -4, day(2), 1)


def test_question_answered_within_the_deadline_costs_nothing() -> None:
    assert amounts(project(events((0, "question"), (2, "question_answered")), CONFIG)) == [
        ("question_answered", 2)
    ]


def test_a_late_answer_does_not_undo_the_withdrawal_but_ends_the_streak() -> None:
    entries = project(events((0, "question"), (3, "question_answered")), CONFIG)
    assert amounts(entries) == [("question_unanswered", -4), ("question_answered", 2)]
    assert standing(entries, CONFIG, day(3)).bad_streak == 0
    assert standing(entries, CONFIG, day(2.5)).bad_streak == 1


def test_recovery_bonus_shrinks_as_the_streak_grows() -> None:
    assert [recovery_bonus(n, CONFIG) for n in (0, 1, 2, 3, 4)] == [4, 4, 2, 0, 0]


def test_worked_example_a_mix_up_handled_well() -> None:
    """docs/bank.md, example 1: one complaint resolved the next day recovers more than it took."""
    entries = project(events((0, "purchase"), (30, "complaint"), (31, "complaint_resolved")), CONFIG)
    assert amounts(entries) == [("purchase", 2), ("complaint", -6), (IN_TIME, 8)]
    now = standing(entries, CONFIG, day(31))
    expected = 2 * 2 ** (-31 / 365) - 6 * 2 ** (-1 / 365) + 8
    assert now.balance == pytest.approx(expected)
    assert round(now.balance, 2) == 3.90
    assert (now.bad_streak, now.status) == (0, Status.healthy)


def test_resolution_outside_the_sla_earns_only_the_base() -> None:
    entries = project(events((0, "complaint"), (3.5, "complaint_resolved")), CONFIG)
    assert amounts(entries) == [("complaint", -6), ("complaint_resolved", 4)]


def test_worked_example_several_bad_experiences_in_a_row() -> None:
    """docs/bank.md, example 2: the streak walks healthy -> watch -> overdrawn; buying does not end it."""
    entries = project(
        events(
            (0, "purchase"),
            (0, "praise"),
            (0, "referral"),
            (5, "late_delivery"),
            (6, "defect"),
            (8, "complaint"),
            (9, "purchase"),
            (10, "complaint_resolved"),
        ),
        CONFIG,
    )
    assert amounts(entries)[3:] == [
        ("late_delivery", -4),
        ("defect", -5),
        ("complaint", -6),
        ("purchase", 2),
        (IN_TIME, 4),  # a streak of 3 before it: no recovery bonus
    ]
    steps = [
        (5, 1, 8.88, Status.healthy),
        (6, 2, 3.86, Status.watch),
        (8, 3, -2.15, Status.overdrawn),
        (9, 3, -0.15, Status.overdrawn),
        (10, 0, 3.85, Status.healthy),
    ]
    for when, streak, balance, status in steps:
        now = standing(entries, CONFIG, day(when))
        assert (now.bad_streak, round(now.balance, 2), now.status) == (streak, balance, status)
    assert [e.rule for e in standing(entries, CONFIG, day(9)).streak_entries] == [
        "late_delivery",
        "defect",
        "complaint",
    ]


def test_decay_halves_an_entry_every_half_life() -> None:
    assert decay(day(0), day(365), 365) == pytest.approx(0.5)
    assert decay(day(0), day(730), 365) == pytest.approx(0.25)
    [entry] = project(events((0, "card_sent")), CONFIG)
    assert standing([entry], CONFIG, day(365)).balance == pytest.approx(2.5)
    assert standing([entry], BankConfig(half_life_days=90), day(90)).balance == pytest.approx(2.5)


def test_thresholds_are_configurable() -> None:
    strict = BankConfig(watch_streak=1, at_risk_streak=2)
    entries = project(events((0, "purchase"), (1, "purchase"), (2, "return")), strict)
    assert standing(entries, strict, day(2)).status is Status.watch
    assert standing(entries, CONFIG, day(2)).status is Status.healthy


def test_zero_weight_turns_a_rule_off() -> None:
    config = BankConfig(weights={**CONFIG.weights, "purchase": 0, "visit": 1})
    assert amounts(project(events((0, "purchase"), (1, "visit")), config)) == [("visit", 1)]


def test_running_balance_on_a_statement_matches_the_decayed_sum() -> None:
    entries = project(events((0, "purchase"), (100, "praise"), (200, "late_delivery")), CONFIG)
    rows, closing = running_balances(entries, CONFIG, day(300))
    assert [round(b, 4) for _, b in rows] == [
        2.0,
        round(2 * 2 ** (-100 / 365) + 5, 4),
        round(2 * 2 ** (-200 / 365) + 5 * 2 ** (-100 / 365) - 4, 4),
    ]
    assert closing == pytest.approx(standing(entries, CONFIG, day(300)).balance)


def test_score_times_decay_from_epoch_is_the_balance() -> None:
    entries = project(events((0, "purchase"), (40, "complaint"), (41, "card_sent")), CONFIG)
    score = sum(score_of(e.amount, e.at, 365) for e in entries)
    from goodwill.bank.rules import EPOCH

    assert score * decay(EPOCH, day(60), 365) == pytest.approx(standing(entries, CONFIG, day(60)).balance)


TEXTS = [None, "5/5 lovely", "1/5 awful", "+7 goodwill", "-4 correction", "hello"]
event_lists = st.lists(
    st.tuples(
        st.sampled_from(sorted(EVENT_KINDS)),
        st.integers(min_value=0, max_value=2000),  # hours after DAY0
        st.sampled_from(TEXTS),
    ),
    max_size=30,
)


@settings(max_examples=200, deadline=None)
@given(specs=event_lists, seed=st.integers(min_value=0, max_value=10_000))
def test_balance_is_the_decayed_sum_whatever_the_insertion_order(
    specs: list[tuple[str, int, str | None]], seed: int
) -> None:
    facts = [
        EventFact(i + 1, kind, DAY0 + timedelta(hours=h), text) for i, (kind, h, text) in enumerate(specs)
    ]
    shuffled = facts[:]
    random.Random(seed).shuffle(shuffled)
    entries = project(facts, CONFIG)
    assert project(shuffled, CONFIG) == entries
    as_of = DAY0 + timedelta(hours=2100)
    expected = sum(e.amount * 2 ** (-(as_of - e.at).total_seconds() / (365 * 86400)) for e in entries)
    assert standing(entries, CONFIG, as_of).balance == pytest.approx(expected, abs=1e-9)
    assert running_balances(list(reversed(entries)), CONFIG, as_of)[1] == pytest.approx(expected, abs=1e-9)
