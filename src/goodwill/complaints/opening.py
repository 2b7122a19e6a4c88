"""Opening complaints, from any source: checked fields, the person, the ``complaint`` event, the clocks.

``open_complaint`` is idempotent by (source, source_id), also when two requests race: the loser
finds the winner's complaint. ``open_for_events`` opens one per ``complaint`` event. Import these
from ``goodwill.complaints.service``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from goodwill.complaints.model import Complaint, ComplaintSource, ComplaintStatus, Priority
from goodwill.complaints.records import add_log, clocks_for, refresh_bank
from goodwill.config import Settings
from goodwill.db import MAX_ID, among, utcnow
from goodwill.events.importers.parsing import RowError, check_email
from goodwill.events.model import Event
from goodwill.events.service import NewEvent, record_event
from goodwill.people.model import Person, PersonKind
from goodwill.people.service import PersonRecord, resolve_people
from goodwill.team.model import User

MAX_BODY = 20_000
MAX_SUBJECT = 300
MAX_CHANNEL = 40
MAX_NAME = 200
MAX_SOURCE_ID = 200  # the event's source_id is "<source>:<source_id>" in 200 characters
CLOCK_SKEW = timedelta(minutes=5)  # a sender's clock a little ahead is not "in the future"
# Before this, a received_at is a typo (1970 from an empty field), not a complaint to count clocks for.
EARLIEST_RECEIVED = datetime(2000, 1, 1, tzinfo=UTC)


class ComplaintError(ValueError):
    """Bad input for a complaint; ``field`` names what to fix."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class NewComplaint:
    body: str
    source: str
    source_id: str
    received_at: datetime
    email: str | None = None
    name: str = ""
    person_id: int | None = None
    subject: str = ""
    channel: str = "email"
    priority: str | None = None
    assignee_id: int | None = None
    created_by_id: int | None = None


@dataclass(frozen=True)
class _Checked:
    source_id: str
    body: str
    subject: str
    channel: str
    email: str | None
    name: str
    priority: str


def without_nul(text: str) -> str:
    """PostgreSQL text cannot hold NUL characters, and no person typed one: they are dropped."""
    return text.replace("\x00", "")


def _clean_strings(new: NewComplaint) -> NewComplaint:
    return replace(
        new,
        body=without_nul(new.body or ""),
        source_id=without_nul(new.source_id or ""),
        email=without_nul(new.email) if new.email is not None else None,
        name=without_nul(new.name or ""),
        subject=without_nul(new.subject or ""),
        channel=without_nul(new.channel or ""),
        priority=without_nul(new.priority) if new.priority is not None else None,
    )


def active_user(session: Session, user_id: int, *, field: str) -> User:
    user = session.get(User, user_id) if 1 <= user_id <= MAX_ID else None
    if user is None or not user.active:
        raise ComplaintError(field, f"no active member of staff with id {user_id}")
    return user


def check_priority(priority: str | None, settings: Settings) -> str:
    if priority is None or not priority.strip():
        return settings.complaints.default_priority
    clean = priority.strip().lower()
    if clean not in Priority.__members__:
        raise ComplaintError("priority", f"unknown priority {priority!r}; use urgent, high, normal or low")
    return clean


def _source_id(new: NewComplaint) -> str:
    if new.source not in ComplaintSource.__members__:
        raise ComplaintError("source", f"unknown source {new.source!r}")
    source_id = (new.source_id or "").strip()
    if not source_id:
        raise ComplaintError("source_id", "a source_id is needed so a retry does not open it twice")
    room = MAX_SOURCE_ID - len(new.source) - 1
    if len(source_id) > room:
        raise ComplaintError("source_id", f"at most {room} characters")
    return source_id


def _who(session: Session, new: NewComplaint) -> tuple[str | None, str]:
    """The email (checked) and name; someone must be named: an email, a person or (staff) a name."""
    email = None
    if new.email and new.email.strip():
        try:
            email = check_email(new.email)
        except RowError as exc:
            raise ComplaintError("email", str(exc)) from None
    name = " ".join((new.name or "").split())
    if len(name) > MAX_NAME:
        raise ComplaintError("name", f"at most {MAX_NAME} characters")
    if new.person_id is not None:
        if not 1 <= new.person_id <= MAX_ID or session.get(Person, new.person_id) is None:
            raise ComplaintError("person_id", f"no person with id {new.person_id}")
    elif email is None and not (name and new.source == ComplaintSource.form):
        field = "name" if new.source == ComplaintSource.form else "email"
        raise ComplaintError(
            field, "who complained? an email (or, on the staff form, at least a name) is needed"
        )
    return email, name


