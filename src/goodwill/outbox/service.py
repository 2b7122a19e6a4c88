"""The outbox's operations: claim, re-check at send time, record what happened, take back stale claims.

Each function works in the caller's transaction; the worker (goodwill.outbox.worker) decides where
the commits fall, because for delivery *when* a commit happens is the guarantee:

1. ``claim`` marks a batch ``sending`` (one conditional UPDATE; ``FOR UPDATE SKIP LOCKED`` on
   PostgreSQL) and opens an attempt row for each. Commit.
2. ``hand_over`` (email only) stamps the message just before SMTP's point of no return, only if
   this worker still holds the claim. Commit.
3. ``finish`` records the outcome right after the provider answered. Commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, and_, bindparam, func, insert, or_, select, text, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from goodwill.config import Settings
from goodwill.db import matching, rows_changed, utcnow
from goodwill.events.model import Event
from goodwill.outbox.delivered import OWN_SOURCE, delivery_event_kind
from goodwill.outbox.model import AttemptOutcome, Message, MessageAttempt, MessageStatus
from goodwill.outbox.rules import COMPLAINT_REPLY, STAFF, SendFacts, SendRules
from goodwill.people.model import Person
from goodwill.people.privacy import tombstone_name
from goodwill.people.service import consents_in_force
from goodwill.people.suppression import kind_for_channel, suppressed
from goodwill.planner.policy import zone_for

EXTERNAL_APPRECIATION_KINDS = ("appreciation_sent", "card_sent", "call_made")


def send_rules(settings: Settings) -> SendRules:
    policy = settings.planner.policy
    return SendRules(
        cap_window_days=policy.cap_window_days,
        cap_per_window=policy.cap_per_window,
        cap_per_year=policy.cap_per_year,
        contact_from_hour=policy.contact_from_hour,
        contact_until_hour=policy.contact_until_hour,
        max_age_days=settings.delivery.max_age_days,
    )


def claim(
    session: Session, *, worker: str, channels: Sequence[str], now: datetime, limit: int
) -> list[tuple[int, int]]:
    """Claim up to ``limit`` due messages on these channels: ``[(message id, attempt number)]``."""
    if not channels:
        return []
    due = (
        select(Message.id)
        .where(
            Message.status == MessageStatus.queued,
            Message.channel.in_(list(channels)),
            Message.next_attempt_at <= now,
        )
        .order_by(Message.next_attempt_at, Message.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        # Lock the batch first, then update exactly those rows: inside ``IN (subquery)`` PostgreSQL
        # may run a LIMIT ... SKIP LOCKED subquery more than once and claim far more than ``limit``.
        ids: list[int] | Any = list(session.scalars(due.with_for_update(skip_locked=True)))
        if not ids:
            return []
    else:
        # SQLite evaluates the subquery once, under its single writer lock.
        ids = due.scalar_subquery()
    rows = session.execute(
        update(Message)
        .where(Message.id.in_(ids), Message.status == MessageStatus.queued)
        .values(
            status=MessageStatus.sending,
            claimed_by=worker[:80],
            claimed_at=now,
            handed_over_at=None,
            attempts=Message.attempts + 1,
        )
        .returning(Message.id, Message.attempts)
    ).all()
    claimed = sorted((row[0], row[1]) for row in rows)
    if claimed:
        session.execute(
            insert(MessageAttempt),
            [
                {"message_id": mid, "number": number, "worker": worker[:80], "started_at": now}
                for mid, number in claimed
            ],
        )
    return claimed


@dataclass(frozen=True)
class Reclaimed:
    requeued: int  # nothing was handed over, or the provider dedupes: safe to send again
    unknown: int  # an email handed over to the SMTP server by a worker that then died


def reclaim_stale(
    session: Session, *, now: datetime, timeout: timedelta, idempotent_channels: Sequence[str]
) -> Reclaimed:
    """Take back claims older than ``timeout`` whose worker stopped (killed, machine lost).

    Such a message goes back to the queue unless it was handed over to a transport that cannot
    recognise a repeat (SMTP): then it may have been delivered, and sending again could deliver it
    twice, so it fails with the reason said plainly (at most once, never twice).
    """
    stale = and_(Message.status == MessageStatus.sending, Message.claimed_at < now - timeout)
    safe = or_(Message.handed_over_at.is_(None), Message.channel.in_(list(idempotent_channels)))
    requeue = session.execute(
        update(Message)
        .where(stale, safe)
        .values(
            status=MessageStatus.queued, next_attempt_at=now, last_error="taken back from a stopped worker"
        )
        .returning(Message.id, Message.attempts)
    ).all()
    unknown = session.execute(
        update(Message)
        .where(stale, ~safe)
        .values(
            status=MessageStatus.failed,
            last_error=(
                "delivery outcome unknown: the worker stopped after handing the email to the SMTP server, "
                "so it may have arrived; not sent again to avoid a duplicate"
            ),
        )
        .returning(Message.id, Message.attempts)
    ).all()
    for rows, outcome in ((requeue, AttemptOutcome.abandoned), (unknown, AttemptOutcome.unknown)):
        for message_id, number in rows:
            _close_attempt(session, message_id, number, outcome, now, error="the worker stopped")
    return Reclaimed(requeued=len(requeue), unknown=len(unknown))


def _close_attempt(
    session: Session,
    message_id: int,
    number: int,
    outcome: str,
    now: datetime,
    *,
    error: str | None = None,
    provider_id: str | None = None,
) -> None:
    session.execute(
        update(MessageAttempt)
        .where(
            MessageAttempt.message_id == message_id,
            MessageAttempt.number == number,
            MessageAttempt.finished_at.is_(None),
        )
        .values(outcome=outcome, finished_at=now, error=error, provider_id=provider_id)
    )


@dataclass(frozen=True)
class Claimed:
    """A claimed message with everything the send-time check and the transport need."""

    message_id: int
    attempt: int
    channel: str
    purpose: str
    person_id: int | None
    to_name: str
    subject: str
    body: str
    facts: SendFacts


def load_claimed(
    session: Session,
    claimed: Sequence[tuple[int, int]],
    *,
    secret_key: str,
    default_zone: str,
    now: datetime,
) -> list[Claimed]:
    """The send-time facts for a claimed batch, in a handful of bulk queries."""
    attempts = dict(claimed)
    messages = list(session.scalars(select(Message).where(Message.id.in_(list(attempts)))).all())
    person_ids = sorted({m.person_id for m in messages if m.person_id is not None})
    people = {p.id: p for p in session.scalars(select(Person).where(Person.id.in_(person_ids))).all()}
    consents = consents_in_force(session, person_ids)
    others = _other_appreciations(session, person_ids, now=now, excluding=[m.id for m in messages])
    addresses: dict[int, str | None] = {}
    wanted: dict[str, set[str]] = {"email": set(), "phone": set()}
    for message in messages:
        person = people.get(message.person_id) if message.person_id is not None else None
        kind = kind_for_channel(message.channel)
        address = None
        if message.purpose == STAFF:
            address = message.address  # staff mail: the member of staff's address, set when queued
        elif person is not None and kind is not None:
            address = person.email if kind == "email" else person.phone
        addresses[message.id] = address
        if address and kind is not None and message.purpose != STAFF:
            wanted[kind].add(address)
    blocked = {
        kind: suppressed(session, secret_key=secret_key, kind=kind, addresses=sorted(found))
        for kind, found in wanted.items()
    }
    result: list[Claimed] = []
    for message in messages:
        person = people.get(message.person_id) if message.person_id is not None else None
        address = addresses[message.id]
        kind = kind_for_channel(message.channel)
        zone = zone_for((person.time_zone if person is not None else None) or default_zone)
        result.append(
            Claimed(
                message_id=message.id,
                attempt=attempts[message.id],
                channel=message.channel,
                purpose=message.purpose,
                person_id=message.person_id,
                to_name=(person.name if person is not None else ""),
                subject=message.subject,
                body=message.body,
                facts=SendFacts(
                    channel=message.channel,
                    purpose=message.purpose,
                    # A message held back on purpose (a follow-up days later) ages from when it was due.
                    created_at=max(message.created_at, message.not_before or message.created_at),
                    person_exists=person is not None and person.name != tombstone_name(person.id),
                    address=address,
                    consent=consents.get(message.person_id or -1, {}).get(message.channel),
                    call_requested=False,
                    suppressed=bool(address and kind and address in blocked.get(kind, set())),
                    zone=zone,
                    other_appreciations=tuple(others.get(message.person_id or -1, ())),
                ),
            )
        )
    return sorted(result, key=lambda c: c.message_id)


def _other_appreciations(
    session: Session, person_ids: list[int], *, now: datetime, excluding: list[int]
) -> dict[int, list[datetime]]:
    """Appreciations already delivered in the last year: ours (sent messages) and other tools' (events)."""
    since = now - timedelta(days=366)
    found: dict[int, list[datetime]] = {}
    for condition in matching(session, Message.person_id, person_ids):
        rows = session.execute(
            select(Message.person_id, Message.sent_at).where(
                condition,
                Message.status == MessageStatus.sent,
                Message.purpose == "appreciation",
                Message.sent_at >= since,
                Message.id.not_in(excluding),
            )
        )
        for person_id, sent_at in rows:
            if person_id is not None and sent_at is not None:
                found.setdefault(person_id, []).append(sent_at)
    for condition in matching(session, Event.person_id, person_ids):
        rows = session.execute(
            select(Event.person_id, Event.occurred_at).where(
                condition,
                Event.kind.in_(EXTERNAL_APPRECIATION_KINDS),
                Event.source != OWN_SOURCE,
                Event.occurred_at >= since,
            )
        )
        for person_id, at in rows:
            if person_id is not None and at is not None:
                found.setdefault(person_id, []).append(at)
    return found


