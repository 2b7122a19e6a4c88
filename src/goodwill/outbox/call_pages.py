"""The call list page: whom to phone, when it is polite where they are, what to say, what happened."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from goodwill.config import Settings
from goodwill.outbox.call_rules import OUTCOMES, STATES, SUMMARY_MAX, offset_label
from goodwill.outbox.calls import CallError, CallNotFound, call_list, calls_csv, mark_call
from goodwill.planner.pages import MOMENT_LABELS
from goodwill.web.deps import AppSettings, DbSession, NoteReviewer, PeopleWriter
from goodwill.web.templating import render

router = APIRouter(include_in_schema=False)

STATE_TITLES = {
    "call now": "Call now",
    "too early": "Too early: their window has not opened",
    "too late today": "Too late: their window has closed",
    "blocked": "Blocked: do not call",
}
RECORDED = {
    "done": "call made, thank you",
    "no answer": "no answer; it stays on the list to try again",
    "wrong number": "wrong number; the call is closed",
    "asked not to be called": "they asked not to be called; call consent withdrawn and the number suppressed",
    "cancel": "cancelled",
}
OUTCOME_LABELS = {
    "done": "Done: we talked",
    "no answer": "No answer",
    "wrong number": "Wrong number",
    "asked not to be called": "Asked not to be called",
    "cancel": "Cancel this call",
}


def _shown_day(settings: Settings, day: date | None) -> date:
    return day or datetime.now(settings.business.tz).date()


def clock(at: datetime, day: date) -> str:
    """``21:00``, or ``Fri 06:00`` when the time falls on another calendar day than ``day``."""
    return at.strftime("%H:%M") if at.date() == day else at.strftime("%a %H:%M")


def _context(session: Session, settings: Settings, day: date) -> dict[str, Any]:
    rows = call_list(session, day=day, settings=settings)
    return {
        "nav": "calls",
        "day": day,
        "is_today": day == datetime.now(settings.business.tz).date(),
        "groups": [(state, STATE_TITLES[state], [r for r in rows if r.state == state]) for state in STATES],
        "total": len(rows),
        "hours": (settings.planner.policy.contact_from_hour, settings.planner.policy.contact_until_hour),
        "moment_labels": MOMENT_LABELS,
        "outcome_labels": OUTCOME_LABELS,
        "summary_max": SUMMARY_MAX,
        "clock": clock,
        "offset_label": offset_label,
    }


@router.get("/calls")
def calls_page(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    _: NoteReviewer,
    day: Annotated[date | None, Query()] = None,
    done: Annotated[int | None, Query()] = None,
    outcome: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    context = _context(session, settings, _shown_day(settings, day))
    if done is not None and outcome in OUTCOMES:
        context["flash"] = f"Call #{done} recorded: {RECORDED[outcome]}."
    return render(request, "calls/list.html", context)


@router.get("/calls.csv")
def calls_export(
    session: DbSession,
    settings: AppSettings,
    _: NoteReviewer,
    day: Annotated[date | None, Query()] = None,
) -> Response:
    shown = _shown_day(settings, day)
    # A byte-order mark so spreadsheet programs read the names as UTF-8.
    body = "\ufeff" + calls_csv(call_list(session, day=shown, settings=settings))
    return Response(
        body.encode(),
        media_type="text/csv; charset=utf-8",
        headers={
            "content-disposition": f'attachment; filename="calls-{shown.isoformat()}.csv"',
            "cache-control": "no-store",  # names and phone numbers
        },
    )


@router.post("/calls/{message_id}/outcome")
def record_outcome(
    request: Request,
    message_id: int,
    session: DbSession,
    settings: AppSettings,
    who: PeopleWriter,
    outcome: Annotated[str, Form(max_length=40)],
    summary: Annotated[str, Form(max_length=4 * SUMMARY_MAX)] = "",
    day: Annotated[date | None, Form()] = None,
) -> Response:
    shown = _shown_day(settings, day)
    try:
        mark_call(
            session,
            message_id=message_id,
            user_id=who.user_id,
            outcome=outcome,
            summary=summary,
            settings=settings,
        )
    except CallNotFound as exc:
        raise HTTPException(404, detail=str(exc)) from None
    except CallError as exc:
        session.rollback()
        context = _context(session, settings, shown) | {"error": str(exc), "error_id": message_id}
        context["summary_text"] = summary
        return render(request, "calls/list.html", context, status_code=422)
    query = urlencode({"day": shown.isoformat(), "done": message_id, "outcome": outcome})
    return RedirectResponse(f"/calls?{query}", status_code=303)
