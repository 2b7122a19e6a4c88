"""Lots: what is spendable, pending or due, and the order points are drawn in (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from goodwill.loyalty.lots import (
    Lot,
    NotEnoughPoints,
    add_months,
    draw_order,
    due_to_expire,
    expiring_soon,
    expiry_for,
    pending,
    plan_draws,
    spendable,
)

NOW = datetime(2025, 6, 15, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def lot(
    lot_id: int,
    remaining: int,
    *,
    earned: timedelta = -10 * DAY,
    available: timedelta | None = None,
    expires: timedelta | None = 300 * DAY,
    points: int | None = None,
) -> Lot:
    earned_at = NOW + earned
    return Lot(
        id=lot_id,
        points=points if points is not None else remaining,
        remaining=remaining,
        earned_at=earned_at,
        available_at=NOW + available if available is not None else earned_at,
        expires_at=NOW + expires if expires is not None else None,
    )


def test_spendable_counts_available_unexpired_lots() -> None:
    lots = [
        lot(1, 100),
        lot(2, 50, available=DAY),  # pending
        lot(3, 30, expires=-DAY),  # expired, expiry not written yet
        lot(4, 20, expires=None),  # never expires
    ]
    assert spendable(lots, NOW) == 120
    assert pending(lots, NOW) == 50


def test_expiry_exactly_at_now_is_expired() -> None:
    lots = [lot(1, 100, expires=timedelta(0))]
    assert spendable(lots, NOW) == 0
    assert pending(lots, NOW) == 0
    assert due_to_expire(lots, NOW) == lots
    assert spendable(lots, NOW - timedelta(microseconds=1)) == 100
    assert due_to_expire(lots, NOW - timedelta(microseconds=1)) == []


def test_pending_boundary_available_exactly_at_now_is_spendable() -> None:
    lots = [lot(1, 100, available=timedelta(0))]
    assert spendable(lots, NOW) == 100
    assert pending(lots, NOW) == 0
    earlier = NOW - timedelta(microseconds=1)
    assert spendable(lots, earlier) == 0
    assert pending(lots, earlier) == 100


def test_pending_lot_that_expires_before_it_becomes_available_counts_nowhere() -> None:
    lots = [lot(1, 100, available=2 * DAY, expires=-DAY)]
    assert pending(lots, NOW) == 0
    assert spendable(lots, NOW) == 0
    assert due_to_expire(lots, NOW) == lots


def test_draw_order_soonest_expiry_first_and_never_expiring_last() -> None:
    lots = [
        lot(1, 10, expires=None, earned=-50 * DAY),
        lot(2, 10, expires=90 * DAY),
        lot(3, 10, expires=30 * DAY),
        lot(4, 10, expires=None, earned=-60 * DAY),
    ]
    assert [x.id for x in draw_order(lots)] == [3, 2, 4, 1]


def test_draw_order_ties_by_earned_at_then_id() -> None:
    lots = [
        lot(5, 10, earned=-DAY),
        lot(9, 10, earned=-2 * DAY),
        lot(7, 10, earned=-DAY),
        lot(6, 10, earned=-3 * DAY, expires=None),
        lot(2, 10, earned=-3 * DAY, expires=None),
    ]
    assert [x.id for x in draw_order(lots)] == [9, 5, 7, 2, 6]


def test_plan_draws_takes_in_draw_order_and_splits_the_last_lot() -> None:
    lots = [lot(1, 100, expires=200 * DAY), lot(2, 50, expires=20 * DAY), lot(3, 80, expires=None)]
    assert plan_draws(lots, 120, NOW) == [(2, 50), (1, 70)]
    assert plan_draws(lots, 150, NOW) == [(2, 50), (1, 100)]
    assert plan_draws(lots, 230, NOW) == [(2, 50), (1, 100), (3, 80)]
    assert plan_draws(lots, 0, NOW) == []


def test_plan_draws_skips_pending_expired_and_empty_lots() -> None:
    lots = [
        lot(1, 40, expires=DAY),
        lot(2, 100, available=DAY, expires=2 * DAY),  # pending
        lot(3, 70, expires=-DAY),  # expired
        lot(4, 0, points=30, expires=timedelta(hours=1)),  # used up
        lot(5, 60, expires=10 * DAY),
    ]
    assert plan_draws(lots, 90, NOW) == [(1, 40), (5, 50)]
    assert plan_draws(lots, 150, NOW, spendable_only=False) == [(1, 40), (2, 100), (5, 10)]


def test_plan_draws_short_raises_with_what_can_be_drawn() -> None:
    lots = [lot(1, 40), lot(2, 100, available=DAY), lot(3, 70, expires=-DAY)]
    with pytest.raises(NotEnoughPoints) as short:
        plan_draws(lots, 41, NOW)
    assert (short.value.needed, short.value.usable) == (41, 40)
    assert isinstance(short.value, ValueError)
    with pytest.raises(NotEnoughPoints) as short:
        plan_draws(lots, 141, NOW, spendable_only=False)
    assert short.value.usable == 140
    assert plan_draws(lots, 140, NOW, spendable_only=False) == [(1, 40), (2, 100)]


def test_plan_draws_refuses_a_negative_amount() -> None:
    with pytest.raises(ValueError, match="negative"):
        plan_draws([lot(1, 10)], -1, NOW)


def test_due_to_expire_only_lots_with_points_left_in_draw_order() -> None:
    lots = [
        lot(1, 10, expires=-DAY),
        lot(2, 0, points=10, expires=-5 * DAY),
        lot(3, 10, expires=-3 * DAY),
        lot(4, 10, expires=DAY),
        lot(5, 10, expires=None),
    ]
    assert [x.id for x in due_to_expire(lots, NOW)] == [3, 1]


def test_expiring_soon_groups_by_moment_soonest_first_within_days() -> None:
    lots = [
        lot(1, 10, expires=5 * DAY),
        lot(2, 20, expires=2 * DAY),
        lot(3, 5, expires=5 * DAY, available=DAY),  # pending points expire too
        lot(4, 7, expires=30 * DAY),  # exactly at the edge: included
        lot(5, 9, expires=30 * DAY + timedelta(seconds=1)),  # beyond
        lot(6, 3, expires=timedelta(0)),  # already expired at now
        lot(7, 0, points=4, expires=3 * DAY),  # nothing left
        lot(8, 8, expires=None),
    ]
    assert expiring_soon(lots, NOW, 30) == [(NOW + 2 * DAY, 20), (NOW + 5 * DAY, 15), (NOW + 30 * DAY, 7)]
    assert expiring_soon(lots, NOW, 0) == []


def test_add_months_clamps_to_the_end_of_the_month() -> None:
    assert add_months(datetime(2025, 1, 31, 9, tzinfo=UTC), 1) == datetime(2025, 2, 28, 9, tzinfo=UTC)
    assert add_months(datetime(2024, 1, 31, tzinfo=UTC), 1) == datetime(2024, 2, 29, tzinfo=UTC)
    assert add_months(datetime(2025, 11, 30, tzinfo=UTC), 3) == datetime(2026, 2, 28, tzinfo=UTC)
    assert add_months(datetime(2025, 3, 15, tzinfo=UTC), 12) == datetime(2026, 3, 15, tzinfo=UTC)
    assert add_months(datetime(2025, 3, 15, tzinfo=UTC), 0) == datetime(2025, 3, 15, tzinfo=UTC)


def test_expiry_for_zero_months_never_expires() -> None:
    assert expiry_for(NOW, 0) is None
    assert expiry_for(NOW, 12) == datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


lots_strategy = st.lists(
    st.builds(
        lot,
        st.integers(min_value=1, max_value=10_000),
        st.integers(min_value=0, max_value=500),
        earned=st.timedeltas(min_value=-400 * DAY, max_value=timedelta(0)),
        available=st.one_of(st.none(), st.timedeltas(min_value=-10 * DAY, max_value=10 * DAY)),
        expires=st.one_of(st.none(), st.timedeltas(min_value=-10 * DAY, max_value=400 * DAY)),
    ),
    max_size=12,
    unique_by=lambda x: x.id,
)


@given(lots_strategy, st.integers(min_value=0, max_value=3000), st.booleans())
def test_plan_draws_takes_exactly_the_points_within_each_lot(
    lots: list[Lot], points: int, spendable_only: bool
) -> None:
    usable = spendable(lots, NOW) + (0 if spendable_only else pending(lots, NOW))
    if points > usable:
        with pytest.raises(NotEnoughPoints):
            plan_draws(lots, points, NOW, spendable_only=spendable_only)
        return
    draws = plan_draws(lots, points, NOW, spendable_only=spendable_only)
    by_id = {x.id: x for x in lots}
    assert sum(p for _, p in draws) == points
    assert len({i for i, _ in draws}) == len(draws)
    for lot_id, part in draws:
        drawn = by_id[lot_id]
        assert 0 < part <= drawn.remaining
        assert not drawn.expired(NOW)
        assert drawn.is_spendable(NOW) or not spendable_only
    # Lots are drawn in draw order, and only the last one drawn may keep points.
    eligible = [
        x.id
        for x in draw_order(lots)
        if x.remaining > 0 and (x.is_spendable(NOW) or (not spendable_only and x.is_pending(NOW)))
    ]
    assert [i for i, _ in draws] == eligible[: len(draws)]
    assert all(part == by_id[i].remaining for i, part in draws[:-1])