# The per-message statements of the send path, built once: they run twice per message, and
# building an ORM statement costs more than executing it.
_messages: Table = Message.__table__  # type: ignore[assignment]
_attempts: Table = MessageAttempt.__table__  # type: ignore[assignment]
_HAND_OVER = (
    update(_messages)
    .where(
        _messages.c.id == bindparam("p_message_id"),
        _messages.c.status == MessageStatus.sending,
        _messages.c.claimed_by == bindparam("p_worker"),
        _messages.c.attempts == bindparam("p_attempt"),
        _messages.c.handed_over_at.is_(None),
    )
    # Also a heartbeat: a live worker's claim is fresh again, so it is not taken back meanwhile.
    .values(handed_over_at=bindparam("p_now"), claimed_at=bindparam("p_now"))
)
_SENT = (
    update(_messages)
    .where(
        _messages.c.id == bindparam("p_message_id"),
        or_(
            _messages.c.status.in_((MessageStatus.sending, MessageStatus.queued)),
            # It went out under this worker's own hand-over, even if meanwhile the claim was
            # failed as "outcome unknown" or an unsubscribe cancelled it: the record says so.
            and_(
                _messages.c.claimed_by == bindparam("p_worker"),
                _messages.c.handed_over_at.is_not(None),
                _messages.c.status.in_((MessageStatus.failed, MessageStatus.cancelled)),
            ),
        ),
    )
    .values(
        status=MessageStatus.sent,
        sent_at=bindparam("p_now"),
        provider_id=bindparam("p_provider_id"),
        address=bindparam("p_address"),
        last_error=None,
    )
)
_ATTEMPT_SENT = (
    update(_attempts)
    .where(
        _attempts.c.message_id == bindparam("p_message_id"),
        _attempts.c.number == bindparam("p_number"),
        _attempts.c.finished_at.is_(None),
    )
    .values(
        outcome=AttemptOutcome.sent, finished_at=bindparam("p_now"), provider_id=bindparam("p_provider_id")
    )
)

