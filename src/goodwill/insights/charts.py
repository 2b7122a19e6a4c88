"""Charts for the Insights page as SVG strings, drawn on the server: no script, no CDN, no inline style.

Colours are SVG presentation attributes (allowed by the CSP's ``style-src 'self'``); every chart
has a text alternative (``role="img"`` with ``aria-label``) and a ``<title>`` per mark for hovering.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

from goodwill.insights.rfm import SEGMENT_GRID, segment_label

INK, MUTED, LINE = "#2d2622", "#7a6d64", "#ece3d8"
SEGMENT_COLOURS = {
    "champions": "#5b8a72",
    "loyal": "#7fa98f",
    "potential_loyalist": "#a9c8b3",
    "new": "#c28a2c",
    "promising": "#dcb66f",
    "needs_attention": "#e3cfa6",
    "about_to_sleep": "#d9c3b8",
    "at_risk": "#d98b76",
    "cant_lose_them": "#c8553d",
    "hibernating": "#b8a89c",
    "lost": "#8f8077",
}
FONT = 'font-family="system-ui, sans-serif"'


def _svg(width: int, height: int, label: str, body: list[str]) -> Markup:
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
        f'role="img" aria-label="{escape(label)}" {FONT}>'
    )
    return Markup(head + "".join(body) + "</svg>")  # noqa: S704 - every text piece went through escape()


def bar_chart(
    values: Sequence[float],
    labels: Sequence[str],
    *,
    label: str,
    titles: Sequence[str] | None = None,
    colour: str = "#c8553d",
    width: int = 600,
    height: int = 200,
) -> Markup:
    """Vertical bars with a label under each; ``titles`` are shown on hover."""
    pad_left, pad_bottom, pad_top = 8, 34, 10
    top = max(max(values, default=0.0), 1e-12)
    slot = (width - 2 * pad_left) / max(len(values), 1)
    usable = height - pad_bottom - pad_top
    body = [
        f'<line x1="{pad_left}" y1="{height - pad_bottom}" x2="{width - pad_left}" '
        f'y2="{height - pad_bottom}" stroke="{LINE}"/>'
    ]
    for i, value in enumerate(values):
        bar = usable * max(value, 0.0) / top
        x = pad_left + i * slot + slot * 0.12
        y = height - pad_bottom - bar
        tip = escape(titles[i] if titles else f"{labels[i]}: {value:g}")
        body.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.76:.1f}" height="{bar:.1f}" rx="3" '
            f'fill="{colour}"><title>{tip}</title></rect>'
        )
        body.append(
            f'<text x="{x + slot * 0.38:.1f}" y="{height - pad_bottom + 16}" font-size="11" '
            f'text-anchor="middle" fill="{MUTED}">{escape(labels[i])}</text>'
        )
    return _svg(width, height, label, body)


def segment_map(grid: Sequence[Sequence[int]], *, label: str = "RFM segment map") -> Markup:
    """The 5 x 5 map: rows are recency scores (5 at the top), columns the F+M score; counts in cells."""
    cell_w, cell_h, left, top_pad = 104, 58, 44, 8
    width, height = left + 5 * cell_w + 8, top_pad + 5 * cell_h + 40
    body: list[str] = []
    for row in range(5):  # drawn top-down: R = 5 first
        r_score = 5 - row
        y = top_pad + row * cell_h
        body.append(
            f'<text x="{left - 10}" y="{y + cell_h / 2 + 4:.0f}" font-size="12" text-anchor="end" '
            f'fill="{MUTED}">R{r_score}</text>'
        )
        for col in range(5):
            name = SEGMENT_GRID[r_score - 1][col]
            count = int(grid[r_score - 1][col]) if grid else 0
            x = left + col * cell_w
            tip = escape(f"{segment_label(name)} (R{r_score}, FM{col + 1}): {count:,} people")
            body.append(
                f'<rect x="{x + 1}" y="{y + 1}" width="{cell_w - 2}" height="{cell_h - 2}" rx="6" '
                f'fill="{SEGMENT_COLOURS[name]}"><title>{tip}</title></rect>'
            )
            body.append(
                f'<text x="{x + cell_w / 2:.0f}" y="{y + 24}" font-size="11" text-anchor="middle" '
                f'fill="{INK}">{escape(segment_label(name))}</text>'
            )
            body.append(
                f'<text x="{x + cell_w / 2:.0f}" y="{y + 43}" font-size="15" font-weight="600" '
                f'text-anchor="middle" fill="{INK}">{count:,}</text>'
            )
    for col in range(5):
        body.append(
            f'<text x="{left + col * cell_w + cell_w / 2:.0f}" y="{top_pad + 5 * cell_h + 18}" '
            f'font-size="12" text-anchor="middle" fill="{MUTED}">FM{col + 1}</text>'
        )
    body.append(
        f'<text x="{left + 5 * cell_w / 2:.0f}" y="{height - 4}" font-size="11" text-anchor="middle" '
        f'fill="{MUTED}">frequency and spend →</text>'
    )
    return _svg(width, height, label, body)


def line_chart(
    values: Sequence[float],
    labels: Sequence[str],
    *,
    label: str,
    titles: Sequence[str],
    width: int = 600,
    height: int = 200,
    colour: str = "#5b8a72",
) -> Markup:
    """A line of shares between 0 and 1 (drawn as 0-100 %), labelled every few points."""
    pad_left, pad_right, pad_top, pad_bottom = 36, 10, 10, 34
    inner_w, inner_h = width - pad_left - pad_right, height - pad_top - pad_bottom
    step = inner_w / max(len(values) - 1, 1)
    body = []
    for share in (0.0, 0.5, 1.0):
        y = pad_top + inner_h * (1 - share)
        body.append(
            f'<line x1="{pad_left}" y1="{y:.1f}" x2="{width - pad_right}" y2="{y:.1f}" stroke="{LINE}"/>'
        )
        body.append(
            f'<text x="{pad_left - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end" '
            f'fill="{MUTED}">{share:.0%}</text>'
        )
    points = [
        (pad_left + i * step, pad_top + inner_h * (1 - min(max(v, 0.0), 1.0))) for i, v in enumerate(values)
    ]
    if len(points) > 1:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        body.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2.5"/>')
    every = max(1, len(values) // 8)
    for i, (x, y) in enumerate(points):
        body.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{colour}"><title>{escape(titles[i])}</title>'
            "</circle>"
        )
        if i % every == 0 or i == len(points) - 1:
            body.append(
                f'<text x="{x:.1f}" y="{height - pad_bottom + 16}" font-size="11" text-anchor="middle" '
                f'fill="{MUTED}">{escape(labels[i])}</text>'
            )
    return _svg(width, height, label, body)
