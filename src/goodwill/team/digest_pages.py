"""Pages: the weekly digest (managers and admins) and each member of staff's own notices."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response

from goodwill.db import MAX_ID, utcnow
from goodwill.team import notices
from goodwill.team.digest import WEIGHTS, check_week, today_in, weekly_digest
from goodwill.team.model import Role
from goodwill.web.auth import Principal
from goodwill.web.deps import STAFF, AppSettings, DbSession, require_role
from goodwill.web.templating import render

router = APIRouter(include_in_schema=False)

read_digest = require_role("read the team digest", Role.admin, Role.manager)
read_own_notices = require_role("read and mark their own notices", *STAFF)
DigestReader = Annotated[Principal, Depends(read_digest)]
NoticeReader = Annotated[Principal, Depends(read_own_notices)]


def parse_week(text: str | None, today: date) -> date:
    """``?week=YYYY-MM-DD`` (the last day of the week to show); today when absent."""
    if not text:
        return today
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"week: {text!r} is not a date; use YYYY-MM-DD") from None
    try:
        return check_week(day)
    except ValueError as exc:
        raise ValueError(f"week: {exc}") from None


@router.get("/team/digest")
def digest_page(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    who: DigestReader,
    week: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    today = today_in(settings.business.tz, utcnow())
    try:
        week_ending = parse_week(week, today)
    except ValueError as exc:
        raise HTTPException(422, detail=str(exc)) from None
    digest = weekly_digest(
        session, viewer_id=who.user_id, viewer_role=who.role, week_ending=week_ending, settings=settings
    )
    later = week_ending + timedelta(days=7)
    context = {
        "nav": "team",
        "digest": digest,
        "weights": WEIGHTS,
        "earlier": week_ending - timedelta(days=7),
        "later": later if later <= today else None,
    }
    return render(request, "team/digest.html", context)


@router.get("/team/notices")
def notices_page(request: Request, session: DbSession, who: NoticeReader) -> Response:
    context = {
        "nav": "team",
        "notices": notices.notices_for(session, user_id=who.user_id, limit=200),
        "unread": notices.unread_count(session, user_id=who.user_id),
    }
    return render(request, "team/notices.html", context)


@router.post("/team/notices/read")
def mark_read_form(
    session: DbSession,
    who: NoticeReader,
    notice_id: Annotated[int | None, Form(ge=1, le=MAX_ID)] = None,
) -> Response:
    """Mark one notice read (``notice_id``) or all of them; only ever the caller's own."""
    notices.mark_read(session, user_id=who.user_id, now=utcnow(), notice_id=notice_id)
    return RedirectResponse("/team/notices", status_code=303)
