"""The call list: queued phone calls with each person's local time window, and what came of each call.

Calls are made by people, not by the worker: an approved call note is a queued ``call`` message
until someone records the outcome. ``call_list`` re-checks consent and suppression when the list
is read (a person who withdrew call consent shows as blocked, and cannot be marked done);
``mark_call`` records what happened:

- **done**: reached them; the message is sent, a ``call_made`` event goes to the bank
  (``goodwill.outbox.delivered.mark_sent_by_hand``) and the summary is kept as a ``note`` event;
- **no answer**: stays queued with a transient attempt; the ``NO_ANSWER_LIMIT``-th fails it;
- **wrong number**: failed at once (permanent);
- **asked not to be called**: failed, call consent revoked (source "asked on a call") and the
  number put on the suppression list;
- **cancel**: we decided not to call (for example a blocked row); cancelled with the reason.

The window, the state, who may be called and the CSV cells are pure functions in
``goodwill.outbox.call_rules``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, aliased

from goodwill.config import Settings
from goodwill.db import as_utc, matching, rows_changed, utcnow
from goodwill.events.service import NewEvent, record_event
from goodwill.notes.model import Note
from goodwill.outbox.call_rules import (
    BLOCKED,
    CANCEL,
    CSV_COLUMNS,
    DECLINED,
    DECLINED_SOURCE,
    DONE,
    NO_ANSWER,
    NO_ANSWER_LIMIT,
    OUTCOMES,
    STATES,
    SUMMARY_MAX,
    call_blocker,
    call_state,
    call_window,
    safe_cell,
    window_day,
)
from goodwill.outbox.delivered import OWN_SOURCE, mark_sent_by_hand
from goodwill.outbox.model import AttemptOutcome, Message, MessageAttempt, MessageStatus
from goodwill.people.model import Person
from goodwill.people.service import consents_in_force, current_consent, record_consent
from goodwill.people.suppression import normalise_phone, suppress, suppressed
from goodwill.planner.model import PlanItem
from goodwill.planner.policy import local_day, zone_for
from goodwill.team.model import User


@dataclass(frozen=True)
class CallRow:
    message_id: int
    person_id: int | None
    name: str
    phone: str
    time_zone: str
    local_now: datetime  # in their zone
    window_start: datetime  # in their zone
    window_end: datetime
    business_start: datetime  # the same window in the business's zone
    business_end: datetime
    state: str
    blocked_reason: str | None
    note_id: int | None
    note_text: str
    moment: str | None
    why_now: str  # the evidence: what happened that makes this the moment
    reason: str | None  # the plan's reason for the channel and the priority
    writer: str | None
    no_answers: int
    last_error: str | None
    queued_at: datetime

    @property
    def callable(self) -> bool:
        return self.state != BLOCKED

    @property
    def tel(self) -> str:
        return normalise_phone(self.phone)


def call_list(
    session: Session, *, day: date, settings: Settings, now: datetime | None = None
) -> list[CallRow]:
    """Queued calls due by ``day``, grouped by state (see ``STATES``), then by when their window opens."""
    now = now or utcnow()
    policy = settings.planner.policy
    business_zone = settings.business.tz
    writer = aliased(User)
    found = session.execute(
        select(Message, Person, Note, PlanItem, writer.name, writer.email)
        .outerjoin(Person, Person.id == Message.person_id)
        .outerjoin(Note, Note.id == Message.note_id)
        .outerjoin(PlanItem, PlanItem.id == Note.plan_item_id)
        .outerjoin(writer, writer.id == Note.writer_id)
        .where(Message.channel == "call", Message.status == MessageStatus.queued)
        .order_by(Message.id)
    ).all()
    person_ids = sorted({m.person_id for m, *_ in found if m.person_id is not None})
    consent = _call_consent(session, person_ids)
    phones = [p.phone for _, p, *_ in found if p is not None and p.phone]
    on_list = suppressed(session, secret_key=settings.resolved_secret_key(), kind="phone", addresses=phones)
    misses = _no_answers(session, [m.id for m, *_ in found])

    rows: list[CallRow] = []
    for message, person, note, item, writer_name, writer_email in found:
        zone_name = (person.time_zone if person is not None else None) or settings.business.timezone
        zone = zone_for(zone_name)
        their_day = window_day(day, now=now, zone=zone, business_zone=business_zone)
        due = as_utc(message.not_before) or message.created_at
        if local_day(due, zone) > their_day:
            continue
        start, end = call_window(their_day, zone, policy.contact_from_hour, policy.contact_until_hour)
        if person is None:
            blocker: str | None = "the person was erased"
        else:
            blocker = call_blocker(
                phone=person.phone,
                consent=consent.get(person.id),
                planned_as_call=item is not None and item.channel == "call",
                on_suppression_list=bool(person.phone) and person.phone in on_list,
            )
        rows.append(
            CallRow(
                message_id=message.id,
                person_id=message.person_id,
                name=(person.name if person is not None else "") or "(no name)",
                phone=(person.phone if person is not None else None) or "",
                time_zone=str(zone),
                local_now=now.astimezone(zone),
                window_start=start,
                window_end=end,
                business_start=start.astimezone(business_zone),
                business_end=end.astimezone(business_zone),
                state=BLOCKED if blocker else call_state(now, start, end),
                blocked_reason=blocker,
                note_id=message.note_id,
                note_text=message.body,
                moment=note.moment if note is not None else None,
                why_now=(note.evidence if note is not None else "") or (item.evidence if item else ""),
                reason=item.reason if item is not None else None,
                writer=(writer_name or writer_email) if (writer_name or writer_email) else None,
                no_answers=misses.get(message.id, 0),
                last_error=message.last_error,
                queued_at=message.created_at,
            )
        )
    rows.sort(key=lambda r: (STATES.index(r.state), r.window_start, r.message_id))
    return rows


def _call_consent(session: Session, person_ids: Sequence[int]) -> dict[int, bool]:
    """The call consent in force per person (the newest change); absent when never given."""
    return {pid: c["call"] for pid, c in consents_in_force(session, person_ids, channel="call").items()}


def _no_answers(session: Session, message_ids: Sequence[int]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for among in matching(session, MessageAttempt.message_id, message_ids):
        for message_id, count in session.execute(
            select(MessageAttempt.message_id, func.count())
            .where(among, MessageAttempt.error.like(f"{NO_ANSWER}%"))
            .group_by(MessageAttempt.message_id)
        ):
            counts[message_id] = int(count)
    return counts


def row_dict(row: CallRow) -> dict[str, Any]:
    """The ``calls list --json`` shape."""
    return {
        "message_id": row.message_id,
        "person_id": row.person_id,
        "name": row.name,
        "phone": row.phone,
        "time_zone": row.time_zone,
        "local_now": row.local_now.isoformat(),
        "window_start": row.window_start.isoformat(),
        "window_end": row.window_end.isoformat(),
        "business_window_start": row.business_start.isoformat(),
        "business_window_end": row.business_end.isoformat(),
        "state": row.state,
        "blocked_reason": row.blocked_reason,
        "note_id": row.note_id,
        "note": row.note_text,
        "moment": row.moment,
        "why_now": row.why_now,
        "reason": row.reason,
        "writer": row.writer,
        "no_answers": row.no_answers,
    }


def calls_csv(rows: Sequence[CallRow]) -> str:
    """The list as CSV (RFC 4180 quoting, CRLF lines), every cell safe to open in a spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        state = f"{row.state}: {row.blocked_reason}" if row.blocked_reason else row.state
        cells = (
            row.message_id,
            row.name,
            row.phone,
            row.window_start.isoformat(),
            row.window_end.isoformat(),
            row.time_zone,
            state,
            row.moment or "",
            row.why_now,
            row.reason or "",
            row.note_text,
        )
        writer.writerow([safe_cell(cell) for cell in cells])
    return out.getvalue()


