"""``/api/v1/people``: look people up, add them, their facts and their consent; export or erase them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import Field
from sqlalchemy import select

from goodwill.complaints.visibility import HIDDEN_TEXT, hidden_event_ids
from goodwill.db import MAX_ID
from goodwill.events.service import timeline
from goodwill.people import service as people
from goodwill.people.model import Fact, PersonKind
from goodwill.people.privacy import ErasureRefused, erase_person, export_person
from goodwill.people.service import PersonRecord
from goodwill.web.api.schemas import MAX_PAGE, ConsentIn, FactIn, PersonIn, Strict, field_error
from goodwill.web.deps import AppSettings, DbSession, PeopleReader, PeopleWriter, PrivacyAdmin
from goodwill.web.idempotency import Idempotent
from goodwill.web.queries import event_dict

router = APIRouter(prefix="/people", tags=["people"])


class ErasureIn(Strict):
    reason: str = Field(min_length=1, max_length=500)


def person_or_404(session: DbSession, person_id: int) -> Any:
    # get_person raises PersonNotFound, which the app turns into a 404 with a JSON message. An id no
    # row can have (past 64 bits) names nobody too: it is never sent to the database (which would fail).
    if not 0 <= person_id <= MAX_ID:
        raise people.PersonNotFound(f"no person with id or email '{person_id}'")
    return people.get_person(session, person_id)


@router.get("")
def list_people(
    session: DbSession,
    _: PeopleReader,
    q: str = "",
    kind: PersonKind | None = None,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    per_page: Annotated[int, Query(ge=1, le=200)] = 25,
) -> dict[str, Any]:
    rows, total = people.search_people(
        session, query=q, kind=kind.value if kind else None, page=page, per_page=per_page
    )
    items = [{"id": p.id, "name": p.name, "email": p.email, "kind": p.kind} for p in rows]
    return {"total": total, "page": page, "per_page": per_page, "items": items}


@router.get("/{person_id}")
def show_person(person_id: int, session: DbSession, _: PeopleReader, settings: AppSettings) -> dict[str, Any]:
    person = person_or_404(session, person_id)
    return people.person_summary(session, person, currency=settings.business.currency)


@router.post("", status_code=201, responses={200: {"description": "A person with this email existed"}})
def add_person(
    body: PersonIn, session: DbSession, principal: PeopleWriter, idem: Idempotent, settings: AppSettings
) -> Response:
    record = PersonRecord(**body.model_dump(exclude={"kind", "preferred_channel", "consent"}))
    record.kind = body.kind.value
    record.preferred_channel = body.preferred_channel.value if body.preferred_channel else None
    record.consent = {channel.value: granted for channel, granted in body.consent.items()}
    person, created = people.create_person(session, record, source="api")
    summary = people.person_summary(session, person, currency=settings.business.currency)
    return idem.respond(201 if created else 200, summary)


@router.post(
    "/{person_id}/facts",
    status_code=201,
    responses={200: {"description": "Already on file"}},
)
def add_fact(
    person_id: int, body: FactIn, session: DbSession, principal: PeopleWriter, idem: Idempotent
) -> Response:
    person_or_404(session, person_id)
    clean = " ".join(body.text.split())
    known = session.scalar(select(Fact.id).where(Fact.person_id == person_id, Fact.text == clean))
    fact = people.add_fact(
        session, person_id=person_id, text=clean, source="staff", user_id=principal.user_id
    )
    payload = {"id": fact.id, "text": fact.text, "source": fact.source, "created_at": fact.created_at}
    return idem.respond(200 if known else 201, payload)


@router.post("/{person_id}/consent", status_code=201)
def change_consent(
    person_id: int, body: ConsentIn, session: DbSession, principal: PeopleWriter, idem: Idempotent
) -> Response:
    person_or_404(session, person_id)
    change = people.record_consent(
        session,
        person_id=person_id,
        channel=body.channel.value,
        granted=body.granted,
        source=f"staff:{principal.email}"[:80],
        note=body.note,
    )
    payload = {
        "id": change.id,
        "channel": change.channel,
        "granted": change.granted,
        "source": change.source,
        "note": change.note,
        "at": change.at,
    }
    return idem.respond(201, payload)


@router.get("/{person_id}/events")
def person_events(
    person_id: int,
    session: DbSession,
    principal: PeopleReader,
    before_id: int | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    person_or_404(session, person_id)
    if before_id is not None:  # a cursor past any id an event can have means "from the newest"
        before_id = max(0, min(before_id, MAX_ID))
    rows, next_before_id = timeline(session, person_id, limit=limit, before_id=before_id)
    ids = [e.id for e in rows]
    hidden = hidden_event_ids(session, user_id=principal.user_id, role=principal.role, event_ids=ids)
    items = [event_dict(e, hidden_text=HIDDEN_TEXT if e.id in hidden else None) for e in rows]
    return {"items": items, "next_before_id": next_before_id}


@router.get("/{ref}/export")
def export_person_data(
    ref: str, session: DbSession, _: PrivacyAdmin, settings: AppSettings, request: Request
) -> dict[str, Any]:
    currency = settings.business.currency
    secret_key = request.app.state.secret_key
    return export_person(session, person_ref=ref, currency=currency, secret_key=secret_key)


@router.post("/{ref}/erase")
def erase_person_data(
    ref: str, body: ErasureIn, session: DbSession, principal: PrivacyAdmin, idem: Idempotent, request: Request
) -> Response:
    try:
        report = erase_person(
            session,
            person_ref=ref,
            secret_key=request.app.state.secret_key,
            erased_by=f"staff:{principal.email}",
            reason=body.reason,
        )
    except ErasureRefused as exc:
        field_error("reason", str(exc))
    return idem.respond(200, report.as_dict())