def _checked(session: Session, new: NewComplaint, settings: Settings) -> _Checked:
    """Every field checked before anything is written; the first problem found is raised."""
    source_id = _source_id(new)
    body = (new.body or "").strip()
    if not body:
        raise ComplaintError("body", "what they said is needed: their own words")
    if len(body) > MAX_BODY:
        raise ComplaintError("body", f"at most {MAX_BODY} characters")
    if new.received_at.tzinfo is None:
        raise ComplaintError("received_at", "needs a time zone")
    if new.received_at > utcnow() + CLOCK_SKEW:
        raise ComplaintError("received_at", "is in the future")
    if new.received_at < EARLIEST_RECEIVED:
        raise ComplaintError("received_at", "is before 2000-01-01; check the date")
    subject = " ".join((new.subject or "").split())
    if len(subject) > MAX_SUBJECT:
        raise ComplaintError("subject", f"at most {MAX_SUBJECT} characters")
    channel = (new.channel or "").strip().lower()
    if not channel or len(channel) > MAX_CHANNEL:
        raise ComplaintError("channel", f"a channel of 1 to {MAX_CHANNEL} characters is needed")
    email, name = _who(session, new)
    if new.assignee_id is not None:
        active_user(session, new.assignee_id, field="assignee_id")
    priority = check_priority(new.priority, settings)
    return _Checked(source_id, body, subject, channel, email, name, priority)


def _existing(session: Session, source: str, source_id: str) -> Complaint | None:
    return session.scalar(
        select(Complaint).where(Complaint.source == source, Complaint.source_id == source_id.strip())
    )


def open_complaint(session: Session, *, new: NewComplaint, settings: Settings) -> tuple[Complaint, bool]:
    """Open a complaint once per (source, source_id); returns it and whether it is new.

    The person is matched by email (an unknown email becomes a prospect), the ``complaint`` event
    is recorded and the bank refreshed, all in the caller's transaction.
    """
    new = _clean_strings(new)
    existing = _existing(session, new.source, new.source_id)
    if existing is not None:
        return existing, False
    clean = _checked(session, new, settings)
    try:
        with session.begin_nested():  # a concurrent twin may win; then this one opens nothing
            complaint = _insert(session, new, clean, settings)
    except IntegrityError:
        existing = _existing(session, new.source, clean.source_id)
        if existing is None:
            raise
        return existing, False
    refresh_bank(session, person_ids=[complaint.person_id], settings=settings)
    return complaint, True


def _insert(session: Session, new: NewComplaint, clean: _Checked, settings: Settings) -> Complaint:
    person_id = new.person_id
    if person_id is None:
        record = PersonRecord(name=clean.name, email=clean.email, kind=PersonKind.prospect.value)
        [person_id], _ = resolve_people(session, [record], source="complaints")
    event, _ = record_event(
        session,
        NewEvent(
            person_id=person_id,
            kind="complaint",
            occurred_at=new.received_at,
            source="complaints",
            source_id=f"{new.source}:{clean.source_id}",
            channel=clean.channel,
            text=clean.body,
        ),
    )
    complaint = new_row(
        event=event,
        source=new.source,
        source_id=clean.source_id,
        subject=clean.subject,
        body=clean.body,
        channel=clean.channel,
        priority=clean.priority,
        settings=settings,
    )
    complaint.assignee_id = new.assignee_id
    complaint.created_by_id = new.created_by_id
    session.add(complaint)
    session.flush()
    by = new.created_by_id
    add_log(session, complaint_id=complaint.id, action="received", user_id=by, detail=f"via {new.source}")
    if new.assignee_id is not None:
        assignee = session.get(User, new.assignee_id)
        detail = f"to {assignee.email if assignee else new.assignee_id}"
        add_log(session, complaint_id=complaint.id, action="assigned", user_id=by, detail=detail)
    return complaint


def new_row(
    *,
    event: Event,
    source: str,
    source_id: str,
    subject: str,
    body: str,
    channel: str,
    priority: str,
    settings: Settings,
) -> Complaint:
    """The complaint for ``event``, received when the event happened, with its clocks set."""
    first_due, resolution_due = clocks_for(event.occurred_at, priority, settings)
    return Complaint(
        person_id=event.person_id,
        event_id=event.id,
        source=source,
        source_id=source_id,
        channel=channel,
        subject=subject,
        body=body,
        priority=priority,
        status=ComplaintStatus.open.value,
        received_at=event.occurred_at,
        first_response_due_at=first_due,
        resolution_due_at=resolution_due,
    )


def open_for_events(session: Session, *, event_ids: Sequence[int], settings: Settings) -> int:
    """Open a complaint for each ``complaint`` event among ``event_ids`` that has none yet.

    One query finds them, so it costs next to nothing when none of the ids is a complaint.
    A complaint that arrives after both its clocks have already run out (history being imported)
    is opened but not charged as breached: the business never had the chance to answer in time.
    """
    if not event_ids:
        return 0
    linked = exists().where(Complaint.event_id == Event.id)
    events = session.scalars(
        select(Event)
        .where(among(session, Event.id, list(event_ids)), Event.kind == "complaint", ~linked)
        .order_by(Event.id)
    ).all()
    now = utcnow()
    for event in events:
        complaint = new_row(
            event=event,
            source=ComplaintSource.events.value,
            source_id=str(event.id),
            subject="",
            body=event.text or "",
            channel=(event.channel or "email")[:MAX_CHANNEL],
            priority=settings.complaints.default_priority,
            settings=settings,
        )
        historic = complaint.resolution_due_at <= now
        if historic:
            complaint.first_response_breached_at = complaint.first_response_due_at
            complaint.resolution_breached_at = complaint.resolution_due_at
        session.add(complaint)
        session.flush()
        detail = f"from event {event.id} ({event.source})"
        if historic:
            detail += "; it arrived after its clocks had run out, so no breach is charged"
        add_log(session, complaint_id=complaint.id, action="received", detail=detail)
    return len(events)
