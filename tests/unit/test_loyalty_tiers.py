"""Tiers: qualifying, multipliers, promotion, downgrade with grace, progress (see docs/loyalty.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from goodwill.loyalty.config import LoyaltyConfig, TierConfig
from goodwill.loyalty.tiers import (
    TierProgress,
    TierState,
    multiplier_for,
    next_state,
    progress,
    qualifying_tier,
    tier_named,
)

TIERS = LoyaltyConfig().tiers  # Member 0 (100 %), Silver 500 (110 %), Gold 1500 (125 %)
NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
GRACE = 90


def state(tier: str, since_days_ago: int = 100, kept_until: datetime | None = None) -> TierState:
    return TierState(tier, NOW - timedelta(days=since_days_ago), kept_until)


@pytest.mark.parametrize(
    ("measure", "tier"),
    [(0, "Member"), (499, "Member"), (500, "Silver"), (1499, "Silver"), (1500, "Gold"), (10**9, "Gold")],
)
def test_qualifying_tier(measure: int, tier: str) -> None:
    assert qualifying_tier(TIERS, measure).name == tier


def test_multipliers_and_the_entry_tier_for_unknown_names() -> None:
    assert [multiplier_for(TIERS, name) for name in ("Member", "Silver", "Gold")] == [100, 110, 125]
    assert multiplier_for(TIERS, "") == 100
    assert tier_named(TIERS, "Platinum").name == "Member"
    rich_entry = (TierConfig(name="Friend", threshold=0, multiplier_percent=105),)
    assert multiplier_for(rich_entry, "") == 105


def test_a_new_member_starts_where_they_stand() -> None:
    assert next_state(
        TierState("", None, None), measure=700, tiers=TIERS, now=NOW, grace_days=GRACE
    ) == TierState("Silver", NOW, None)


def test_a_removed_tier_is_replaced_at_once() -> None:
    result = next_state(state("Platinum"), measure=100, tiers=TIERS, now=NOW, grace_days=GRACE)
    assert result == TierState("Member", NOW, None)


def test_promotion_is_immediate_and_may_skip_a_tier() -> None:
    result = next_state(state("Member"), measure=1600, tiers=TIERS, now=NOW, grace_days=GRACE)
    assert result == TierState("Gold", NOW, None)


def test_promotion_during_grace_ends_it() -> None:
    kept = state("Silver", kept_until=NOW + timedelta(days=30))
    assert next_state(kept, measure=1500, tiers=TIERS, now=NOW, grace_days=GRACE) == TierState(
        "Gold", NOW, None
    )


def test_still_qualifying_changes_nothing() -> None:
    gold = state("Gold")
    assert next_state(gold, measure=1500, tiers=TIERS, now=NOW, grace_days=GRACE) == gold


def test_falling_short_starts_the_grace_period() -> None:
    gold = state("Gold")
    result = next_state(gold, measure=1380, tiers=TIERS, now=NOW, grace_days=GRACE)
    assert result == TierState("Gold", gold.since, NOW + timedelta(days=90))


def test_qualifying_again_within_grace_ends_it() -> None:
    kept = state("Gold", kept_until=NOW + timedelta(days=60))
    assert next_state(kept, measure=1530, tiers=TIERS, now=NOW, grace_days=GRACE) == TierState(
        "Gold", kept.since, None
    )


def test_grace_is_not_extended_by_looking_again() -> None:
    kept = state("Gold", kept_until=NOW + timedelta(days=60))
    later = NOW + timedelta(days=30)
    assert next_state(kept, measure=1300, tiers=TIERS, now=later, grace_days=GRACE) == kept


def test_after_the_grace_the_fall_is_to_where_they_stand() -> None:
    kept_until = NOW + timedelta(days=90)
    kept = state("Gold", kept_until=kept_until)
    assert next_state(kept, measure=1300, tiers=TIERS, now=kept_until, grace_days=GRACE) == TierState(
        "Silver", kept_until, None
    )
    assert next_state(kept, measure=10, tiers=TIERS, now=kept_until, grace_days=GRACE) == TierState(
        "Member", kept_until, None
    )


def test_without_grace_the_fall_is_immediate() -> None:
    assert next_state(state("Gold"), measure=600, tiers=TIERS, now=NOW, grace_days=0) == TierState(
        "Silver", NOW, None
    )


@given(
    st.lists(st.tuples(st.integers(0, 3000), st.integers(1, 40)), min_size=1, max_size=30),
    st.integers(0, 120),
)
def test_policy_invariants_over_time(steps: list[tuple[int, int]], grace: int) -> None:
    """Whatever the measures: never below the qualifying tier, and above it only within a grace."""
    current = TierState("", None, None)
    now = NOW
    names = [tier.name for tier in TIERS]
    for measure, days in steps:
        now += timedelta(days=days)
        current = next_state(current, measure=measure, tiers=TIERS, now=now, grace_days=grace)
        held = names.index(current.tier)
        reached = names.index(qualifying_tier(TIERS, measure).name)
        assert held >= reached
        if held > reached:
            assert current.kept_until is not None and now < current.kept_until <= now + timedelta(days=grace)
        else:
            assert current.kept_until is None


def test_progress_to_next_and_to_keep() -> None:
    kept_until = NOW + timedelta(days=90)
    assert progress(
        TIERS, current="Gold", measure=1380, basis="points", kept_until=kept_until
    ) == TierProgress(
        tier="Gold",
        next_tier=None,
        to_next=None,
        to_keep=120,
        measure=1380,
        basis="points",
        kept_until=kept_until,
    )
    silver = progress(TIERS, current="Silver", measure=620, basis="points", kept_until=None)
    assert (silver.next_tier, silver.to_next, silver.to_keep) == ("Gold", 880, 0)
    new = progress(TIERS, current="", measure=0, basis="spend", kept_until=None)
    assert (new.tier, new.next_tier, new.to_next, new.to_keep, new.basis) == (
        "Member",
        "Silver",
        500,
        0,
        "spend",
    )
    ahead = progress(TIERS, current="Member", measure=900, basis="points", kept_until=None)
    assert ahead.to_next == 0  # already qualifies; the next refresh promotes
