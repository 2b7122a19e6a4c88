"""What the Impact page and ``goodwill impact`` show: reports put into rows, words and charts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from goodwill.config import Settings
from goodwill.impact.charts import UpliftPoint, uplift_chart
from goodwill.impact.outcomes import OUTCOMES_BY_KEY, Outcome
from goodwill.impact.service import ImpactReport, select_reports
from goodwill.impact.stats import Comparison, plain_number
from goodwill.money import format_money

VERDICT_LABELS = {
    "up": "Higher when thanked",
    "down": "Lower when thanked",
    "no clear difference": "No clear difference",
    "too small to tell": "Too small to tell",
}


def show_value(outcome: Outcome, value: float | None, currency: str) -> str:
    """A group's value: 30.0% for a share, EUR 12.00 for spend, 0.22 for a count."""
    if value is None:
        return "–"
    if outcome.unit == "share":
        return f"{value * 100:.1f}%"
    if outcome.unit == "money":
        return format_money(round(value), currency)
    return plain_number(value)


def show_difference(outcome: Outcome, value: float | None, currency: str) -> str:
    """A signed difference: +10.0 pts, -EUR 3.50, +0.38."""
    if value is None:
        return "–"
    sign = "+" if value > 0 else "-" if value < 0 else ""
    if outcome.unit == "share":
        return f"{sign}{abs(value) * 100:.1f} pts"
    if outcome.unit == "money":
        return sign + format_money(round(abs(value)), currency)
    return sign + plain_number(abs(value))


def tone(outcome: Outcome, comparison: Comparison) -> str:
    """good / bad / unclear: whether a real difference is the one we hope for (fewer complaints)."""
    verdict = str(comparison.verdict)
    if verdict not in ("up", "down"):
        return "unclear"
    return "good" if (verdict == "up") == outcome.higher_is_better else "bad"


@dataclass(frozen=True)
class OutcomeRow:
    key: str
    label: str
    thanked: str
    held: str
    difference: str
    interval: str
    verdict: str
    verdict_label: str
    sentence: str
    tone: str


def rows_for(report: ImpactReport, currency: str) -> list[OutcomeRow]:
    rows = []
    for comparison in report.comparisons:
        outcome = OUTCOMES_BY_KEY[comparison.metric]
        low, high = comparison.low, comparison.high
        interval = (
            f"{show_difference(outcome, low, currency)} to {show_difference(outcome, high, currency)}"
            if low is not None and high is not None
            else "–"
        )
        rows.append(
            OutcomeRow(
                key=outcome.key,
                label=outcome.label,
                thanked=show_value(outcome, comparison.treated_value, currency),
                held=show_value(outcome, comparison.holdout_value, currency),
                difference=show_difference(outcome, comparison.difference, currency),
                interval=interval,
                verdict=str(comparison.verdict),
                verdict_label=VERDICT_LABELS.get(str(comparison.verdict), str(comparison.verdict)),
                sentence=comparison.sentence,
                tone=tone(outcome, comparison),
            )
        )
    return rows


def _chart(reports: list[ImpactReport], key: str, currency: str, title: str) -> Any:
    outcome = OUTCOMES_BY_KEY[key]
    points = []
    for report in reports:
        c = report.comparison(key)
        short = report.day.strftime("%d %b").lstrip("0") if report.kind == "day" else report.label
        so_far = "" if report.window_complete else " (so far)"
        shown = show_difference(outcome, c.difference, currency)
        points.append(
            UpliftPoint(
                label=short,
                difference=c.difference,
                low=c.low,
                high=c.high,
                tone=str(c.verdict) if str(c.verdict) in ("up", "down") else "unclear",
                title=f"{report.label}{so_far}: {shown}. {c.sentence}",
                small=min(report.treated_n, report.holdout_n) < c.min_group_size,
            )
        )
    return uplift_chart(points, label=title, show=lambda v: show_difference(outcome, v, currency))


def _report_view(report: ImpactReport, currency: str) -> dict[str, Any]:
    rows = rows_for(report, currency)
    return {
        "report": report,
        "rows": rows,
        "repeat": rows[0],
        "spend": next(r for r in rows if r.key == "spend"),
        "link": f"/impact?campaign={report.campaign_id}"
        if report.campaign_id
        else f"/impact?day={report.day}",
    }


def _featured(reports: list[ImpactReport], min_group_size: int) -> ImpactReport | None:
    """The report the cards show: the latest complete one with enough people in both groups, else
    the latest complete one, else the latest."""
    complete = [r for r in reports if r.window_complete]
    sized = [r for r in complete if min(r.treated_n, r.holdout_n) >= min_group_size]
    chosen = sized or complete or reports
    return chosen[-1] if chosen else None


def page_context(
    session: Session,
    *,
    settings: Settings,
    now: datetime,
    campaign: str | None = None,
    day: date | None = None,
    since: date | None = None,
) -> dict[str, Any]:
    """Context for ``impact/index.html``: cards for the latest complete report, charts and the table."""
    currency = settings.business.currency
    chosen = select_reports(session, settings=settings, now=now, campaign=campaign, day=day, since=since)
    reports = chosen.reports
    featured = _featured(reports, settings.impact.min_group_size)
    return {
        "nav": "impact",
        "scope": chosen.scope,
        "since": chosen.since,
        "single": chosen.single,
        "reports": [_report_view(r, currency) for r in reports],
        "featured": _report_view(featured, currency) if featured else None,
        "window_days": settings.impact.window_days,
        "confidence": settings.impact.confidence,
        "min_group_size": settings.impact.min_group_size,
        "repeat_chart": _chart(
            reports, "repeat_purchase", currency, "Difference in the share who bought again"
        )
        if reports
        else None,
        "spend_chart": _chart(reports, "spend", currency, "Difference in spend per person")
        if reports
        else None,
    }