# finish_sent on PostgreSQL: the same three writes as _SENT, _ATTEMPT_SENT and the event insert.
_PG_FINISH = text(
    """
    WITH m AS (
        UPDATE outbox_messages
        SET status = 'sent', sent_at = :now, provider_id = :pid, address = :addr, last_error = NULL
        WHERE id = :mid AND (
            status IN ('sending', 'queued')
            OR (claimed_by = :worker AND handed_over_at IS NOT NULL AND status IN ('failed', 'cancelled'))
        )
        RETURNING id
    ), a AS (
        UPDATE outbox_attempts SET outcome = 'sent', finished_at = :now, provider_id = :pid
        WHERE message_id IN (SELECT id FROM m) AND number = :number AND finished_at IS NULL
    ), e AS (
        INSERT INTO events (person_id, kind, occurred_at, channel, source, source_id, recorded_at)
        SELECT :person_id, :kind, :now, :channel, :source, :source_id, :now FROM m WHERE :record
        ON CONFLICT DO NOTHING
    )
    SELECT count(*) FROM m
    """
)
# The delivery event on SQLite, idempotent by its source id (PostgreSQL writes it in _PG_FINISH).
_SQLITE_EVENT_INSERT = sqlite.insert(Event).on_conflict_do_nothing()


def hand_over(connection: Connection, *, message_id: int, attempt: int, worker: str, now: datetime) -> bool:
    """Stamp the hand-over if this worker still holds the claim; False means someone took it back.

    Takes a bare connection (``engine.begin()``): it runs once per email, and a Session costs more.
    """
    result = connection.execute(
        _HAND_OVER, {"p_message_id": message_id, "p_attempt": attempt, "p_worker": worker[:80], "p_now": now}
    )
    return rows_changed(result) == 1


