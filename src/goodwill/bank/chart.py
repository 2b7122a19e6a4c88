"""The balance over time as SVG geometry, drawn on the server (no script, no CDN)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from goodwill.bank.rules import decay

WIDTH, HEIGHT, PAD = 600, 140, 8
# Between two entries the balance decays smoothly; a few samples per gap draw the curve.
SAMPLES_PER_GAP = 6


@dataclass(frozen=True)
class Chart:
    points: str  # "x,y x,y ..." for <polyline>
    zero_y: float  # where the zero line is
    width: int
    height: int
    low: float
    high: float


def balance_chart(
    steps: Sequence[tuple[datetime, float]], as_of: datetime, half_life_days: int
) -> Chart | None:
    """``steps``: (entry time, balance just after it), in order. None when there is nothing to draw."""
    if not steps:
        return None
    samples: list[tuple[datetime, float]] = []
    previous: tuple[datetime, float] | None = None
    for at, balance in [*steps, (as_of, float("nan"))]:
        if previous is not None:
            start, value = previous
            for i in range(1, SAMPLES_PER_GAP + 1):
                moment = start + (at - start) * i / SAMPLES_PER_GAP
                samples.append((moment, value * decay(start, moment, half_life_days)))
        if balance == balance:  # not the closing sentinel (nan)
            samples.append((at, balance))
            previous = (at, balance)
    first, last = samples[0][0], samples[-1][0]
    span = (last - first).total_seconds() or 1.0
    low = min(0.0, *(v for _, v in samples))
    high = max(0.0, *(v for _, v in samples))
    rise = (high - low) or 1.0

    def x(at: datetime) -> float:
        return round(PAD + (WIDTH - 2 * PAD) * (at - first).total_seconds() / span, 1)

    def y(value: float) -> float:
        return round(HEIGHT - PAD - (HEIGHT - 2 * PAD) * (value - low) / rise, 1)

    points = " ".join(f"{x(at)},{y(value)}" for at, value in samples)
    return Chart(points, y(0.0), WIDTH, HEIGHT, round(low, 2), round(high, 2))