class CallError(ValueError):
    """The outcome cannot be recorded; the message says why in plain words."""


class CallNotFound(LookupError):
    pass


def mark_call(
    session: Session,
    *,
    message_id: int,
    user_id: int,
    outcome: str,
    summary: str = "",
    settings: Settings,
    now: datetime | None = None,
) -> Message:
    """Record what came of a call (see the module's docstring); returns the message as it now is."""
    if outcome not in OUTCOMES:
        raise CallError(f"unknown outcome {outcome!r}; use one of: {', '.join(OUTCOMES)}")
    summary = " ".join(summary.split())[:SUMMARY_MAX]
    if outcome == CANCEL and not summary:
        raise CallError("say why the call is cancelled")
    now = now or utcnow()
    message = session.get(Message, message_id)
    if message is None or message.channel != "call":
        raise CallNotFound(f"no call {message_id}")
    if message.status != MessageStatus.queued:
        raise CallError(f"call {message_id} is already {message.status}; nothing to record")
    user = session.get(User, user_id)
    done_by = (user.email if user is not None else f"user {user_id}")[:80]
    person = session.get(Person, message.person_id) if message.person_id is not None else None
    if outcome in (DONE, NO_ANSWER):
        blocker = _blocker(session, message, person, settings)
        if blocker is not None:
            raise CallError(f"this call is blocked: {blocker}; do not call, cancel it instead")
    if outcome == DONE:
        return _done(session, message, person, user_id, done_by, summary, settings, now)
    if outcome == NO_ANSWER:
        return _no_answer(session, message, done_by, summary, now)
    if outcome == CANCEL:
        return _close(
            session,
            message,
            done_by,
            MessageStatus.cancelled,
            AttemptOutcome.cancelled,
            f"cancelled: {summary}",
            now,
        )
    error = outcome + (f": {summary}" if summary else "")
    closed = _close(session, message, done_by, MessageStatus.failed, AttemptOutcome.permanent, error, now)
    if outcome == DECLINED and person is not None:
        record_consent(
            session,
            person_id=person.id,
            channel="call",
            granted=False,
            source=DECLINED_SOURCE,
            note=summary or None,
            at=now,
        )
        if person.phone:
            suppress(
                session,
                secret_key=settings.resolved_secret_key(),
                kind="phone",
                address=person.phone,
                reason="staff",
                source=f"{DECLINED_SOURCE} (message {message.id})",
            )
    return closed