def finish_sent(
    connection: Connection, *, claimed: Claimed, worker: str, address: str, provider_id: str, now: datetime
) -> bool:
    """The provider accepted it. Recorded even if the claim was taken back meanwhile (it did go out).

    One UPDATE, the attempt and the delivery event: the whole of the crash window. Takes a bare
    connection (``engine.begin()``), like ``hand_over``.
    """
    kind = delivery_event_kind(claimed.channel, claimed.purpose)
    if connection.dialect.name == "postgresql":
        # One round trip for the three writes (data-modifying CTEs): the crash window is shorter,
        # and per-statement round trips were most of the worker's cost on PostgreSQL.
        found = connection.execute(
            _PG_FINISH,
            {
                "mid": claimed.message_id,
                "now": now,
                "pid": provider_id[:200],
                "addr": address[:320],
                "worker": worker[:80],
                "number": claimed.attempt,
                "record": claimed.person_id is not None and kind is not None,
                "person_id": claimed.person_id,
                "kind": kind or "",
                "channel": claimed.channel,
                "source": OWN_SOURCE,
                "source_id": f"message:{claimed.message_id}",
            },
        ).scalar_one()
        return bool(found)
    params = {"p_message_id": claimed.message_id, "p_now": now, "p_provider_id": provider_id[:200]}
    sent = {**params, "p_address": address[:320], "p_worker": worker[:80]}
    if rows_changed(connection.execute(_SENT, sent)) != 1:
        return False
    connection.execute(_ATTEMPT_SENT, {**params, "p_number": claimed.attempt})
    if claimed.person_id is not None and kind is not None:
        connection.execute(
            _SQLITE_EVENT_INSERT,
            {
                "person_id": claimed.person_id,
                "kind": kind,
                "occurred_at": now,
                "channel": claimed.channel,
                "source": OWN_SOURCE,
                "source_id": f"message:{claimed.message_id}",
                "recorded_at": now,
            },
        )
    return True


