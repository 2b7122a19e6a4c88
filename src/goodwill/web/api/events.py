"""``POST /api/v1/events``: record something that happened with a person."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from sqlalchemy.orm import Session

from goodwill.bank.config import load_bank_config
from goodwill.config import Settings
from goodwill.events.intake import EventFieldError, IncomingEvent, record_incoming
from goodwill.events.model import Event
from goodwill.web.api.schemas import EventIn, field_error
from goodwill.web.deps import AppSettings, DbSession, PeopleWriter
from goodwill.web.idempotency import Idempotent
from goodwill.web.queries import event_dict

router = APIRouter(tags=["events"])
SOURCE = "api"


def create_event(session: Session, body: EventIn, *, settings: Settings) -> tuple[Event, bool]:
    """The one place API events are created: the intake service, its field errors as 422s."""
    try:
        return record_incoming(
            session=session,
            incoming=IncomingEvent(**body.model_dump()),
            source=SOURCE,
            currency=settings.business.currency,
            bank=load_bank_config(settings),
            settings=settings,
        )
    except EventFieldError as exc:
        field_error(exc.field, str(exc))


@router.post(
    "/events", status_code=201, responses={200: {"description": "This source_id was already stored"}}
)
def add_event(
    body: EventIn, session: DbSession, _: PeopleWriter, idem: Idempotent, settings: AppSettings
) -> Response:
    event, created = create_event(session, body, settings=settings)
    return idem.respond(201 if created else 200, event_dict(event))
