"""The reply page (staff) and the one-question page (the person who complained, no login).

``/complaints/{id}/reply``: the first-response draft in an editable box with the sincerity check beside
it (live through HTMX while typing); Save checks again, Approve queues it for delivery, Discard throws
it away. Opening the page changes nothing: without a draft it shows "Write the first response", a
POST that drafts one (a second click finds the same draft). Only staff who may see the complaint
reach it: anyone else gets a 404, as on the complaint. NUL characters in what is posted are taken
out by the service (PostgreSQL refuses them in text).

``/my/complaint/{token}``: "Did we put it right?" with three buttons. As on the unsubscribe and
loyalty pages, the signed token in the path is the whole authorisation, so the POST carries no CSRF
token and reads no login cookie; opening the page (a mail scanner following the link) records nothing.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from goodwill.complaints import reply_service as replies
from goodwill.complaints.access import ComplaintHandler
from goodwill.complaints.model import Complaint, ReplyStatus
from goodwill.complaints.service import ComplaintNotFound, get_visible
from goodwill.db import utcnow
from goodwill.loyalty.links import BadLink
from goodwill.notes.sincerity import PROBLEM_KINDS
from goodwill.web.auth import Principal
from goodwill.web.deps import AppSettings, DbSession
from goodwill.web.templating import render

router = APIRouter(include_in_schema=False)
public_router = APIRouter(include_in_schema=False)

PUBLIC_HEADERS = {"referrer-policy": "no-referrer"}
ANSWER_WORDS = {"yes": "Yes", "partly": "Partly", "no": "No"}
DONE_WORDS = {
    "saved": "Saved and checked again.",
    "approved": "Approved: the reply is queued and goes out with the next delivery run.",
    "discarded": "The draft was discarded.",
    "drafted": "A new draft is ready.",
}


def _visible(session: Session, complaint_id: int, who: Principal) -> Complaint:
    try:
        return get_visible(session, complaint_id=complaint_id, user_id=who.user_id, role=who.role)
    except ComplaintNotFound:
        raise HTTPException(404, detail=f"no complaint with id {complaint_id}") from None


def _page(
    request: Request, session: Session, complaint: Complaint, *, status_code: int = 200, **extra: Any
) -> Response:
    view = replies.reply_context(session, complaint)
    context = {
        "nav": "complaints",
        "view": view,
        "check": view.check,
        "problem_kinds": PROBLEM_KINDS,
        **extra,
    }
    return render(request, "complaints/reply.html", context, status_code=status_code)


@router.get("/complaints/{complaint_id}/reply")
def reply_page(request: Request, complaint_id: int, session: DbSession, who: ComplaintHandler) -> Response:
    # Read-only: opening the page (or a link preview) drafts nothing; "Write the first response" does.
    complaint = _visible(session, complaint_id, who)
    done = DONE_WORDS.get(request.query_params.get("done", ""))
    return _page(request, session, complaint, done=done)


@router.post("/complaints/{complaint_id}/reply")
def reply_action(
    request: Request,
    complaint_id: int,
    session: DbSession,
    settings: AppSettings,
    who: ComplaintHandler,
    action: Annotated[Literal["save", "approve", "discard", "draft"], Form()],
    body: Annotated[str, Form(max_length=20_000)] = "",
    subject: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    complaint = _visible(session, complaint_id, who)
    reply = replies.first_response_of(session, complaint.id)
    try:
        if action == "draft":
            replies.draft_first_response(
                session, complaint_id=complaint.id, user_id=who.user_id, settings=settings
            )
        elif reply is None or reply.status != ReplyStatus.draft:
            raise replies.ReplyError("there is no draft to change: it was approved or discarded meanwhile")
        elif action == "save":
            replies.revise_reply(session, reply_id=reply.id, body=body, subject=subject, user_id=who.user_id)
        elif action == "approve":
            replies.approve_reply(
                session,
                reply_id=reply.id,
                user_id=who.user_id,
                settings=settings,
                now=utcnow(),
                body=body,
                subject=subject,
            )
        else:
            replies.discard_reply(session, reply_id=reply.id, user_id=who.user_id)
    except replies.ReplyError as exc:
        session.rollback()  # nothing of a refused action is kept; what they typed is shown again
        shown = {"draft_body": replies.without_nul(body), "draft_subject": replies.without_nul(subject)}
        extra: dict[str, Any] = {"error": str(exc), **shown}
        if isinstance(exc, replies.ReplyBlocked):
            extra["check"] = exc.check.as_dict() | {"problems": replies.problem_dicts(exc.check)}
        return _page(request, session, _visible(session, complaint_id, who), status_code=422, **extra)
    done = {"save": "saved", "approve": "approved", "discard": "discarded", "draft": "drafted"}[action]
    return RedirectResponse(f"/complaints/{complaint.id}/reply?done={done}", status_code=303)


@router.post("/complaints/{complaint_id}/reply/check")
def live_check(
    request: Request,
    complaint_id: int,
    session: DbSession,
    who: ComplaintHandler,
    body: Annotated[str, Form(max_length=20_000)] = "",
) -> Response:
    """The check of the text being edited, without saving it (HTMX swaps the panel)."""
    complaint = _visible(session, complaint_id, who)
    reply = replies.first_response_of(session, complaint.id)
    channel = reply.channel if reply is not None else "email"
    result = replies.check_for(session, complaint=complaint, body=body, channel=channel)
    check = result.as_dict() | {"problems": replies.problem_dicts(result)}
    return render(request, "notes/_check.html", {"check": check, "problem_kinds": PROBLEM_KINDS})


# --- the person's one-question page ----------------------------------------------------------------


def _broken(request: Request, exc: BadLink) -> Response:
    status = 410 if exc.expired else 404
    return render(
        request,
        "complaints/satisfaction_broken.html",
        {"expired": exc.expired},
        status_code=status,
        headers=PUBLIC_HEADERS,
    )


@public_router.get("/my/complaint/{token}")
def question_page(request: Request, token: str, session: DbSession) -> Response:
    try:
        complaint = replies.complaint_for_link(
            session, secret_key=request.app.state.secret_key, token=token, now=utcnow()
        )
    except BadLink as exc:
        return _broken(request, exc)
    context = {"token": token, "answer": complaint.satisfaction, "answer_words": ANSWER_WORDS}
    return render(request, "complaints/satisfaction.html", context, headers=PUBLIC_HEADERS)


@public_router.post("/my/complaint/{token}")
def answer_question(
    request: Request, token: str, session: DbSession, answer: Annotated[str, Form(max_length=10)] = ""
) -> Response:
    secret_key = request.app.state.secret_key
    try:
        outcome = replies.record_satisfaction(
            session, secret_key=secret_key, token=token, answer=answer, now=utcnow()
        )
    except BadLink as exc:
        return _broken(request, exc)
    except replies.ReplyError as exc:
        refused = {"token": token, "answer": None, "answer_words": ANSWER_WORDS, "error": str(exc)}
        return render(
            request, "complaints/satisfaction.html", refused, status_code=422, headers=PUBLIC_HEADERS
        )
    done = {"outcome": outcome, "answer_words": ANSWER_WORDS, "change_days": replies.ANSWER_CHANGE_DAYS}
    return render(request, "complaints/satisfaction_done.html", done, headers=PUBLIC_HEADERS)
