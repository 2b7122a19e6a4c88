"""The complaint themes page: what complaints are about, for managers and admins, and a refresh button.

The figures cover every complaint (what to fix is the business's question); the examples are only
complaints the viewer may open, by the same visibility rule as the inbox.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup, escape

from goodwill.complaints.themes_service import ThemeStats, WeekCount, run_themes, theme_overview
from goodwill.complaints.visibility import visible_condition
from goodwill.db import utcnow
from goodwill.team.model import Role
from goodwill.web.auth import Principal
from goodwill.web.deps import AppSettings, DbSession, require_role
from goodwill.web.templating import render

router = APIRouter(include_in_schema=False)

see_themes = require_role("see and refresh complaint themes", Role.admin, Role.manager)
ThemesReader = Annotated[Principal, Depends(see_themes)]
WEEKS = 12
BAR_COLOUR = "#c8553d"  # the house accent, as in the other charts


@dataclass(frozen=True)
class ThemeCard:
    stats: ThemeStats
    chart: Markup
    time_to_resolve: str


def volume_chart(weekly: Sequence[WeekCount], label: str) -> Markup:
    """Complaints per week as small bars, the current week on the right; a title on each bar."""
    width, height, gap = 240, 48, 2
    top = max((w.count for w in weekly), default=0) or 1
    slot = width / max(len(weekly), 1)
    bars = []
    for i, week in enumerate(weekly):
        bar = max(round((height - 2) * week.count / top, 1), 1.0 if week.count else 0.0)
        tip = escape(f"Week of {week.start_label}: {week.count}")
        bars.append(
            f'<rect class="theme-bar" x="{i * slot + gap / 2:.1f}" y="{height - bar:.1f}" '
            f'width="{slot - gap:.1f}" height="{bar:.1f}" rx="1.5" fill="{BAR_COLOUR}">'
            f"<title>{tip}</title></rect>"
        )
    summary = ", ".join(f"{w.start_label}: {w.count}" for w in weekly)
    return Markup(  # noqa: S704 - every text piece went through escape()
        f'<svg class="theme-sparkline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-label="{escape(f"Complaints per week about {label}: {summary}")}">'
        + "".join(bars)
        + "</svg>"
    )


def duration(hours: float | None) -> str:
    if hours is None:
        return "none resolved yet"
    return f"{hours:g} hours" if hours < 48 else f"{hours / 24:.1f} days"


@router.get("/complaints/themes")
def themes_page(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    who: ThemesReader,
    refreshed: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    visible = visible_condition(session, user_id=who.user_id, role=who.role)
    stats = theme_overview(session, settings=settings, weeks=WEEKS, examples_from=visible)
    cards = [
        ThemeCard(s, volume_chart(s.weekly, s.label), duration(s.median_hours_to_resolve)) for s in stats
    ]
    return render(
        request, "complaints/themes.html", {"nav": "complaints", "cards": cards, "refreshed": refreshed}
    )


@router.post("/complaints/themes/refresh")
def refresh_themes(session: DbSession, settings: AppSettings, _: ThemesReader) -> Response:
    report = run_themes(session, settings=settings, now=utcnow())
    return RedirectResponse(f"/complaints/themes?refreshed={report.complaints}", status_code=303)
