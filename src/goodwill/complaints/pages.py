"""The complaints pages: the inbox (what is due first), the staff form, and one complaint.

Handlers parse a form, call one service and redirect (303, so a reload never posts twice) or show
the page again with the error next to its field (422). A complaint the caller may not see is a 404.
"""

from __future__ import annotations

import re
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from goodwill.complaints import service
from goodwill.complaints.access import ComplaintHandler
from goodwill.complaints.inbox import SCOPE_LABELS, list_visible, scopes_for
from goodwill.complaints.model import Complaint, ComplaintSource, Priority
from goodwill.complaints.present import log_json
from goodwill.complaints.timers import timers_for, worst_state
from goodwill.config import Settings
from goodwill.db import utcnow
from goodwill.people.model import Person
from goodwill.team.model import Role, User
from goodwill.web.auth import Principal
from goodwill.web.deps import AppSettings, DbSession
from goodwill.web.templating import render

router = APIRouter(include_in_schema=False)

CHANNELS = {
    "phone": "Phone call",
    "counter": "At the counter",
    "letter": "Letter",
    "email": "Email",
    "other": "Other",
}
STATUS_LABELS = {
    "": "All",
    "active": "Still to handle",
    "open": "Not answered",
    "responded": "Answered",
    "resolved": "Resolved",
}
NONCE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
# ASCII digits only ("²" and "١" pass str.isdigit()), and few enough to fit a 64-bit id.
FORM_ID = re.compile(r"[0-9]{1,18}")
SHORT_WORDS = 140


class BadId(ValueError):
    pass


def form_id(text: str, *, what: str) -> int | None:
    """An id typed or picked in a form: None when left empty, ``BadId`` when it cannot be one."""
    text = text.strip()
    if not text:
        return None
    if FORM_ID.fullmatch(text) is None:
        raise BadId(f"no {what} with id {text[:30]!r}")
    return int(text)


def shorten(text: str, limit: int = SHORT_WORDS) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rsplit(" ", 1)[0] + "…"


@router.get("/complaints")
def inbox(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    who: ComplaintHandler,
    scope: str = "all",
    status: str = "",
    moved: int | None = None,
) -> Response:
    # A filter this role does not have (or a mistyped link) shows everything rather than an error.
    scope = scope if scope in scopes_for(who.role) else "all"
    status = status if status in STATUS_LABELS else ""
    rows = list_visible(session, user_id=who.user_id, role=who.role, scope=scope, status=status or None)
    now = utcnow()
    items = []
    for row in rows:
        timers = timers_for(row.complaint, now=now, settings=settings)
        items.append(
            {"row": row, "timers": timers, "state": worst_state(timers), "words": shorten(row.complaint.body)}
        )
    context = {
        "nav": "complaints",
        "items": items,
        "scope": scope,
        "status": status,
        "scopes": [(s, SCOPE_LABELS[s]) for s in scopes_for(who.role)],
        "status_labels": STATUS_LABELS,
        "moved": moved,
    }
    return render(request, "complaints/inbox.html", context)


class NewForm(BaseModel):
    email: str = ""
    name: str = ""
    person_id: str = ""
    channel: str = "phone"
    priority: str = ""
    subject: str = ""
    body: str = ""
    nonce: str = ""


def _new_page(request: Request, session: Session, form: NewForm, status: int = 200, **extra: Any) -> Response:
    try:
        person_id = form_id(form.person_id, what="person")
    except BadId:
        person_id = None
    person = session.get(Person, person_id) if person_id is not None else None
    context = {
        "nav": "complaints",
        "form": form,
        "person": person,
        "channels": CHANNELS,
        "priorities": [p.value for p in Priority],
        **extra,
    }
    return render(request, "complaints/new.html", context, status_code=status)


