"""The Impact page (``GET /impact``): thanked versus held out, per plan day and campaign.

Managers and admins only: it is about the business's results, not one customer. Read only.
``?campaign=ID`` (or name) shows one campaign, ``?day=YYYY-MM-DD`` one plan day, ``?since=YYYY-MM-DD``
every plan day with a holdout and every campaign since then (the last 180 days by default).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response

from goodwill.db import utcnow
from goodwill.impact.service import ImpactError, UnknownCampaign
from goodwill.impact.views import page_context
from goodwill.team.model import Role
from goodwill.web.auth import Principal
from goodwill.web.deps import AppSettings, DbSession, require_role
from goodwill.web.templating import render

router = APIRouter(include_in_schema=False)

read_impact = require_role("see whether thanks brings people back (impact)", Role.admin, Role.manager)
ImpactReader = Annotated[Principal, Depends(read_impact)]


def _date(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise HTTPException(400, detail=f"{name}: {value!r} is not a date (use YYYY-MM-DD)") from None


@router.get("/impact")
def impact_page(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    _: ImpactReader,
    campaign: str | None = None,
    day: str | None = None,
    since: str | None = None,
) -> Response:
    try:
        context = page_context(
            session, settings=settings, now=utcnow(), campaign=campaign or None,
            day=_date(day, "day"), since=_date(since, "since"),
        )  # fmt: skip
    except UnknownCampaign as exc:
        raise HTTPException(404, detail=str(exc)) from None
    except ImpactError as exc:
        raise HTTPException(400, detail=str(exc)) from None
    return render(request, "impact/index.html", context)