def finish_unsent(
    session: Session,
    *,
    claimed: Claimed,
    worker: str,
    outcome: str,
    reason: str,
    now: datetime,
    retry_at: datetime | None = None,
) -> str:
    """Record an attempt that did not deliver; returns the message's new status, or "lost" when
    this worker no longer holds the claim (nothing is written then).

    ``deferred`` and ``transient`` (with ``retry_at``) put it back in the queue; ``cancelled``,
    ``permanent`` and ``unknown`` end it. A deferral does not count as an attempt.
    """
    if outcome in (AttemptOutcome.deferred, AttemptOutcome.transient):
        if retry_at is None:
            raise ValueError("a retry needs retry_at")
        status = MessageStatus.queued
    elif outcome == AttemptOutcome.cancelled:
        status = MessageStatus.cancelled
    else:
        status = MessageStatus.failed
    values: dict[str, object] = {"status": status, "last_error": reason[:2000]}
    if status == MessageStatus.queued:
        values["next_attempt_at"] = retry_at
    if outcome == AttemptOutcome.deferred:
        values["attempts"] = Message.attempts - 1
    result = session.execute(
        update(Message)
        .where(
            Message.id == claimed.message_id,
            Message.status == MessageStatus.sending,
            # Only while this worker still holds this claim: a slow worker whose claim was taken
            # back must not put another worker's message back in the queue.
            Message.claimed_by == worker[:80],
            Message.attempts == claimed.attempt,
        )
        .values(**values)
    )
    if rows_changed(result) != 1:
        return "lost"
    _close_attempt(session, claimed.message_id, claimed.attempt, outcome, now, error=reason[:2000])
    if claimed.purpose == COMPLAINT_REPLY and status != MessageStatus.queued:
        _complaint_reply_ended(
            session,
            message_id=claimed.message_id,
            reason=reason,
            now=now,
            may_have_arrived=outcome == AttemptOutcome.unknown,
        )
    return status


def _complaint_reply_ended(
    session: Session, *, message_id: int, reason: str, now: datetime, may_have_arrived: bool = False
) -> None:
    """An answer to a complaint that did not go out is no answer: its first-response clock runs again."""
    # Imported here: complaints build on the outbox, and the outbox must stay importable without them.
    from goodwill.complaints.reply_service import reply_not_delivered

    reply_not_delivered(
        session, message_id=message_id, reason=reason, now=now, may_have_arrived=may_have_arrived
    )


def counts(session: Session) -> dict[str, dict[str, int]]:
    """Messages by status and channel, for `goodwill worker --status` and the page."""
    found: dict[str, dict[str, int]] = {}
    rows = session.execute(
        select(Message.status, Message.channel, func.count()).group_by(Message.status, Message.channel)
    )
    for status, channel, number in rows:
        found.setdefault(status, {})[channel] = number
    return found


class OutboxError(ValueError):
    pass


def retry_failed(session: Session, *, message_id: int, now: datetime) -> Message:
    """Put a failed message back in the queue (staff decided, e.g. after checking the mail log).

    Every send-time check runs again, so consent, suppression, caps and the age limit still hold.
    """
    message = session.get(Message, message_id)
    if message is None:
        raise OutboxError(f"no message {message_id}")
    if message.status != MessageStatus.failed:
        raise OutboxError(f"message {message_id} is {message.status}; only failed messages can be retried")
    if message.channel not in ("email", "sms"):
        raise OutboxError(f"{message.channel} messages are delivered by hand, not retried by the worker")
    message.status = MessageStatus.queued
    message.next_attempt_at = now
    message.last_error = None
    message.handed_over_at = None
    session.flush()
    return message


def cancel_queued(session: Session, *, message_id: int, reason: str, now: datetime | None = None) -> Message:
    """Staff decided a queued message must not go (a held card, a stale call): cancelled, with why.

    A cancelled reply to a complaint is no answer: its first-response clock runs again.
    """
    if not reason.strip():
        raise OutboxError("say why the message is cancelled")
    result = session.execute(
        update(Message)
        .where(Message.id == message_id, Message.status == MessageStatus.queued)
        .values(status=MessageStatus.cancelled, last_error=f"cancelled by staff: {reason.strip()}"[:2000])
    )
    message = session.get(Message, message_id)
    if message is None:
        raise OutboxError(f"no message {message_id}")
    if rows_changed(result) != 1:
        raise OutboxError(f"message {message_id} is {message.status}; only queued messages can be cancelled")
    if message.purpose == COMPLAINT_REPLY:
        _complaint_reply_ended(
            session, message_id=message_id, reason=message.last_error or "cancelled", now=now or utcnow()
        )
    return message
