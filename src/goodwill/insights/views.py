"""What the pages show: one person's insights (for the person page) and the overview (``/insights``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from goodwill.insights.milestones import describe
from goodwill.insights.model import InsightMilestone, InsightRun, InsightScore
from goodwill.insights.rfm import SEGMENT_GRID, SEGMENTS, segment_label
from goodwill.money import format_money

MILESTONES_SHOWN = 12


def latest_run(session: Session) -> InsightRun | None:
    return session.scalar(select(InsightRun).order_by(InsightRun.id.desc()).limit(1))


def person_context(session: Session, person_id: int) -> dict[str, Any]:
    """Context for ``insights/_person.html``: ``{"insights": None}`` when the person has no score."""
    found_score = session.execute(
        select(InsightScore, InsightRun)
        .outerjoin(InsightRun, InsightRun.id == InsightScore.run_id)
        .where(InsightScore.person_id == person_id)
    ).first()
    if found_score is None:
        return {"insights": None}
    score, run = found_score
    currency = run.currency if run else "USD"
    found = session.execute(
        select(InsightMilestone.kind, InsightMilestone.value, InsightMilestone.reached_on)
        .where(InsightMilestone.person_id == person_id)
        .order_by(InsightMilestone.reached_on.desc(), InsightMilestone.kind)
        .limit(MILESTONES_SHOWN)
    ).all()
    milestones = [
        {
            "kind": kind,
            "value": value,
            "reached_on": reached_on,
            "label": describe(
                kind, value, money=format_money(value, currency) if kind == "lifetime_spend" else ""
            ),
        }
        for kind, value, reached_on in found
    ]
    return {
        "insights": {
            "segment": score.segment,
            "segment_label": segment_label(score.segment),
            "segment_meaning": SEGMENTS[score.segment],
            "r_score": score.r_score,
            "f_score": score.f_score,
            "m_score": score.m_score,
            "p_alive": score.p_alive,
            "expected_purchases": score.expected_purchases,
            "clv_minor": score.clv_minor,
            "currency": currency,
            "horizon_months": run.horizon_months if run else None,
            "as_of": run.as_of if run else None,
            "orders": score.orders,
            "total_spend_minor": score.total_spend_minor,
            "first_purchase_on": score.first_purchase_on,
            "last_purchase_on": score.last_purchase_on,
            "milestones": milestones,
        }
    }


def overview_context(session: Session) -> dict[str, Any]:
    """Context for ``insights/index.html``: the latest run and its overview, or ``run`` None."""
    run = latest_run(session)
    if run is None:
        return {"run": None}
    overview = run.params.get("overview", {})
    return {
        "run": run,
        "bgnbd": run.params.get("bgnbd"),
        "gamma_gamma": run.params.get("gamma_gamma"),
        "notes": run.params.get("notes", []),
        "overview": overview,
        "segments": [
            {
                "name": name,
                "label": segment_label(name),
                "meaning": meaning,
                "count": overview.get("segments", {}).get(name, 0),
            }
            for name, meaning in SEGMENTS.items()
        ],
        "segment_grid": SEGMENT_GRID,
    }
