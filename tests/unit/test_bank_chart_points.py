"""The bank chart draws the balance within a pixel of the exact curve, with few points.

``balance_chart`` samples the decay only where its curvature shows and aggregates vertices that
share a half-unit column (see ``goodwill.bank.chart``). The reference here is brute force: the
balance re-summed from every entry (``amount * decay``) at every entry (before it, then after each
entry made at that moment) and every quarter unit of x in between. The two polylines are compared
by their Hausdorff distance in viewBox units (the chart is 140 pixels high for 140 units, and 600
units wide), computed by sampling every segment of each at most ``STEP`` apart and measuring the
distance to the nearest segment of the other; the distance to a polyline is 1-Lipschitz, so the
true distance is at most the sampled one plus ``STEP / 2``.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from goodwill.bank import chart as chart_module
from goodwill.bank.chart import HEIGHT, PAD, TOLERANCE, WIDTH, Chart, balance_chart
from goodwill.bank.rules import BankConfig, Effect, Entry, Side, running_balances

T0 = datetime(2023, 1, 1, 9, 30, tzinfo=UTC)
STEP = 0.02  # viewBox units between sampled points when measuring distances
REFERENCE_STEP = 0.25  # viewBox units between brute-force samples of a decay
Polyline = list[tuple[float, float]]


def entries_from(specs: Sequence[tuple[float, int]]) -> list[Entry]:
    """(days after T0, amount) -> entries, in the statement's order."""
    made = [
        Entry(i + 1, "praise", "praise", amount, T0 + timedelta(days=days), Side.customer, Effect.none)
        for i, (days, amount) in enumerate(specs)
    ]
    return sorted(made, key=lambda e: e.order_key)


def chart_for(entries: list[Entry], as_of: datetime, half_life: int) -> Chart:
    rows, _ = running_balances(entries, BankConfig(half_life_days=half_life), as_of)
    chart = balance_chart([(e.at, b) for e, b in rows], as_of, half_life)
    assert chart is not None
    return chart


def exact_curve(entries: list[Entry], as_of: datetime, half_life: int) -> tuple[Polyline, float, float]:
    """Brute force: the balance re-summed from every entry made so far at every vertex (numpy only
    does the sums), in viewBox units; and the lowest and highest balance."""
    first = entries[0].at
    span = (as_of - first).total_seconds() or 1.0
    seconds = np.array([(e.at - first).total_seconds() for e in entries])
    amounts = np.array([float(e.amount) for e in entries])

    def balances(times: np.ndarray, made: int) -> np.ndarray:
        """The balance at each of ``times`` from the first ``made`` entries."""
        ages = times[:, None] - seconds[None, :made]
        return (amounts[None, :made] * np.power(2.0, -ages / (half_life * 86400.0))).sum(axis=1)

    times: list[float] = []
    values: list[float] = []
    i = 0
    while i < len(entries):
        moment = seconds[i]
        same = i
        while same < len(entries) and entries[same].at == entries[i].at:
            same += 1
        # Before the entries made at this moment (if any came earlier), then after each of them.
        made = range(i, same + 1) if i else range(1, same + 1)
        found = [float(balances(np.array([moment]), k)[0]) for k in made]
        times += [float(moment)] * len(found)
        values += found
        end = seconds[same] if same < len(entries) else (as_of - first).total_seconds()
        pieces = max(1, math.ceil((WIDTH - 2 * PAD) * (end - moment) / span / REFERENCE_STEP))
        between = moment + (end - moment) * np.arange(1, pieces + 1) / pieces
        times += [float(t) for t in between]
        values += [float(v) for v in balances(between, same)]
        i = same
    low = min(0.0, *values)
    high = max(0.0, *values)
    rise = (high - low) or 1.0
    line = [
        (
            PAD + (WIDTH - 2 * PAD) * t / span,
            HEIGHT - PAD - (HEIGHT - 2 * PAD) * (value - low) / rise,
        )
        for t, value in zip(times, values, strict=True)
    ]
    return line, low, high


