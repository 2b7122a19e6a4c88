"""What happens when a message has gone out, whichever way it went (worker, printed card, call made).

The message is marked sent, the attempt is recorded, and an event flows back into the interaction
log (``appreciation_sent``, ``card_sent`` or ``call_made``, source ``goodwill``, source id
``message:<id>``) so the relationship bank sees the deposit. Recording is idempotent by that source id.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from goodwill.config import Settings, get_settings
from goodwill.db import rows_changed, utcnow
from goodwill.events.service import NewEvent, record_event
from goodwill.outbox.model import AttemptOutcome, Message, MessageAttempt, MessageStatus

EVENT_FOR_CHANNEL = {
    "email": "appreciation_sent",
    "sms": "appreciation_sent",
    "card": "card_sent",
    "call": "call_made",
}
OWN_SOURCE = "goodwill"


def delivery_event_kind(channel: str, purpose: str) -> str | None:
    """The event a delivery records: a card or a call always; a message only when it thanks someone."""
    kind = EVENT_FOR_CHANNEL.get(channel, "appreciation_sent")
    if kind == "appreciation_sent" and purpose != "appreciation":
        return None  # other purposes still count as a contact, through the message itself
    return kind


def record_delivery_event(session: Session, message: Message, *, at: datetime, staff_id: int | None) -> None:
    """The event that tells the bank (and the planner's cap) we reached out."""
    kind = delivery_event_kind(message.channel, message.purpose)
    if message.person_id is None or kind is None:
        return
    record_event(
        session,
        NewEvent(
            person_id=message.person_id,
            kind=kind,
            occurred_at=at,
            source=OWN_SOURCE,
            source_id=f"message:{message.id}",
            channel=message.channel,
            staff_id=staff_id,
        ),
    )


def mark_sent_by_hand(
    session: Session,
    *,
    message_ids: Sequence[int],
    channel: str,
    done_by: str,
    provider_id: str,
    staff_id: int | None = None,
    at: datetime | None = None,
    settings: Settings | None = None,
) -> list[Message]:
    """Mark queued card or call messages sent (printed, or the call made); returns those it changed.

    A conditional update per message, so two people marking the same card do not both record it.
    """
    at = at or utcnow()
    changed: list[Message] = []
    for message_id in message_ids:
        result = session.execute(
            update(Message)
            .where(
                Message.id == message_id,
                Message.channel == channel,
                Message.status.in_((MessageStatus.queued, MessageStatus.sending)),
            )
            .values(
                status=MessageStatus.sent,
                sent_at=at,
                provider_id=provider_id[:200],
                attempts=Message.attempts + 1,
                last_error=None,
            )
        )
        if rows_changed(result) != 1:
            continue
        message = session.scalars(
            select(Message).where(Message.id == message_id).execution_options(populate_existing=True)
        ).one()
        session.add(
            MessageAttempt(
                message_id=message.id,
                number=message.attempts,
                worker=done_by[:80],
                started_at=at,
                finished_at=at,
                outcome=AttemptOutcome.sent,
                provider_id=provider_id[:200],
            )
        )
        record_delivery_event(session, message, at=at, staff_id=staff_id)
        changed.append(message)
    session.flush()
    refresh_bank(session, [m.person_id for m in changed if m.person_id is not None], settings)
    return changed


def refresh_bank(session: Session, person_ids: Sequence[int], settings: Settings | None) -> None:
    """Let the relationship bank see the new deposits, in the caller's transaction."""
    if not person_ids:
        return
    from goodwill.bank.config import load_bank_config
    from goodwill.bank.service import refresh_people

    settings = settings or get_settings()
    refresh_people(
        session=session,
        person_ids=sorted(set(person_ids)),
        config=load_bank_config(settings),
        currency=settings.business.currency,
    )
