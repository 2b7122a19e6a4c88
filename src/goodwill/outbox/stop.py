"""Stopping what has not gone out yet, for an unsubscribe, a STOP reply or an erasure."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from goodwill.db import utcnow
from goodwill.outbox.model import Message, MessageStatus
from goodwill.outbox.rules import COMPLAINT_REPLY


def cancel_pending(
    session: Session, *, person_ids: Sequence[int], reason: str, channel: str | None = None
) -> int:
    """Cancel these people's queued messages (on ``channel``, or all), and those a worker claimed:
    a worker that loaded its batch before this finds the message cancelled when it stamps the
    hand-over, and does not send it. Returns how many were cancelled."""
    if not person_ids:
        return 0
    conditions: list[ColumnElement[bool]] = [
        Message.person_id.in_(list(person_ids)),
        Message.status.in_((MessageStatus.queued, MessageStatus.sending)),
    ]
    if channel is not None:
        conditions.append(Message.channel == channel)
    cancelled = session.execute(
        update(Message)
        .where(*conditions)
        .values(status=MessageStatus.cancelled, last_error=reason, next_attempt_at=None)
        .returning(Message.id, Message.purpose)
    ).all()
    replies = [message_id for message_id, purpose in cancelled if purpose == COMPLAINT_REPLY]
    if replies:
        # An answer to a complaint that will not go out is no answer: its clock runs again.
        # Imported here: complaints build on the outbox, not the reverse.
        from goodwill.complaints.reply_service import reply_not_delivered

        for message_id in replies:
            reply_not_delivered(session, message_id=message_id, reason=reason, now=utcnow())
    return len(cancelled)
