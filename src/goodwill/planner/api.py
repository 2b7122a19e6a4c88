"""``/api/v1/plan``: the day's plan of whom to thank, and planning it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from goodwill.notes.service import plan_and_draft
from goodwill.planner.service import plan_view
from goodwill.web.api.schemas import IsoDate
from goodwill.web.deps import AppSettings, DbSession, NoteReviewer, Planner

router = APIRouter(prefix="/plan", tags=["appreciation"])


class PlanRequest(BaseModel):
    date: IsoDate | None = None


def _today(settings: AppSettings) -> dt.date:
    return dt.datetime.now(settings.business.tz).date()


@router.get("")
def get_plan(
    session: DbSession, settings: AppSettings, _: NoteReviewer, day: IsoDate | None = None
) -> dict[str, Any]:
    """The stored plan of a day (``day``, default today in the business's zone): items, holdout, skipped."""
    return plan_view(session, day or _today(settings), default_zone=settings.business.timezone)


@router.post("", status_code=201)
def run_plan(body: PlanRequest, session: DbSession, settings: AppSettings, who: Planner) -> dict[str, Any]:
    """Plan a day (again): adds people who became eligible, drafts their notes, returns the whole plan."""
    day = body.date or _today(settings)
    outcome, notes = plan_and_draft(session, day=day, settings=settings, planned_by_id=who.user_id)
    session.flush()
    view = plan_view(session, day, default_zone=settings.business.timezone)
    return {**view, "added": len(outcome.new_items), "drafted": len(notes)}
