"""The people pages: the searchable list and one person's profile."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from goodwill.bank.config import load_bank_config
from goodwill.bank.statements import hide_details, statement
from goodwill.complaints.visibility import HIDDEN_TEXT, complaint_event_ids, hidden_event_ids
from goodwill.db import utcnow
from goodwill.events.service import timeline
from goodwill.insights.views import person_context
from goodwill.loyalty.pages import person_loyalty
from goodwill.people import service as people
from goodwill.people.model import Channel, PersonKind
from goodwill.web.deps import AppSettings, DbSession, PeopleReader, PeopleWriter, run_loyalty
from goodwill.web.queries import purchase_totals_for
from goodwill.web.templating import render

router = APIRouter(include_in_schema=False)
PER_PAGE = 25
TIMELINE_PAGE = 20


def is_fragment_request(request: Request) -> bool:
    """An HTMX swap wants only the fragment; a history restore wants the whole page."""
    return bool(request.headers.get("HX-Request")) and not request.headers.get("HX-History-Restore-Request")


@router.get("/people")
def people_list(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    _: PeopleReader,
    q: Annotated[str, Query(max_length=200)] = "",
    kind: str = "",
    page: Annotated[int, Query(ge=1)] = 1,
) -> Response:
    kind_filter = kind if kind in PersonKind.__members__ else None
    rows, total = people.search_people(session, query=q, kind=kind_filter, page=page, per_page=PER_PAGE)
    totals = purchase_totals_for(session, [p.id for p in rows], currency=settings.business.currency)

    def page_url(number: int) -> str:
        return "/people?" + urlencode({"q": q, "kind": kind_filter or "", "page": number})

    context = {
        "nav": "people",
        "people": rows,
        "totals": totals,
        "total": total,
        "q": q,
        "kind": kind_filter or "",
        "page": page,
        "first": (page - 1) * PER_PAGE + 1 if rows else 0,
        "last": (page - 1) * PER_PAGE + len(rows),
        "prev_url": page_url(page - 1) if page > 1 else None,
        "next_url": page_url(page + 1) if page * PER_PAGE < total else None,
    }
    template = "people/_results.html" if is_fragment_request(request) else "people/list.html"
    return render(request, template, context)


@router.get("/people/{person_id}")
def profile(
    request: Request, person_id: int, session: DbSession, settings: AppSettings, who: PeopleReader
) -> Response:
    person, totals = people.person_with_totals(session, person_id, currency=settings.business.currency)
    events, next_before_id = timeline(session, person_id, limit=TIMELINE_PAGE)
    bank = statement(
        session=session, person_ref=person_id, config=load_bank_config(settings), tz=settings.business.tz
    )
    # Words of complaints this viewer may not see are hidden on the timeline and the statement alike.
    hidden = hidden_event_ids(
        session,
        user_id=who.user_id,
        role=who.role,
        event_ids=[e.id for e in events]
        + complaint_event_ids((line.event_id, line.kind) for line in bank.lines),
    )
    consent_history = people.consent_history(session, person_id)
    context = {
        "nav": "people",
        "person": person,
        "emails": people.emails(session, person_id),
        "totals": totals,
        "facts": people.facts(session, person_id),
        "consent": people.consent_in_force(consent_history),
        "consent_history": consent_history,
        "channels": [c.value for c in Channel],
        "events": events,
        "hidden_event_ids": hidden,
        "hidden_text": HIDDEN_TEXT,
        "next_before_id": next_before_id,
        "statement": hide_details(bank, hidden, HIDDEN_TEXT),
        **person_context(session, person_id),
        **person_loyalty(session, person_id=person_id, settings=settings, now=utcnow()),
        "may_run_loyalty": who.role in run_loyalty.roles,
    }
    return render(request, "people/profile.html", context)


@router.get("/people/{person_id}/timeline")
def more_timeline(
    request: Request, person_id: int, session: DbSession, who: PeopleReader, before_id: int | None = None
) -> Response:
    person = people.get_person(session, person_id)
    events, next_before_id = timeline(session, person_id, limit=TIMELINE_PAGE, before_id=before_id)
    context = {
        "person": person,
        "events": events,
        "hidden_event_ids": hidden_event_ids(
            session, user_id=who.user_id, role=who.role, event_ids=(e.id for e in events)
        ),
        "hidden_text": HIDDEN_TEXT,
        "next_before_id": next_before_id,
    }
    return render(request, "people/_timeline_items.html", context)


@router.post("/people/{person_id}/facts")
def add_fact(
    request: Request,
    person_id: int,
    session: DbSession,
    principal: PeopleWriter,
    text: Annotated[str, Form()] = "",
) -> Response:
    person = people.get_person(session, person_id)
    error = None
    try:
        people.add_fact(session, person_id=person_id, text=text, source="staff", user_id=principal.user_id)
    except ValueError as exc:
        error = str(exc).capitalize() + "."
    if not is_fragment_request(request):
        return RedirectResponse(f"/people/{person_id}#facts", status_code=303)
    context = {
        "person": person,
        "facts": people.facts(session, person_id),
        "fact_error": error,
        "fact_text": text if error else "",
    }
    # 200 even for a refused fact: HTMX swaps only successful answers, and the message belongs in the form.
    return render(request, "people/_facts.html", context)
