"""``rules.appended``: one event folded into stored totals gives what the full projection gives."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from goodwill.bank.rules import (
    ADJUSTMENT,
    DEPENDENT_KINDS,
    EPOCH,
    NEUTRAL_KINDS,
    RULES,
    BankConfig,
    Carried,
    EventFact,
    Status,
    appended,
    decay,
    project,
    score_of,
    standing,
)

DAY0 = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)
KINDS = sorted({rule.kind for rule in RULES} | set(NEUTRAL_KINDS) | {ADJUSTMENT})
TEXTS = [None, "5/5 lovely", "1/5 awful", "★★", "+12 a vase", "-40 correction", "plain words"]
# Weights a business might set: some neutral kinds weighted, some rules switched off.
CONFIGS = [
    BankConfig(),
    BankConfig(
        weights={**BankConfig().weights, "visit": 1, "refund": -2, "purchase": 0},
        half_life_days=90,
        watch_streak=1,
        at_risk_streak=2,
    ),
]


def totals_of(history: list[EventFact], config: BankConfig, as_of: datetime) -> tuple[Carried, Status]:
    entries = project(history, config)
    made = [e for e in entries if e.at <= as_of]
    now = standing(entries, config, as_of)
    return Carried(
        sum(score_of(e.amount, e.at, config.half_life_days) for e in made), now.bad_streak, 0
    ), now.status


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[EventFact], EventFact, int]:
    size = draw(st.integers(0, 25))
    gaps = draw(st.lists(st.integers(1, 40 * 24), min_size=size + 1, max_size=size + 1))
    kinds = draw(st.lists(st.sampled_from(KINDS), min_size=size + 1, max_size=size + 1))
    texts = draw(st.lists(st.sampled_from(TEXTS), min_size=size + 1, max_size=size + 1))
    at = DAY0
    facts = []
    for i in range(size + 1):
        at += timedelta(hours=gaps[i])
        facts.append(EventFact(i + 1, kinds[i], at, texts[i]))
    return facts[:-1], facts[-1], draw(st.sampled_from(range(len(CONFIGS))))


@settings(max_examples=400, deadline=None)
@given(histories(), st.integers(0, 60 * 24))
def test_appending_equals_projecting_everything(
    case: tuple[list[EventFact], EventFact, int], later: int
) -> None:
    history, new, which = case
    config = CONFIGS[which]
    as_of = new.at + timedelta(minutes=later)
    entries = project(history, config)
    if any(e.at >= new.at for e in entries):
        return  # not a case for appending: the caller falls back to the full projection
    before, _ = totals_of(history, config, as_of)
    folded = appended(new, Carried(before.score, before.bad_streak, 100), 7, config, as_of)
    if new.kind in DEPENDENT_KINDS:
        assert folded is None
        return
    assert folded is not None
    added, totals, status = folded
    everything = project([*history, new], config)
    assert [e for e in everything if e.event_id == new.id] == added
    assert [e for e in everything if e.event_id != new.id] == entries  # nothing else moved
    expected, expected_status = totals_of([*history, new], config, as_of)
    assert math.isclose(totals.score, expected.score, rel_tol=1e-12, abs_tol=1e-9)
    assert totals.bad_streak == expected.bad_streak
    assert totals.value_minor == 107
    assert status == expected_status


def test_a_dependent_kind_or_a_future_event_needs_the_full_projection() -> None:
    carried = Carried(0.0, 0, 0)
    for kind in DEPENDENT_KINDS:
        assert appended(EventFact(1, kind, DAY0), carried, 0, BankConfig(), DAY0) is None
    later = EventFact(1, "praise", DAY0 + timedelta(seconds=1))
    assert appended(later, carried, 0, BankConfig(), DAY0) is None


def test_a_complaint_after_two_late_deliveries_puts_the_person_at_risk() -> None:
    config = BankConfig()
    history = [
        EventFact(1, "praise", DAY0),
        EventFact(2, "praise", DAY0),
        EventFact(3, "late_delivery", DAY0),
        EventFact(4, "defect", DAY0 + timedelta(days=1)),
    ]
    before, status = totals_of(history, config, DAY0 + timedelta(days=2))
    assert (before.bad_streak, status) == (2, Status.watch)
    folded = appended(
        EventFact(3, "complaint", DAY0 + timedelta(days=2)), before, 0, config, DAY0 + timedelta(days=2)
    )
    assert folded is not None
    [entry], totals, status = folded
    assert (entry.rule, entry.amount, totals.bad_streak, status) == ("complaint", -6, 3, Status.overdrawn)
    balance = totals.score * decay(EPOCH, DAY0 + timedelta(days=2), config.half_life_days)
    assert balance == pytest.approx((10 - 4) * 0.5 ** (2 / 365) - 5 * 0.5 ** (1 / 365) - 6)
