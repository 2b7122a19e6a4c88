"""Milestones: the pure definition for one person, and the set-based query that must agree with it."""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from goodwill.insights.milestones import (
    Milestone,
    MilestoneRules,
    Purchase,
    describe,
    milestones_for,
    milestones_sql,
)

RULES = MilestoneRules(nth_orders=(2, 5), spend_thresholds=(10_000, 50_000), long_gap_days=180)
AS_OF = date(2025, 6, 30)


def test_one_purchase_reaches_only_its_anniversaries() -> None:
    found = milestones_for([Purchase(date(2023, 5, 1), 2_000)], as_of=AS_OF, rules=RULES)
    assert found == [
        Milestone(date(2024, 5, 1), "anniversary", 1),
        Milestone(date(2025, 5, 1), "anniversary", 2),
    ]


def test_same_day_orders_count_as_orders_but_not_as_a_comeback_or_gap() -> None:
    day = date(2025, 1, 10)
    found = milestones_for([Purchase(day, 6_000), Purchase(day, 5_000)], as_of=AS_OF, rules=RULES)
    assert Milestone(day, "nth_order", 2) in found
    assert Milestone(day, "lifetime_spend", 10_000) in found
    assert not [m for m in found if m.kind == "comeback"]


def test_spend_threshold_is_reached_on_the_day_the_running_total_crosses_it() -> None:
    purchases = [
        Purchase(date(2024, 1, 1), 9_999),
        Purchase(date(2024, 2, 1), None),
        Purchase(date(2024, 3, 1), 1),
    ]
    found = milestones_for(purchases, as_of=AS_OF, rules=RULES)
    assert Milestone(date(2024, 3, 1), "lifetime_spend", 10_000) in found
    assert Milestone(date(2024, 2, 1), "nth_order", 2) in found  # an order of unknown value still counts


def test_comeback_after_a_long_gap_records_the_gap() -> None:
    purchases = [
        Purchase(date(2024, 1, 1), 100),
        Purchase(date(2024, 3, 1), 100),
        Purchase(date(2024, 12, 1), 100),
    ]
    comebacks = [m for m in milestones_for(purchases, as_of=AS_OF, rules=RULES) if m.kind == "comeback"]
    assert comebacks == [Milestone(date(2024, 12, 1), "comeback", 275)]


def test_leap_day_anniversaries_fall_on_28_february() -> None:
    found = milestones_for([Purchase(date(2020, 2, 29), 100)], as_of=date(2024, 3, 1), rules=RULES)
    assert [m.reached_on for m in found] == [
        date(2021, 2, 28),
        date(2022, 2, 28),
        date(2023, 2, 28),
        date(2024, 2, 29),
    ]


def test_purchases_after_the_as_of_day_are_not_counted() -> None:
    purchases = [Purchase(date(2025, 6, 1), 100), Purchase(date(2025, 7, 1), 100)]
    assert milestones_for(purchases, as_of=AS_OF, rules=RULES) == []


def test_labels_read_naturally() -> None:
    assert describe("nth_order", 2) == "2nd order"
    assert describe("nth_order", 11) == "11th order"
    assert describe("nth_order", 23) == "23rd order"
    assert describe("anniversary", 1) == "1 year since the first order"
    assert describe("comeback", 200) == "came back after 200 days"


def test_bad_rules_are_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        MilestoneRules(nth_orders=(0,))
    with pytest.raises(ValueError, match="long gap"):
        MilestoneRules(long_gap_days=0)


def test_set_based_milestones_agree_with_the_pure_definition() -> None:
    rng = np.random.default_rng(8)
    customers, days, amounts = [], [], []
    for customer in range(1, 301):
        n = int(rng.integers(1, 30))
        start = date(2020, 1, 1) + timedelta(days=int(rng.integers(0, 1500)))
        offsets = np.sort(rng.choice(np.arange(0, 900), size=n))  # repeats allowed: same-day orders
        for offset in offsets:
            customers.append(customer)
            days.append(start + timedelta(days=int(offset)))
            amounts.append(None if rng.random() < 0.05 else int(rng.integers(0, 8_000)))
    table = pa.table({"customer_id": customers, "day": days, "amount": pa.array(amounts, pa.int64())})
    con = duckdb.connect()
    con.register("purchases", table)
    rules = MilestoneRules(
        nth_orders=(2, 5, 10, 25), spend_thresholds=(10_000, 50_000, 100_000), long_gap_days=60
    )
    from_sql = {
        (int(c), Milestone(day, kind, int(value)))
        for c, kind, value, day in con.execute(milestones_sql(rules, AS_OF)).fetchall()
    }
    pure: set[tuple[int, Milestone]] = set()
    for customer in range(1, 301):
        mine = [Purchase(d, a) for c, d, a in zip(customers, days, amounts, strict=True) if c == customer]
        pure |= {(customer, m) for m in milestones_for(mine, as_of=AS_OF, rules=rules)}
    assert from_sql == pure
    assert {m.kind for _, m in pure} == {"nth_order", "anniversary", "lifetime_spend", "comeback"}