def _blocker(session: Session, message: Message, person: Person | None, settings: Settings) -> str | None:
    if person is None:
        return "the person was erased"
    state = current_consent(session, person.id).get("call")
    item_channel = session.scalar(
        select(PlanItem.channel)
        .join(Note, Note.plan_item_id == PlanItem.id)
        .where(Note.id == message.note_id)
    )
    on_list = bool(person.phone) and bool(
        suppressed(
            session, secret_key=settings.resolved_secret_key(), kind="phone", addresses=[person.phone or ""]
        )
    )
    return call_blocker(
        phone=person.phone,
        consent=None if state is None else bool(state["granted"]),
        planned_as_call=item_channel == "call",
        on_suppression_list=on_list,
    )


def _done(
    session: Session,
    message: Message,
    person: Person | None,
    user_id: int,
    done_by: str,
    summary: str,
    settings: Settings,
    now: datetime,
) -> Message:
    changed = mark_sent_by_hand(
        session,
        message_ids=[message.id],
        channel="call",
        done_by=done_by,
        provider_id=f"call:{user_id}",
        staff_id=user_id,
        at=now,
        settings=settings,
    )
    if not changed:
        raise CallError(f"call {message.id} was recorded by someone else a moment ago")
    if summary and person is not None:
        # The call_made event carries no text; what was said is kept beside it, on the timeline.
        record_event(
            session,
            NewEvent(
                person_id=person.id,
                kind="note",
                occurred_at=now,
                source=OWN_SOURCE,
                source_id=f"call-summary:{message.id}",
                channel="call",
                staff_id=user_id,
                text=f"Call summary: {summary}",
            ),
        )
    return changed[0]


def _advance(session: Session, message: Message, values: dict[str, Any]) -> Message:
    """One more attempt on a still-queued call, as a conditional update (two people, one call)."""
    result = session.execute(
        update(Message)
        .where(Message.id == message.id, Message.status == MessageStatus.queued)
        .values(attempts=Message.attempts + 1, **values)
    )
    if rows_changed(result) != 1:
        raise CallError(f"call {message.id} was recorded by someone else a moment ago")
    session.refresh(message)
    return message


def _attempt(
    session: Session, message: Message, done_by: str, outcome: str, error: str, now: datetime
) -> None:
    session.add(
        MessageAttempt(
            message_id=message.id,
            number=message.attempts,
            worker=done_by,
            started_at=now,
            finished_at=now,
            outcome=outcome,
            error=error,
        )
    )
    session.flush()


def _no_answer(session: Session, message: Message, done_by: str, summary: str, now: datetime) -> Message:
    error = NO_ANSWER + (f": {summary}" if summary else "")
    message = _advance(session, message, {"last_error": error})
    # Counted after the update: on PostgreSQL the row lock orders two people marking at once.
    earlier = _no_answers(session, [message.id]).get(message.id, 0)
    final = earlier + 1 >= NO_ANSWER_LIMIT
    _attempt(
        session, message, done_by, AttemptOutcome.permanent if final else AttemptOutcome.transient, error, now
    )
    if final:
        message.status = MessageStatus.failed
        message.last_error = f"no answer after {NO_ANSWER_LIMIT} tries"
        session.flush()
    return message


def _close(
    session: Session, message: Message, done_by: str, status: str, outcome: str, error: str, now: datetime
) -> Message:
    message = _advance(session, message, {"status": status, "last_error": error})
    _attempt(session, message, done_by, outcome, error, now)
    return message