@router.get("/complaints/new")
def new_page(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    _: ComplaintHandler,
    person_id: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    # A person_id that names nobody (or is not a number) shows the form that asks who it was.
    form = NewForm(
        person_id=person_id if FORM_ID.fullmatch(person_id) else "",
        priority=settings.complaints.default_priority,
        nonce=secrets.token_urlsafe(18),
    )
    return _new_page(request, session, form)


@router.post("/complaints/new")
def add(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    who: ComplaintHandler,
    form: Annotated[NewForm, Form()],
) -> Response:
    # The nonce is made when the form is shown: posting the same form twice opens one complaint.
    nonce = form.nonce if NONCE.match(form.nonce) else secrets.token_urlsafe(18)
    try:
        person_id = form_id(form.person_id, what="person")
    except BadId as exc:
        return _new_page(request, session, form, 422, errors={"person_id": str(exc)})
    new = service.NewComplaint(
        body=form.body,
        source=ComplaintSource.form.value,
        source_id=f"{who.user_id}:{nonce}",
        received_at=utcnow(),
        email=form.email or None,
        name=form.name,
        person_id=person_id,
        subject=form.subject,
        channel=form.channel if form.channel in CHANNELS else "",
        priority=form.priority or None,
        created_by_id=who.user_id,
    )
    try:
        complaint, _ = service.open_complaint(session, new=new, settings=settings)
    except service.ComplaintError as exc:
        session.rollback()
        return _new_page(
            request, session, form.model_copy(update={"nonce": nonce}), 422, errors={exc.field: exc.message}
        )
    return RedirectResponse(f"/complaints/{complaint.id}?done=opened", status_code=303)


DONE_WORDS = {
    "opened": "Complaint recorded. Its clocks are running.",
    "assigned": "Assignment saved.",
    "priority": "Priority changed; the clocks still running were recomputed.",
    "resolved": "Resolved. What was done is recorded.",
}


def _staff(session: Session) -> list[User]:
    return list(session.scalars(select(User).where(User.active.is_(True)).order_by(User.name, User.email)))


def _detail_page(
    request: Request,
    session: Session,
    settings: Settings,
    who: Principal,
    complaint: Complaint,
    status: int = 200,
    **extra: Any,
) -> Response:
    now = utcnow()
    timers = timers_for(complaint, now=now, settings=settings)
    assignee = session.get(User, complaint.assignee_id) if complaint.assignee_id else None
    context = {
        "nav": "complaints",
        "complaint": complaint,
        "person": session.get(Person, complaint.person_id),
        "assignee": assignee,
        "timers": timers,
        "state": worst_state(timers),
        "log": log_json(session, complaint.id),
        "channels": CHANNELS,
        "priorities": [p.value for p in Priority],
        "staff": _staff(session) if who.role != Role.agent else [],
        "may_take": complaint.assignee_id is None and complaint.status != "resolved",
        **extra,
    }
    return render(request, "complaints/detail.html", context, status_code=status)


def _visible(session: Session, complaint_id: int, who: Principal) -> Complaint:
    try:
        return service.get_visible(session, complaint_id=complaint_id, user_id=who.user_id, role=who.role)
    except service.ComplaintNotFound as exc:
        raise HTTPException(404, str(exc)) from None


@router.get("/complaints/{complaint_id:int}")
def detail(
    request: Request,
    complaint_id: int,
    session: DbSession,
    settings: AppSettings,
    who: ComplaintHandler,
    done: str = "",
) -> Response:
    complaint = _visible(session, complaint_id, who)
    return _detail_page(request, session, settings, who, complaint, flash=DONE_WORDS.get(done))


@router.post("/complaints/{complaint_id:int}/assign")
def assign(
    request: Request,
    complaint_id: int,
    session: DbSession,
    settings: AppSettings,
    who: ComplaintHandler,
    assignee_id: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    complaint = _visible(session, complaint_id, who)
    try:
        target = form_id(assignee_id, what="member of staff")
    except BadId as exc:
        return _detail_page(request, session, settings, who, complaint, 422, errors={"assignee_id": str(exc)})
    try:
        service.assign(
            session, complaint_id=complaint.id, assignee_id=target, by_user_id=who.user_id, role=who.role
        )
    except service.ComplaintError as exc:
        session.rollback()
        complaint = _visible(session, complaint_id, who)
        return _detail_page(request, session, settings, who, complaint, 422, errors={exc.field: exc.message})
    try:
        _visible(session, complaint_id, who)
    except HTTPException:  # handed to someone outside the caller's view: back to the inbox
        return RedirectResponse(f"/complaints?moved={complaint_id}", status_code=303)
    return RedirectResponse(f"/complaints/{complaint_id}?done=assigned", status_code=303)


@router.post("/complaints/{complaint_id:int}/priority")
def change_priority(
    request: Request,
    complaint_id: int,
    session: DbSession,
    settings: AppSettings,
    who: ComplaintHandler,
    priority: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    complaint = _visible(session, complaint_id, who)
    try:
        service.set_priority(
            session, complaint_id=complaint.id, priority=priority, by_user_id=who.user_id, settings=settings
        )
    except service.ComplaintError as exc:
        session.rollback()
        complaint = _visible(session, complaint_id, who)
        return _detail_page(request, session, settings, who, complaint, 422, errors={exc.field: exc.message})
    return RedirectResponse(f"/complaints/{complaint_id}?done=priority", status_code=303)


@router.post("/complaints/{complaint_id:int}/resolve")
def resolve(
    request: Request,
    complaint_id: int,
    session: DbSession,
    settings: AppSettings,
    who: ComplaintHandler,
    resolution: Annotated[str, Form(max_length=service.MAX_BODY)] = "",
) -> Response:
    complaint = _visible(session, complaint_id, who)
    try:
        service.resolve(
            session,
            complaint_id=complaint.id,
            resolution=resolution,
            by_user_id=who.user_id,
            now=utcnow(),
            settings=settings,
        )
    except service.ComplaintError as exc:
        session.rollback()
        complaint = _visible(session, complaint_id, who)
        return _detail_page(
            request,
            session,
            settings,
            who,
            complaint,
            422,
            errors={exc.field: exc.message},
            resolution=resolution,
        )
    return RedirectResponse(f"/complaints/{complaint_id}?done=resolved", status_code=303)
