"""The uplift chart: one difference (thanked minus held out) per plan day or campaign, with its interval.

Drawn on the server as SVG (no script, no CDN). Colours come from classes styled in
``static/impact.css``, so the page needs no inline style under the CSP. Every mark has a
``<title>`` for hovering and the chart an ``aria-label``; the table under it says the same in words.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH, HEIGHT = 640, 240
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 64, 12, 14, 42
MAX_LABELS = 10


@dataclass(frozen=True)
class UpliftPoint:
    label: str  # under the mark: a day ("3 Nov") or a campaign's name
    difference: float | None
    low: float | None
    high: float | None
    tone: str  # "up", "down" or "unclear": the class of the mark
    title: str  # the hover text: the verdict in words
    # A group below the minimum size: its interval is so wide it would flatten every other mark,
    # so it is drawn as a hollow dot only (held inside the chart) and left out of the scale.
    small: bool = False


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _short(text: str, limit: int = 14) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def uplift_chart(points: Sequence[UpliftPoint], *, label: str, show: Callable[[float], str]) -> Markup:
    """Marks left to right in the order given; ``show`` formats a difference for the axis."""
    scaled = [p for p in points if not p.small]
    values = [
        v for p in scaled for v in (_finite(p.low), _finite(p.high), _finite(p.difference)) if v is not None
    ]
    low, high = min([0.0, *values]), max([0.0, *values])
    if high - low < 1e-12:
        low, high = -1.0, 1.0
    margin = (high - low) * 0.08
    low, high = low - margin, high + margin
    inner_w, inner_h = WIDTH - PAD_LEFT - PAD_RIGHT, HEIGHT - PAD_TOP - PAD_BOTTOM
    slot = inner_w / max(len(points), 1)

    def y(value: float) -> float:
        inside = min(max(value, low), high)
        return PAD_TOP + inner_h * (high - inside) / (high - low)

    zero, bottom_y, right = y(0.0), PAD_TOP + inner_h, WIDTH - PAD_RIGHT
    body = [
        f'<line class="impact-axis" x1="{PAD_LEFT}" y1="{PAD_TOP}" x2="{PAD_LEFT}" y2="{bottom_y}"/>',
        f'<line class="impact-zero" x1="{PAD_LEFT}" y1="{zero:.1f}" x2="{right}" y2="{zero:.1f}"/>',
    ]
    for tick in sorted({high - margin, 0.0, low + margin}):
        if tick == 0.0 or abs(tick) > (high - low) * 0.05:  # no label crowding the zero line
            body.append(
                f'<text class="impact-tick" x="{PAD_LEFT - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">'
                f"{escape(show(tick))}</text>"
            )
    every = max(1, math.ceil(len(points) / MAX_LABELS))
    for i, point in enumerate(points):
        x = PAD_LEFT + slot * (i + 0.5)
        tone = "small" if point.small else point.tone if point.tone in ("up", "down") else "unclear"
        mark = [f"<title>{escape(point.title)}</title>"]
        bar_low, bar_high, middle = _finite(point.low), _finite(point.high), _finite(point.difference)
        if bar_low is not None and bar_high is not None and not point.small:
            cap = min(6.0, slot * 0.3)
            top, bottom = y(bar_high), y(bar_low)
            mark.append(f'<line x1="{x:.1f}" y1="{top:.1f}" x2="{x:.1f}" y2="{bottom:.1f}"/>')
            for end in (top, bottom):
                mark.append(f'<line x1="{x - cap:.1f}" y1="{end:.1f}" x2="{x + cap:.1f}" y2="{end:.1f}"/>')
        if middle is not None:
            mark.append(f'<circle cx="{x:.1f}" cy="{y(middle):.1f}" r="4"/>')
        body.append(f'<g class="impact-mark impact-{tone}">{"".join(mark)}</g>')
        if i % every == 0 or i == len(points) - 1:
            body.append(
                f'<text class="impact-label" x="{x:.1f}" y="{HEIGHT - PAD_BOTTOM + 18}" text-anchor="middle">'
                f"{escape(_short(point.label))}</text>"
            )
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="impact-chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="100%" role="img" aria-label="{escape(label)}">'
    )
    return Markup(head + "".join(body) + "</svg>")  # noqa: S704 - every text piece went through escape()
