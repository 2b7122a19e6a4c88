"""``/api/v1/complaints``: open a complaint, list and read the ones you may see, assign, prioritise, resolve.

A complaint the caller may not see answers 404, as one that does not exist. Bad fields are 422
naming the field; nothing of a refused request is kept. ``POST /complaints`` is idempotent by the
caller's ``source_id`` (and by an ``Idempotency-Key`` header, like every API write); a ``source_id``
already used for a complaint the caller may not see is a 409 that shows nothing of it.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query
from fastapi.responses import Response
from pydantic import Field, field_validator
from sqlalchemy.orm import Session

from goodwill.complaints import service
from goodwill.complaints.access import ComplaintHandler
from goodwill.complaints.inbox import InboxFilterError, list_visible
from goodwill.complaints.model import Complaint, ComplaintSource, Priority
from goodwill.complaints.present import complaint_json, log_json
from goodwill.config import Settings
from goodwill.db import utcnow
from goodwill.people.model import Person
from goodwill.web.api.schemas import Strict, _email, field_error
from goodwill.web.auth import Principal
from goodwill.web.deps import AppSettings, DbSession
from goodwill.web.idempotency import Idempotent, json_response

router = APIRouter(prefix="/complaints", tags=["complaints"])
ComplaintId = Annotated[int, Path(ge=1, le=service.MAX_ID, description="The complaint's id.")]
DUPLICATE = {"detail": "a complaint with this source_id already exists", "code": "duplicate"}


class ComplaintIn(Strict):
    body: str = Field(min_length=1, max_length=service.MAX_BODY, description="Their own words, as received.")
    source_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=190,
        description="Your id for it: a retry with it opens nothing new.",
    )
    email: str | None = Field(default=None, max_length=320)
    name: str = Field(default="", max_length=200, description="Used when the email is new.")
    person_id: int | None = Field(default=None, ge=1, le=service.MAX_ID)
    subject: str = Field(default="", max_length=service.MAX_SUBJECT)
    channel: str = Field(default="email", min_length=1, max_length=service.MAX_CHANNEL)
    priority: Priority | None = None
    assignee_id: int | None = Field(
        default=None, ge=1, le=service.MAX_ID, description="Agents may name only themselves."
    )
    received_at: datetime | None = Field(
        default=None, description="ISO 8601 with an offset; now if left out."
    )

    @field_validator("email")
    @classmethod
    def _valid_email(cls, value: str | None) -> str | None:
        return _email(value)

    @field_validator("received_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and (value.tzinfo is None or value.utcoffset() is None):
            raise ValueError("received_at needs a UTC offset (e.g. 2025-05-01T14:30:00+02:00 or ...Z)")
        return value


class AssignIn(Strict):
    assignee_id: int | None = Field(
        ge=1, le=service.MAX_ID, description="A member of staff's id; null puts it back in the queue."
    )


class PriorityIn(Strict):
    priority: Priority


class ResolveIn(Strict):
    resolution: str = Field(
        min_length=1, max_length=service.MAX_BODY, description="What was done to put it right."
    )


def _source_id(body: ComplaintIn, user_id: int, key: str | None) -> str:
    if body.source_id:
        return body.source_id
    if key is not None:  # the same key from the same caller is the same complaint
        return f"key:{user_id}:{hashlib.sha256(key.encode()).hexdigest()[:40]}"
    return f"auto:{uuid.uuid4()}"


def _full(session: Session, complaint: Complaint, settings: Settings) -> dict[str, Any]:
    person = session.get(Person, complaint.person_id)
    data = complaint_json(complaint, now=utcnow(), settings=settings, person=person)
    data["log"] = log_json(session, complaint.id)
    return data


def _visible(session: Session, complaint_id: int, who: Principal) -> Complaint:
    try:
        return service.get_visible(session, complaint_id=complaint_id, user_id=who.user_id, role=who.role)
    except service.ComplaintNotFound as exc:
        raise HTTPException(404, str(exc)) from None


@router.post(
    "",
    status_code=201,
    responses={
        200: {"description": "This source_id was already opened"},
        409: {"description": "This source_id was used for a complaint you may not see"},
    },
)
def open_complaint(
    body: ComplaintIn, session: DbSession, settings: AppSettings, who: ComplaintHandler, idem: Idempotent
) -> Response:
    new = service.NewComplaint(
        **body.model_dump(exclude={"source_id", "received_at", "priority"}),
        priority=body.priority.value if body.priority else None,
        source=ComplaintSource.api.value,
        source_id=_source_id(body, who.user_id, idem.key),
        received_at=body.received_at or utcnow(),
        created_by_id=who.user_id,
    )
    try:
        service.check_new_assignee(role=who.role, user_id=who.user_id, assignee_id=body.assignee_id)
        complaint, created = service.open_complaint(session, new=new, settings=settings)
    except service.ComplaintError as exc:
        field_error(exc.field, exc.message)
    if not created and not service.may_see(
        session, complaint_id=complaint.id, user_id=who.user_id, role=who.role
    ):
        return idem.respond(409, DUPLICATE)
    return idem.respond(201 if created else 200, _full(session, complaint, settings))


@router.get("")
def inbox(
    session: DbSession,
    settings: AppSettings,
    who: ComplaintHandler,
    scope: str = "all",
    status: str | None = None,
    priority: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> dict[str, Any]:
    """Due first. ``scope``: all, mine, team, unassigned; ``status``: active, open, responded, resolved."""
    try:
        rows = list_visible(
            session,
            user_id=who.user_id,
            role=who.role,
            scope=scope,
            status=status,
            priority=priority,
            limit=limit,
        )
    except InboxFilterError as exc:
        raise HTTPException(422, f"{exc.field}: {exc.message}") from None
    now = utcnow()
    items = []
    for row in rows:
        item = complaint_json(row.complaint, now=now, settings=settings)
        item["person"] = {"id": row.complaint.person_id, "name": row.person_name, "email": row.person_email}
        item["assignee"] = row.assignee_name
        items.append(item)
    return {"items": items}


@router.get("/{complaint_id:int}")
def show(
    complaint_id: ComplaintId, session: DbSession, settings: AppSettings, who: ComplaintHandler
) -> dict[str, Any]:
    return _full(session, _visible(session, complaint_id, who), settings)


@router.post("/{complaint_id:int}/assign")
def assign(
    complaint_id: ComplaintId,
    body: AssignIn,
    session: DbSession,
    settings: AppSettings,
    who: ComplaintHandler,
) -> Response:
    """Agents may take an unassigned complaint for themselves; managers and admins assign anyone active."""
    _visible(session, complaint_id, who)
    try:
        found = service.assign(
            session,
            complaint_id=complaint_id,
            assignee_id=body.assignee_id,
            by_user_id=who.user_id,
            role=who.role,
        )
    except service.ComplaintError as exc:
        field_error(exc.field, exc.message)
    return json_response(200, _full(session, found, settings))


@router.post("/{complaint_id:int}/priority")
def set_priority(
    complaint_id: ComplaintId,
    body: PriorityIn,
    session: DbSession,
    settings: AppSettings,
    who: ComplaintHandler,
) -> Response:
    """The clocks that still run are recomputed from when the complaint arrived."""
    _visible(session, complaint_id, who)
    found = service.set_priority(
        session,
        complaint_id=complaint_id,
        priority=body.priority.value,
        by_user_id=who.user_id,
        settings=settings,
    )
    return json_response(200, _full(session, found, settings))


@router.post("/{complaint_id:int}/resolve")
def resolve(
    complaint_id: ComplaintId,
    body: ResolveIn,
    session: DbSession,
    settings: AppSettings,
    who: ComplaintHandler,
) -> Response:
    """Record what was done; resolving again changes nothing."""
    _visible(session, complaint_id, who)
    try:
        found = service.resolve(
            session,
            complaint_id=complaint_id,
            resolution=body.resolution,
            by_user_id=who.user_id,
            now=utcnow(),
            settings=settings,
        )
    except service.ComplaintError as exc:
        field_error(exc.field, exc.message)
    return json_response(200, _full(session, found, settings))
