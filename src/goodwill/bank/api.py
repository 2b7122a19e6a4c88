"""``/api/v1/bank``: a person's statement and the at-risk list, as JSON."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from goodwill.bank.config import load_bank_config
from goodwill.bank.statements import alerts, statement
from goodwill.web.api.schemas import MAX_PAGE
from goodwill.web.deps import AppSettings, DbSession, PeopleReader

router = APIRouter(prefix="/bank", tags=["bank"])


@router.get("/people/{person_id}/statement")
def person_statement(
    person_id: int, session: DbSession, settings: AppSettings, _: PeopleReader, as_of: datetime | None = None
) -> dict[str, Any]:
    """Every entry with its running balance; ``as_of`` (ISO time) looks back. Unknown people are a 404."""
    found = statement(
        session=session,
        person_ref=person_id,
        as_of=as_of if as_of is None or as_of.tzinfo else as_of.replace(tzinfo=settings.business.tz),
        config=load_bank_config(settings),
        tz=settings.business.tz,
    )
    return found.as_json()


@router.get("/alerts")
def at_risk(
    session: DbSession,
    settings: AppSettings,
    _: PeopleReader,
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
    return {"total": total, "page": page, "per_page": per_page, "items": items}
