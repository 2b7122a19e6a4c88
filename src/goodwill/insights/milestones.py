"""Milestones: moments in a customer's history worth a thank-you, each with the day it was reached.

- ``nth_order``: the 2nd, 5th, 10th, 25th... order (cancelled and fully refunded orders do not count);
- ``anniversary``: each year since the first purchase (29 February falls on 28 February);
- ``lifetime_spend``: net spend first reaching a threshold (minor units of the business currency);
- ``comeback``: a purchase after a gap of at least ``long_gap_days`` without buying (value: the gap).

``milestones_for`` is the pure definition for one person; ``milestones_sql`` is the same thing,
set-based for everyone, and a test checks that the two agree.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from itertools import groupby, pairwise

MILESTONE_KINDS = ("nth_order", "anniversary", "lifetime_spend", "comeback")


@dataclass(frozen=True)
class MilestoneRules:
    nth_orders: tuple[int, ...] = (2, 5, 10, 25)
    spend_thresholds: tuple[int, ...] = ()  # minor units; the service fills in currency-aware defaults
    anniversaries: bool = True
    long_gap_days: int = 180

    def __post_init__(self) -> None:
        if any(n < 1 for n in self.nth_orders):
            raise ValueError("order milestones must be positive numbers (2, 5, 10...)")
        if any(t <= 0 for t in self.spend_thresholds):
            raise ValueError("spend thresholds must be positive amounts")
        if self.long_gap_days < 1:
            raise ValueError("the long gap must be at least one day")


@dataclass(frozen=True)
class Purchase:
    day: date
    amount: int | None = None  # net of refunds, minor units; None when unknown


@dataclass(frozen=True, order=True)
class Milestone:
    reached_on: date
    kind: str
    value: int


def years_after(day: date, years: int) -> date:
    year = day.year + years
    return day.replace(year=year, day=min(day.day, calendar.monthrange(year, day.month)[1]))


def describe(kind: str, value: int, *, money: str = "") -> str:
    if kind == "nth_order":
        suffix = "th" if 10 <= value % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(value % 10, "th")
        return f"{value}{suffix} order"
    if kind == "anniversary":
        return f"{value} year{'s' if value != 1 else ''} since the first order"
    if kind == "lifetime_spend":
        return f"lifetime spend reached {money or value}"
    return f"came back after {value} days"


def milestones_for(purchases: Iterable[Purchase], *, as_of: date, rules: MilestoneRules) -> list[Milestone]:
    """Every milestone reached on or before ``as_of``, oldest first."""
    ordered = sorted((p for p in purchases if p.day <= as_of), key=lambda p: p.day)
    if not ordered:
        return []
    found: list[Milestone] = []
    wanted = set(rules.nth_orders)
    found += [Milestone(p.day, "nth_order", n) for n, p in enumerate(ordered, start=1) if n in wanted]

    days = [(day, sum(p.amount or 0 for p in group)) for day, group in groupby(ordered, key=lambda p: p.day)]
    first = days[0][0]
    if rules.anniversaries:
        years = 1
        while years_after(first, years) <= as_of:
            found.append(Milestone(years_after(first, years), "anniversary", years))
            years += 1

    running, pending = 0, sorted(rules.spend_thresholds)
    for day, value in days:
        running += value
        while pending and running >= pending[0]:
            found.append(Milestone(day, "lifetime_spend", pending.pop(0)))

    for (before, _), (day, _) in pairwise(days):
        gap = (day - before).days
        if gap >= rules.long_gap_days:
            found.append(Milestone(day, "comeback", gap))
    return sorted(found)


def milestones_sql(rules: MilestoneRules, as_of: date, *, source: str = "purchases") -> str:
    """DuckDB query: (customer_id, kind, value, reached_on) for every customer in ``source``."""
    cutoff = f"DATE '{as_of.isoformat()}'"
    nth = ", ".join(str(int(n)) for n in sorted(set(rules.nth_orders))) or "NULL"
    thresholds = ", ".join(f"({int(t)})" for t in sorted(set(rules.spend_thresholds)))
    parts = [
        f"""SELECT customer_id, 'nth_order' AS kind, n AS value, day AS reached_on FROM (
               SELECT customer_id, day, row_number() OVER (PARTITION BY customer_id ORDER BY day) AS n
               FROM kept) WHERE n IN ({nth})""",
        f"""SELECT customer_id, 'comeback', gap, day FROM (
               SELECT customer_id, day,
                      datediff('day', lag(day) OVER (PARTITION BY customer_id ORDER BY day), day) AS gap
               FROM daily) WHERE gap >= {int(rules.long_gap_days)}""",
    ]
    if rules.anniversaries:
        parts.append(
            f"""SELECT customer_id, 'anniversary', years, anniversary FROM (
                   SELECT customer_id, years,
                          CAST(first_day + to_years(CAST(years AS INTEGER)) AS DATE) AS anniversary
                   FROM (SELECT customer_id, first_day,
                                unnest(range(1, CAST(year({cutoff}) - year(first_day) + 1 AS BIGINT)))
                                    AS years
                         FROM (SELECT customer_id, MIN(day) AS first_day FROM daily GROUP BY customer_id)))
                WHERE anniversary <= {cutoff}"""
        )
    if thresholds:
        parts.append(
            f"""SELECT customer_id, 'lifetime_spend', threshold, MIN(day) FROM (
                   SELECT customer_id, day, SUM(value) OVER (PARTITION BY customer_id ORDER BY day) AS running
                   FROM daily) AS c JOIN (VALUES {thresholds}) AS t(threshold) ON running >= threshold
                GROUP BY customer_id, threshold"""
        )
    union = "\nUNION ALL\n".join(parts)
    return f"""
    WITH kept AS (SELECT customer_id, day, amount FROM {source} WHERE day <= {cutoff}),
    daily AS (SELECT customer_id, day, SUM(COALESCE(amount, 0)) AS value FROM kept GROUP BY customer_id, day)
    SELECT customer_id, kind, CAST(value AS BIGINT) AS value, reached_on FROM ({union}) AS m
    ORDER BY customer_id, reached_on, kind, value
    """
