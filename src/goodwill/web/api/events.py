"""``POST /api/v1/events``: record something that happened with a person."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from fastapi.responses import Response
from sqlalchemy.orm import Session

from goodwill.bank.config import load_bank_config
from goodwill.bank.service import refresh_people
from goodwill.config import Settings
from goodwill.events.model import Event
from goodwill.events.service import NewEvent, record_event
from goodwill.money import AmountError, parse_amount
from goodwill.people import service as people
from goodwill.people.model import Person, PersonKind
from goodwill.people.service import PersonRecord
from goodwill.team.service import UserNotFound, get_user
from goodwill.web.api.schemas import EventIn, field_error
from goodwill.web.deps import AppSettings, DbSession, PeopleWriter
from goodwill.web.idempotency import Idempotent
from goodwill.web.queries import event_dict

router = APIRouter(tags=["events"])
SOURCE = "api"


def create_event(session: Session, body: EventIn, *, settings: Settings) -> tuple[Event, bool]:
    """Store one event from the API: the one place API events are created (returns it and whether it is new).

    An unknown email becomes a prospect, or a customer when the event is a purchase.
    """
    is_purchase = body.kind == "purchase"
    if body.person_id is not None:
        if session.get(Person, body.person_id) is None:
            field_error("person_id", f"no person with id {body.person_id}")
        person_id = body.person_id
    else:
        kind = PersonKind.customer if is_purchase else PersonKind.prospect
        record = PersonRecord(name=body.name, email=body.email, kind=kind.value)
        [person_id], _ = people.resolve_people(session, [record], source=SOURCE)
    amount_minor: int | None = None
    currency: str | None = None
    if body.amount is not None:
        currency = body.currency or settings.business.currency
        try:
            amount_minor = parse_amount(body.amount, currency)
        except AmountError as exc:
            field_error("amount", str(exc))
    elif body.currency is not None:
        field_error("amount", "a currency was given without an amount")
    staff_id: int | None = None
    if body.staff_email:
        try:
            staff_id = get_user(session=session, email=body.staff_email).id
        except UserNotFound as exc:
            field_error("staff_email", str(exc))
    event, created = record_event(
        session,
        NewEvent(
            person_id=person_id,
            kind=body.kind,
            occurred_at=body.occurred_at,
            source=SOURCE,
            # Without a source_id the event cannot be matched on retry; the Idempotency-Key still can.
            source_id=body.source_id or f"auto:{uuid.uuid4()}",
            amount_minor=amount_minor,
            currency=currency,
            channel=body.channel,
            staff_id=staff_id,
            text=body.text,
        ),
    )
    if created and is_purchase:
        people.mark_customers(session, [person_id])
    if created:
        refresh_people(
            session=session,
            person_ids=[person_id],
            config=load_bank_config(settings),
            currency=settings.business.currency,
        )
    return event, created


@router.post(
    "/events", status_code=201, responses={200: {"description": "This source_id was already stored"}}
)
def add_event(
    body: EventIn, session: DbSession, _: PeopleWriter, idem: Idempotent, settings: AppSettings
) -> Response:
    event, created = create_event(session, body, settings=settings)
    return idem.respond(201 if created else 200, event_dict(event))
