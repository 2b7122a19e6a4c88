"""The Insights page (``GET /insights``) and the person-page partial's context."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from goodwill.insights import charts
from goodwill.insights.views import overview_context
from goodwill.money import format_money
from goodwill.web.deps import DbSession, PeopleReader
from goodwill.web.templating import render

router = APIRouter(include_in_schema=False)


def chart_context(context: dict[str, Any]) -> dict[str, Any]:
    """The page's SVG charts from the stored overview."""
    run, overview = context.get("run"), context.get("overview") or {}
    if run is None:
        return {}
    alive_bins = overview.get("p_alive_bins", [0] * 10)
    alive_labels = [f"{i * 10}–{i * 10 + 10}%" for i in range(10)]
    deciles = overview.get("clv_deciles", [])
    months = overview.get("repeat_rate", [])
    return {
        "segment_chart": charts.segment_map(overview.get("grid", [])),
        "p_alive_chart": charts.bar_chart(
            alive_bins,
            [f"{i * 10}%" for i in range(10)],
            label="How many people are probably still customers",
            titles=[f"P(alive) {lab}: {n:,} people" for lab, n in zip(alive_labels, alive_bins, strict=True)],
            colour="#5b8a72",
        ),
        "clv_chart": charts.bar_chart(
            [d["mean"] for d in deciles],
            [f"D{i + 1}" for i in range(len(deciles))],
            label="Average lifetime value by tenth of customers, lowest first",
            titles=[
                f"Tenth {i + 1}: average {format_money(round(d['mean']), run.currency)}, "
                f"{d['share']:.0%} of all value"
                for i, d in enumerate(deciles)
            ],
            colour="#c28a2c",
        )
        if deciles
        else None,
        "repeat_chart": charts.line_chart(
            [m["returning"] / m["buyers"] if m["buyers"] else 0.0 for m in months],
            [m["month"] for m in months],
            label="Share of each month's buyers who had bought before",
            titles=[
                f"{m['month']}: {m['returning']:,} of {m['buyers']:,} buyers had bought before"
                for m in months
            ],
        )
        if months
        else None,
    }


@router.get("/insights")
def insights_page(request: Request, session: DbSession, _: PeopleReader) -> Response:
    context = overview_context(session)
    context.update(chart_context(context))
    context["nav"] = "insights"
    return render(request, "insights/index.html", context)