def parse(points: str) -> Polyline:
    return [(float(x), float(y)) for x, y in (p.split(",") for p in points.split())]


def directed(a: Polyline, b: Polyline, reach: float = 1.5) -> float:
    """Largest distance from a point of polyline ``a`` to polyline ``b`` (both with x never
    decreasing), measured on samples of ``a``; ``inf`` if some point of ``a`` is farther than
    ``reach`` horizontally from all of ``b``."""
    bx = np.array([p[0] for p in b])
    by = np.array([p[1] for p in b])
    if len(b) == 1:  # a single point: a segment of length zero
        bx, by = np.repeat(bx, 2), np.repeat(by, 2)
    starts_x, ends_x = bx[:-1], bx[1:]
    starts_y, ends_y = by[:-1], by[1:]
    xs = [float(v) for v in bx]
    worst = 0.0
    pairs = list(itertools.pairwise(a)) if len(a) > 1 else [(a[0], a[0])]
    for (x0, y0), (x1, y1) in pairs:
        # In pieces about one unit long, each compared with the segments of ``b`` within reach.
        pieces = max(1, math.ceil(math.hypot(x1 - x0, y1 - y0)))
        for k in range(pieces):
            ax0, ay0 = x0 + (x1 - x0) * k / pieces, y0 + (y1 - y0) * k / pieces
            ax1, ay1 = x0 + (x1 - x0) * (k + 1) / pieces, y0 + (y1 - y0) * (k + 1) / pieces
            count = max(1, math.ceil(math.hypot(ax1 - ax0, ay1 - ay0) / STEP))
            s = np.linspace(0.0, 1.0, count + 1)
            px, py = ax0 + (ax1 - ax0) * s, ay0 + (ay1 - ay0) * s
            lo = max(0, bisect.bisect_left(xs, min(ax0, ax1) - reach) - 1)
            hi = min(len(xs) - 1, bisect.bisect_right(xs, max(ax0, ax1) + reach))
            if hi <= lo:
                return math.inf
            sx, ex = starts_x[lo:hi], ends_x[lo:hi]
            sy, ey = starts_y[lo:hi], ends_y[lo:hi]
            dx, dy = ex - sx, ey - sy
            length2 = dx * dx + dy * dy
            u = ((px[:, None] - sx) * dx + (py[:, None] - sy) * dy) / np.where(length2 == 0, 1.0, length2)
            u = np.clip(u, 0.0, 1.0)
            nearest = np.hypot(px[:, None] - (sx + u * dx), py[:, None] - (sy + u * dy)).min(axis=1)
            worst = max(worst, float(nearest.max()))
    return worst + STEP / 2


def hausdorff(a: Polyline, b: Polyline) -> float:
    return max(directed(a, b), directed(b, a))


def check(entries: list[Entry], as_of: datetime, half_life: int) -> tuple[Chart, float]:
    chart = chart_for(entries, as_of, half_life)
    exact, low, high = exact_curve(entries, as_of, half_life)
    drawn = parse(chart.points)
    assert (chart.width, chart.height) == (WIDTH, HEIGHT)
    assert (chart.low, chart.high) == (round(low, 2), round(high, 2))
    rise = (high - low) or 1.0
    assert chart.zero_y == pytest.approx(HEIGHT - PAD - (HEIGHT - 2 * PAD) * (0 - low) / rise, abs=0.051)
    assert all(PAD - 0.05 <= x <= WIDTH - PAD + 0.05 for x, _ in drawn)
    assert all(b[0] >= a[0] for a, b in itertools.pairwise(drawn)), "x goes back"
    distance = hausdorff(drawn, exact)
    assert distance <= TOLERANCE + STEP, (distance, len(drawn))
    return chart, distance


