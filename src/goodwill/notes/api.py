"""``/api/v1/notes``: the review queue, edits, approval (which queues the message) and skipping."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from goodwill.notes import service as notes
from goodwill.notes.sincerity import check_note
from goodwill.web.deps import AppSettings, DbSession, NoteReviewer
from goodwill.web.idempotency import Idempotent

router = APIRouter(prefix="/notes", tags=["appreciation"])
Channel = Literal["email", "sms", "card", "call"]


class CheckRequest(BaseModel):
    text: str = Field(max_length=20_000)
    first_name: str | None = Field(default=None, max_length=100)
    facts: list[str] = Field(default_factory=list, max_length=50)
    channel: Channel = "email"


class Revision(BaseModel):
    body: str = Field(min_length=1, max_length=20_000)
    subject: str | None = Field(default=None, max_length=200)


class Approval(BaseModel):
    body: str | None = Field(default=None, min_length=1, max_length=20_000)
    subject: str | None = Field(default=None, max_length=200)


class Skip(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


def _problem(exc: notes.NoteError) -> HTTPException:
    if isinstance(exc, notes.NoteBlocked):
        return HTTPException(422, detail={"message": str(exc), "check": exc.check.as_dict()})
    if isinstance(exc, notes.NoteDecided):
        return HTTPException(409, detail=str(exc))
    return HTTPException(422, detail=str(exc))


def _note(session: DbSession, note_id: int) -> Any:
    try:
        return notes.get_note(session, note_id)
    except notes.NoteNotFound as exc:
        raise HTTPException(404, detail=str(exc)) from None


@router.post("/check")
def check(body: CheckRequest, _: NoteReviewer) -> dict[str, Any]:
    """The sincerity check of any text: ``{"ok", "score", "problems": [{"kind", "text", "hint"}]}``."""
    return check_note(body.text, first_name=body.first_name, facts=body.facts, channel=body.channel).as_dict()


@router.get("")
def list_notes(
    session: DbSession,
    _: NoteReviewer,
    status: Literal["draft", "approved", "skipped"] = "draft",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """Notes by status, highest plan priority first (drafts are the review queue)."""
    rows = notes.queue(session, status=status, limit=limit)
    return {"items": [{**notes.note_dict(r.note), "person_name": r.person_name} for r in rows]}


@router.get("/{note_id}")
def get_one(note_id: int, session: DbSession, _: NoteReviewer) -> dict[str, Any]:
    return notes.note_dict(_note(session, note_id))


@router.patch("/{note_id}")
def revise(note_id: int, body: Revision, session: DbSession, who: NoteReviewer) -> dict[str, Any]:
    """Edit a draft; the sincerity check runs again and comes back with the note."""
    _note(session, note_id)
    try:
        note = notes.revise(
            session, note_id=note_id, body=body.body, subject=body.subject, user_id=who.user_id
        )
    except notes.NoteError as exc:
        raise _problem(exc) from None
    return notes.note_dict(note)


@router.post("/{note_id}/approve", status_code=201)
def approve(
    note_id: int,
    body: Approval,
    session: DbSession,
    settings: AppSettings,
    who: NoteReviewer,
    idem: Idempotent,
) -> Response:
    """Approve (optionally with a last edit): the message is queued in the same transaction."""
    _note(session, note_id)
    try:
        message = notes.approve(
            session,
            note_id=note_id,
            user_id=who.user_id,
            body=body.body,
            subject=body.subject,
            settings=settings,
        )
    except notes.NoteError as exc:
        raise _problem(exc) from None
    note = notes.get_note(session, note_id)
    payload = {
        "note": notes.note_dict(note),
        "message": {"id": message.id, "status": message.status, "channel": message.channel},
    }
    return idem.respond(201, payload)


@router.post("/{note_id}/skip")
def skip(note_id: int, body: Skip, session: DbSession, who: NoteReviewer) -> dict[str, Any]:
    """Decide not to send, with a reason; the plan's slot is freed."""
    _note(session, note_id)
    try:
        note = notes.skip(session, note_id=note_id, user_id=who.user_id, reason=body.reason)
    except notes.NoteError as exc:
        raise _problem(exc) from None
    return notes.note_dict(note)
