"""The balance over time as SVG geometry, drawn on the server (no script, no CDN).

The balance jumps at each entry and decays smoothly (halving every half-life) in between. The drawn
polyline stays within ``TOLERANCE`` viewBox units of that exact curve (Hausdorff distance; the
chart is drawn at ``HEIGHT`` pixels high, so a viewBox unit is a pixel vertically, and about one
horizontally at the usual width), while its size follows the chart's width rather than the number
of entries:

- a decay is sampled only as finely as its curvature needs (``CURVE_TOLERANCE``; most gaps between
  entries need no sample at all, their chord is already within a tenth of a pixel), and at least
  every ``LONGEST_CHORD`` units across (a few dozen points at most over the whole width);
- consecutive vertices falling in the same ``COLUMN`` wide strip are reduced to the first, the
  lowest, the highest and the last of them (M4 aggregation): the reduced line covers the same
  strip and the same vertical range, so it is within one column width of the full one;
- coordinates are rounded to 0.1 (at most 0.071 away).

``tests/unit/test_bank_chart_points.py`` checks the bound against a brute-force reference.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

WIDTH, HEIGHT, PAD = 600, 140, 8
COLUMN = 0.5  # viewBox units: vertices closer together than this horizontally are aggregated
CURVE_TOLERANCE = 0.1  # viewBox units: how far a chord may stray from the decay curve it stands for
LONGEST_CHORD = 16.0  # viewBox units across: a long decay is drawn as a curve whatever its depth
TOLERANCE = COLUMN + CURVE_TOLERANCE + 0.05 * math.sqrt(2)  # the bound above, about 0.67


@dataclass(frozen=True)
class Chart:
    points: str  # "x,y x,y ..." for <polyline>
    zero_y: float  # where the zero line is
    width: int
    height: int
    low: float
    high: float


def _vertices(
    steps: Sequence[tuple[datetime, float]], as_of: datetime, half_life_days: int
) -> tuple[list[float], list[float], float, float]:
    """The exact curve's vertices in value space: (seconds since the first entry, balance) lists,
    with the decay between entries sampled finely enough to be drawn with chords; and low, high."""
    first = steps[0][0]
    half_life = half_life_days * 86400.0
    times = [(at - first).total_seconds() for at, _ in steps]
    times.append((as_of - first).total_seconds())
    values = [balance for _, balance in steps]
    low = min(0.0, *values)
    high = max(0.0, *values)
    # Decay pulls a balance towards zero, so between two entries it stays between the balance
    # after the first and zero: the extremes are among the balances after entries, unless the steps
    # are out of order (then the values just before an entry count too, taken in below).
    rise = (high - low) or 1.0
    # |chord - curve| <= A r^2 / (8 n^2) for A e^(-r s), s in [0, 1], cut in n pieces: A is the
    # balance in viewBox units, r = ln 2 * gap / half-life.
    pieces_per = math.log(2) / half_life * math.sqrt((HEIGHT - 2 * PAD) / rise / (8 * CURVE_TOLERANCE))
    across = (WIDTH - 2 * PAD) / ((times[-1] or 1.0) * LONGEST_CHORD)  # pieces per second, at least
    ts: list[float] = [times[0]]
    vs: list[float] = [values[0]]
    for i, value in enumerate(values):
        start, end = times[i], times[i + 1]
        gap = end - start
        if gap:
            pieces = math.ceil(max(gap * pieces_per * math.sqrt(abs(value)), gap * across))
            for j in range(1, pieces):
                ts.append(start + gap * j / pieces)
                vs.append(value * 2.0 ** (-(gap * j / pieces) / half_life))
            before = value * 2.0 ** (-gap / half_life)  # just before the next entry (or at as_of)
            ts.append(end)
            vs.append(before)
            low, high = min(low, before), max(high, before)
        if i + 1 < len(values):
            ts.append(end)
            vs.append(values[i + 1])
    return ts, vs, low, high


def balance_chart(
    steps: Sequence[tuple[datetime, float]], as_of: datetime, half_life_days: int
) -> Chart | None:
    """``steps``: (entry time, balance just after it), in order. None when there is nothing to draw."""
    if not steps:
        return None
    ts, vs, low, high = _vertices(steps, as_of, half_life_days)
    span = ts[-1] or 1.0
    rise = (high - low) or 1.0
    bottom = HEIGHT - PAD

    xs = [PAD + (WIDTH - 2 * PAD) * t / span for t in ts]
    ys = [bottom - (HEIGHT - 2 * PAD) * (v - low) / rise for v in vs]
    columns = [math.floor(x / COLUMN) for x in xs]
    points: list[str] = []
    start, count = 0, len(xs)
    while start < count:
        end = start + 1
        while end < count and columns[end] == columns[start]:
            end += 1
        if end - start <= 4:
            chosen: Iterable[int] = range(start, end)
        else:  # the first, lowest, highest and last vertex of the column, in their order
            group = ys[start:end]
            lowest = start + group.index(max(group))  # y grows downwards
            highest = start + group.index(min(group))
            chosen = sorted({start, lowest, highest, end - 1})
        for k in chosen:
            point = "%.1f,%.1f" % (xs[k], ys[k])  # noqa: UP031 (the fastest way, same as round(v, 1))
            if not points or points[-1] != point:
                points.append(point)
        start = end
    zero_y = round(bottom - (HEIGHT - 2 * PAD) * (0.0 - low) / rise, 1)
    return Chart(" ".join(points), zero_y, WIDTH, HEIGHT, round(low, 2), round(high, 2))