def busy(count: int, years: float, seed: int) -> list[Entry]:
    """Like the person page bench: ``count`` entries over ``years``, deposits and withdrawals."""
    rng = random.Random(seed)
    amounts = [2, 2, 2, 5, 6, 2, -6, 4, 8, -4, -3, 3, 1]
    return entries_from(
        [(rng.uniform(0, 365 * years), rng.choice(amounts)) for _ in range(count)]
        + [(rng.uniform(0, 365 * years), 2) for _ in range(count // 20)] * 2  # same moment, twice
    )


@pytest.mark.parametrize("half_life", [30, 365, 3650])
def test_a_busy_history_is_drawn_within_a_pixel_with_few_points(half_life: int) -> None:
    entries = busy(400, 3, seed=half_life)
    as_of = max(e.at for e in entries) + timedelta(days=20)
    chart, _ = check(entries, as_of, half_life)
    # Bounded by the chart's width (four per half-unit column at most), not by the entries.
    assert len(chart.points.split()) < 2 * len(entries)


def test_ten_times_the_history_costs_no_more_points_than_the_width_allows() -> None:
    entries = busy(4000, 3, seed=7)
    as_of = max(e.at for e in entries) + timedelta(days=1)
    chart, _ = check(entries, as_of, 365)
    columns = (WIDTH - 2 * PAD) / 0.5 + 1
    assert len(chart.points.split()) <= 4 * columns + 2 * 60  # + samples of the longest decays


def test_long_quiet_gaps_keep_the_decay_curved() -> None:
    # Two deposits years apart with a short half-life: the decay is a deep curve across the chart.
    entries = entries_from([(0, 50), (5, 40), (900, -10)])
    chart, _ = check(entries, T0 + timedelta(days=1500), 30)
    assert len(chart.points.split()) > 20


@pytest.mark.parametrize(
    "specs",
    [
        [(0, 5)],  # one entry, decaying until today
        [(0, 5), (0, -6), (0, 2)],  # several at one moment: the line goes up and down in place
        [(0, -6), (1, -4)],  # overdrawn throughout
        [(0, 3), (0.0001, -3)],  # a jump and back within a column
    ],
)
def test_small_histories(specs: list[tuple[float, int]]) -> None:
    entries = entries_from(specs)
    check(entries, max(e.at for e in entries) + timedelta(days=10), 365)


def test_an_entry_made_at_the_moment_of_the_statement() -> None:
    entries = entries_from([(0, 5)])
    check(entries, entries[0].at, 365)
    check(entries_from([(0, 5), (3, 2)]), T0 + timedelta(days=3), 365)


def test_the_measure_rejects_charts_that_stray(monkeypatch: pytest.MonkeyPatch) -> None:
    # The measure must be able to fail. Decays drawn as straight chords (no samples) are far from
    # the exact curve when the half-life is short...
    entries = entries_from([(0, 50), (5, 40), (900, -10)])
    as_of = T0 + timedelta(days=1500)
    with monkeypatch.context() as patch:
        patch.setattr(chart_module, "CURVE_TOLERANCE", 1000.0)
        patch.setattr(chart_module, "LONGEST_CHORD", 1e9)
        with pytest.raises(AssertionError):
            check(entries, as_of, 30)
    # ... and so is a busy history aggregated over columns 8 units wide.
    with monkeypatch.context() as patch:
        patch.setattr(chart_module, "COLUMN", 8.0)
        with pytest.raises(AssertionError):
            check(busy(400, 3, seed=1), as_of, 365)
    # A line moved by 1.5 units is caught too.
    exact, _, _ = exact_curve(entries, as_of, 30)
    assert hausdorff([(x, y + 1.5) for x, y in exact], exact) > TOLERANCE + STEP


@settings(max_examples=25, deadline=None)
@given(
    specs=st.lists(
        st.tuples(st.floats(0, 1500, allow_nan=False), st.sampled_from([-6, -4, -3, -2, 1, 2, 4, 5, 6, 40])),
        min_size=1,
        max_size=60,
    ),
    tail=st.floats(0, 400),
    half_life=st.sampled_from([30, 90, 365, 3650]),
)
def test_any_history_is_drawn_within_a_pixel(
    specs: list[tuple[float, int]], tail: float, half_life: int
) -> None:
    entries = entries_from(specs)
    check(entries, max(e.at for e in entries) + timedelta(days=tail), half_life)
