"""The review queue: read the evidence, edit the draft with the sincerity check live, approve or skip."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response

from goodwill.notes import service as notes
from goodwill.notes.model import Note
from goodwill.notes.sincerity import PROBLEM_KINDS
from goodwill.people.model import Person
from goodwill.planner.model import PlanItem
from goodwill.planner.pages import CHANNEL_LABELS, MOMENT_LABELS
from goodwill.team.model import User
from goodwill.web.deps import AppSettings, DbSession, NoteReviewer
from goodwill.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/notes")
def queue_page(
    request: Request,
    session: DbSession,
    _: NoteReviewer,
    status: Annotated[Literal["draft", "approved", "skipped"], Query()] = "draft",
) -> Response:
    rows = notes.queue(session, status=status, limit=200)
    context = {
        "nav": "notes",
        "rows": rows,
        "status": status,
        "moment_labels": MOMENT_LABELS,
        "channel_labels": CHANNEL_LABELS,
    }
    return render(request, "notes/queue.html", context)


def _review_context(session: DbSession, note_id: int) -> dict[str, object]:
    try:
        note = notes.get_note(session, note_id)
    except notes.NoteNotFound as exc:
        raise HTTPException(404, detail=str(exc)) from None
    person = session.get(Person, note.person_id)
    item = session.get(PlanItem, note.plan_item_id) if note.plan_item_id else None
    writer = session.get(User, note.writer_id) if note.writer_id else None
    decided_by = session.get(User, note.decided_by_id) if note.decided_by_id else None
    return {
        "nav": "notes",
        "note": note,
        "person": person,
        "item": item,
        "writer": writer,
        "decided_by": decided_by,
        "check": {"ok": note.ok, "score": note.score, "problems": note.problems},
        "moment_labels": MOMENT_LABELS,
        "channel_labels": CHANNEL_LABELS,
        "problem_kinds": PROBLEM_KINDS,
    }


@router.get("/notes/{note_id}")
def review_page(request: Request, note_id: int, session: DbSession, _: NoteReviewer) -> Response:
    return render(request, "notes/review.html", _review_context(session, note_id))


@router.post("/notes/{note_id}/check")
def live_check(
    request: Request,
    note_id: int,
    session: DbSession,
    _: NoteReviewer,
    body: Annotated[str, Form(max_length=20_000)] = "",
) -> Response:
    """The check of the text being edited, without saving it (HTMX swaps the panel)."""
    context = _review_context(session, note_id)
    person = context["person"]
    note = context["note"]
    assert isinstance(person, Person) and isinstance(note, Note)
    result = notes.check_for(session, person=person, body=body, channel=note.channel)
    context["check"] = result.as_dict() | {"problems": [notes.problem_dict(p) for p in result.problems]}
    return render(request, "notes/_check.html", context)


@router.post("/notes/{note_id}/approve")
def approve_form(
    request: Request,
    note_id: int,
    session: DbSession,
    settings: AppSettings,
    who: NoteReviewer,
    body: Annotated[str, Form(max_length=20_000)],
    subject: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    try:
        notes.approve(
            session,
            note_id=note_id,
            user_id=who.user_id,
            body=body,
            subject=subject or None,
            settings=settings,
        )
    except notes.NoteNotFound as exc:
        raise HTTPException(404, detail=str(exc)) from None
    except notes.NoteError as exc:
        session.rollback()
        context = _review_context(session, note_id)
        context["error"] = str(exc)
        context["draft_body"] = body
        context["draft_subject"] = subject
        if isinstance(exc, notes.NoteBlocked):
            check = exc.check
            context["check"] = check.as_dict() | {"problems": [notes.problem_dict(p) for p in check.problems]}
        return render(request, "notes/review.html", context, status_code=422)
    return RedirectResponse(_next_url(session, note_id, "approved"), status_code=303)


@router.post("/notes/{note_id}/skip")
def skip_form(
    request: Request,
    note_id: int,
    session: DbSession,
    who: NoteReviewer,
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    try:
        notes.skip(session, note_id=note_id, user_id=who.user_id, reason=reason)
    except notes.NoteNotFound as exc:
        raise HTTPException(404, detail=str(exc)) from None
    except notes.NoteError as exc:
        session.rollback()
        context = _review_context(session, note_id)
        context["skip_error"] = str(exc)
        return render(request, "notes/review.html", context, status_code=422)
    return RedirectResponse(_next_url(session, note_id, "skipped"), status_code=303)


def _next_url(session: DbSession, done_id: int, outcome: str) -> str:
    """On to the next draft in the queue, so a reviewer can work through it without going back."""
    waiting = notes.queue(session, status="draft", limit=1)
    if waiting:
        return f"/notes/{waiting[0].note.id}?done={done_id}&outcome={outcome}"
    return f"/notes?done={done_id}&outcome={outcome}"
