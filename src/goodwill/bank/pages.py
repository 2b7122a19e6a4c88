"""The "At risk" page: people on watch or overdrawn, most valuable first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from goodwill.bank.config import load_bank_config
from goodwill.bank.statements import alerts
from goodwill.complaints.visibility import hide_streak_details
from goodwill.web.deps import AppSettings, DbSession, PeopleReader
from goodwill.web.templating import render

router = APIRouter(include_in_schema=False)
PER_PAGE = 25


@router.get("/at-risk")
def at_risk_page(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    principal: PeopleReader,
    page: Annotated[int, Query(ge=1)] = 1,
) -> Response:
    items, total = alerts(
        session=session,
        page=page,
        per_page=PER_PAGE,
        config=load_bank_config(settings),
        currency=settings.business.currency,
        tz=settings.business.tz,
    )
    hide_streak_details(session, user_id=principal.user_id, role=principal.role, items=items)
    context = {
        "nav": "at-risk",
        "items": items,
        "total": total,
        "page": page,
        "first": (page - 1) * PER_PAGE + 1 if items else 0,
        "last": (page - 1) * PER_PAGE + len(items),
        "has_next": page * PER_PAGE < total,
    }
    return render(request, "bank/at_risk.html", context)
