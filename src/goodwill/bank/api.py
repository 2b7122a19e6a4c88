"""``/api/v1/bank``: a person's statement and the at-risk list, as JSON."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from goodwill.bank.config import load_bank_config
from goodwill.bank.statements import alerts, hide_details, statement
from goodwill.complaints.visibility import (
    HIDDEN_TEXT,
    complaint_event_ids,
    hidden_event_ids,
    hide_streak_details,
)
from goodwill.web.api.schemas import MAX_PAGE
from goodwill.web.deps import AppSettings, DbSession, PeopleReader

router = APIRouter(prefix="/bank", tags=["bank"])


@router.get("/people/{person_id}/statement")
def person_statement(
    person_id: int,
    session: DbSession,
    settings: AppSettings,
    principal: PeopleReader,
    as_of: datetime | None = None,
) -> dict[str, Any]:
    """Every entry with its running balance; ``as_of`` (ISO time) looks back. Unknown people are a 404."""
    found = statement(
        session=session,
        person_ref=person_id,
        as_of=as_of if as_of is None or as_of.tzinfo else as_of.replace(tzinfo=settings.business.tz),
        config=load_bank_config(settings),
        tz=settings.business.tz,
    )
    hidden = hidden_event_ids(
        session,
        user_id=principal.user_id,
        role=principal.role,
        event_ids=complaint_event_ids((line.event_id, line.kind) for line in found.lines),
    )
    return hide_details(found, hidden, HIDDEN_TEXT).as_json()


@router.get("/alerts")
def at_risk(
    session: DbSession,
    settings: AppSettings,
    principal: PeopleReader,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    per_page: Annotated[int, Query(ge=1, le=200)] = 25,
) -> dict[str, Any]:
    """Everyone on watch or overdrawn, most valuable first, with the withdrawals of their streak."""
    items, total = alerts(
        session=session,
        page=page,
        per_page=per_page,
        config=load_bank_config(settings),
        currency=settings.business.currency,
        tz=settings.business.tz,
    )
    hide_streak_details(session, user_id=principal.user_id, role=principal.role, items=items)
    return {"total": total, "page": page, "per_page": per_page, "items": items}
