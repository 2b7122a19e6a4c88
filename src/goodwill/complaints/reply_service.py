"""Replies to complaints: draft, revise and approve the first response; the satisfaction follow-up.

Approving a first response writes the outbox message (purpose ``complaint_reply``) in the same unit
of work and stops the first-response clock (``complaints.service.mark_responded``). A reply needs no
marketing consent (they wrote to us); the suppression list and erasure still stop it at send time.
A reply whose message is then cancelled or fails for good was no answer: ``reply_not_delivered``
(called by the outbox) marks it ``undelivered`` and, if approving it is what stopped the clock,
starts the clock again, so the SLA sweep charges a breach the complaint would otherwise escape.
The satisfaction question (purpose ``complaint_satisfaction``) is queued when the complaint is
resolved, ``satisfaction_after_days`` later, once per complaint, by email only; the worker cancels it
if consent for email was withdrawn meanwhile. Its link is signed with the loyalty links' helpers under
a key of its own, names the complaint and expires ``LINK_DAYS`` after the question is sent.
Functions take a session and never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from goodwill.complaints.model import Complaint, ComplaintReply, ComplaintStatus, ReplyKind, ReplyStatus
from goodwill.complaints.records import add_log
from goodwill.complaints.replies import (
    ANSWERS,
    QuestionFacts,
    ReplyFacts,
    check_reply,
    first_response,
    promise_day,
    satisfaction_question,
)
from goodwill.complaints.service import ComplaintNotFound, mark_responded
from goodwill.config import Settings
from goodwill.db import rows_changed, utcnow
from goodwill.loyalty.links import BadLink, customer_token, read_customer_token
from goodwill.notes.sincerity import Check
from goodwill.outbox.model import Message
from goodwill.outbox.rules import COMPLAINT_REPLY, COMPLAINT_SATISFACTION
from goodwill.people.model import Person
from goodwill.people.privacy import erasure_recorded
from goodwill.team.model import User

UNDELIVERED = ReplyStatus.undelivered.value  # its message was cancelled or failed
LINK_DAYS = 90  # the one-question link works this long after the question is sent
ANSWER_CHANGE_DAYS = 30  # a second answer replaces the first only this soon after it
_LINK_KEY = "goodwill complaint satisfaction v1\0"  # never the loyalty page's key: links cannot cross


class ReplyError(ValueError):
    """The reply cannot do what was asked; the message says why in plain words."""


class ReplyNotFound(LookupError):
    pass


class ReplyBlocked(ReplyError):
    """The sincerity check found blocking problems: fix them before approving."""

    def __init__(self, check: Check) -> None:
        kinds = ", ".join(sorted({p.kind.replace("_", " ") for p in check.problems if p.blocking}))
        super().__init__(f"the reply has problems to fix before it can be approved: {kinds}")
        self.check = check


def without_nul(text: str) -> str:
    """PostgreSQL refuses NUL in text, and no one types it: a pasted one is taken out."""
    return text.replace("\x00", "")


def problem_dicts(check: Check) -> list[dict[str, Any]]:
    return [{"kind": p.kind, "text": p.text, "hint": p.hint, "blocking": p.blocking} for p in check.problems]


def _erased(session: Session, person_id: int) -> bool:
    return bool(session.scalar(select(erasure_recorded(person_id))))


def _first_name(session: Session, user_id: int | None) -> str:
    user = session.get(User, user_id) if user_id is not None else None
    return user.name.split()[0] if user is not None and user.name.split() else ""


def _person(session: Session, complaint: Complaint) -> Person:
    person = session.get(Person, complaint.person_id)
    if person is None:  # pragma: no cover - the foreign key cascades
        raise ComplaintNotFound(f"complaint {complaint.id} has no person")
    return person


def reply_channel(complaint: Complaint, person: Person) -> str | None:
    """Answer on the channel they used: SMS when it came by SMS and we have their number, else email."""
    if complaint.channel == "sms" and person.phone:
        return "sms"
    return "email" if person.email else None


def check_for(session: Session, *, complaint: Complaint, body: str, channel: str) -> Check:
    person = _person(session, complaint)
    names = [n for n in (person.preferred_name, *person.name.split()[:1]) if n]
    return check_reply(
        without_nul(body),
        first_name=person.greeting_name,
        their_words=complaint.body,
        channel=channel,
        known_names=names,
    )


def _refusal(session: Session, complaint: Complaint) -> str | None:
    if complaint.status == ComplaintStatus.resolved:
        return "the complaint is already resolved; a first response can no longer be sent"
    if _erased(session, complaint.person_id):
        return "the person was erased; nothing can be sent to them"
    return None


def _complaint(session: Session, complaint_id: int) -> Complaint:
    # Takes the complaint's row for this transaction, so two people drafting at once make one draft.
    session.execute(
        update(Complaint)
        .where(Complaint.id == complaint_id)
        .values(updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    complaint = session.scalar(
        select(Complaint).where(Complaint.id == complaint_id).execution_options(populate_existing=True)
    )
    if complaint is None:
        raise ComplaintNotFound(f"no complaint with id {complaint_id}")
    return complaint


def first_response_of(session: Session, complaint_id: int) -> ComplaintReply | None:
    """The latest first response still in play: a draft, or the one queued (not discarded or undelivered)."""
    return session.scalar(
        select(ComplaintReply)
        .where(
            ComplaintReply.complaint_id == complaint_id,
            ComplaintReply.kind == ReplyKind.first_response,
            ComplaintReply.status.in_((ReplyStatus.draft, ReplyStatus.queued)),
        )
        .order_by(ComplaintReply.id.desc())
        .limit(1)
    )


def draft_first_response(
    session: Session, *, complaint_id: int, user_id: int, settings: Settings, now: datetime | None = None
) -> ComplaintReply:
    """The open first-response draft (or the one already queued); a new draft, signed by the user, if none."""
    complaint = _complaint(session, complaint_id)
    existing = first_response_of(session, complaint_id)
    if existing is not None:
        return existing
    refusal = _refusal(session, complaint)
    if refusal is not None:
        raise ReplyError(refusal)
    person = _person(session, complaint)
    channel = reply_channel(complaint, person)
    if channel is None:
        raise ReplyError("no email address on file (nor, for a complaint sent by SMS, a mobile number)")
    tz = settings.business.tz
    today = (now or utcnow()).astimezone(tz).date()
    hours = settings.complaints.hours
    due = complaint.resolution_due_at.astimezone(tz).date()
    draft = first_response(
        ReplyFacts(
            complaint_id=complaint.id,
            their_words=complaint.body,
            subject=complaint.subject,
            first_name=person.greeting_name,
            promise=promise_day(due, today=today, working_days=hours.weekdays, holidays=hours.holidays),
            today=today,
            signer_first_name=_first_name(session, user_id),
            business_name=settings.business.name,
            channel=channel,
        )
    )
    check = check_for(session, complaint=complaint, body=draft.body, channel=channel)
    reply = ComplaintReply(
        complaint_id=complaint.id,
        kind=ReplyKind.first_response.value,
        channel=channel,
        subject=draft.subject,
        body=draft.body,
        status=ReplyStatus.draft.value,
        check_score=check.score,
        check_problems=problem_dicts(check),
        written_by_id=user_id,
    )
    session.add(reply)
    session.flush()
    return reply


def _claim(session: Session, reply_id: int) -> ComplaintReply:
    """Take a draft for this transaction, or refuse: two reviewers cannot both approve it."""
    claimed = session.execute(
        update(ComplaintReply)
        .where(ComplaintReply.id == reply_id, ComplaintReply.status == ReplyStatus.draft)
        .values(status=ReplyStatus.draft.value)
        .execution_options(synchronize_session=False)
    )
    reply = session.scalar(
        select(ComplaintReply).where(ComplaintReply.id == reply_id).execution_options(populate_existing=True)
    )
    if reply is None:
        raise ReplyNotFound(f"no reply {reply_id}")
    if rows_changed(claimed) != 1:
        raise ReplyError(f"reply {reply.id} is already {reply.status}")
    return reply


def _recheck(session: Session, reply: ComplaintReply, complaint: Complaint) -> Check:
    check = check_for(session, complaint=complaint, body=reply.body, channel=reply.channel)
    reply.check_score = check.score
    reply.check_problems = problem_dicts(check)
    return check


def revise_reply(
    session: Session, *, reply_id: int, body: str, subject: str | None = None, user_id: int
) -> ComplaintReply:
    """Save an edited draft and check it again (browsers post CRLF line breaks: stored as LF)."""
    reply = _claim(session, reply_id)
    text = without_nul(body).replace("\r\n", "\n").replace("\r", "\n").strip()
    if not text:
        raise ReplyError("a reply needs some words")
    reply.body = text
    subject = without_nul(subject) if subject is not None else None
    if subject is not None and reply.channel == "email" and subject.strip():
        reply.subject = " ".join(subject.split())[:200]
    reply.written_by_id = reply.written_by_id or user_id
    complaint = session.get(Complaint, reply.complaint_id)
    assert complaint is not None  # the foreign key cascades
    _recheck(session, reply, complaint)
    return reply


def approve_reply(
    session: Session,
    *,
    reply_id: int,
    user_id: int,
    settings: Settings,
    now: datetime,
    body: str | None = None,
    subject: str | None = None,
) -> ComplaintReply:
    """Queue the reply for delivery and stop the first-response clock; refused while the check blocks."""
    if body is not None:
        revise_reply(session, reply_id=reply_id, body=body, subject=subject, user_id=user_id)
    reply = _claim(session, reply_id)
    complaint = _complaint(session, reply.complaint_id)
    refusal = _refusal(session, complaint)
    if refusal is not None:
        raise ReplyError(refusal)
    check = _recheck(session, reply, complaint)
    if not check.ok:
        raise ReplyBlocked(check)
    person = _person(session, complaint)
    if not (person.phone if reply.channel == "sms" else person.email):
        raise ReplyError(f"no {'mobile number' if reply.channel == 'sms' else 'email address'} on file")
    message = Message(
        person_id=person.id,
        channel=reply.channel,
        purpose=COMPLAINT_REPLY,
        subject=reply.subject,
        body=reply.body,
        next_attempt_at=now,
        created_by_id=user_id,
        created_at=now,
    )
    session.add(message)
    session.flush()
    reply.status = ReplyStatus.queued.value
    reply.message_id = message.id
    reply.approved_by_id = user_id
    reply.approved_at = now
    mark_responded(session, complaint=complaint, at=now, by_user_id=user_id, settings=settings)
    return reply


def reply_not_delivered(
    session: Session, *, message_id: int, reason: str, now: datetime, may_have_arrived: bool = False
) -> ComplaintReply | None:
    """The outbox ended a first response's message without delivering it (cancelled, failed).

    The reply becomes ``undelivered`` and the log says why. If approving this reply is what stopped
    the first-response clock, the clock runs again: no answer reached them, the complaint is open,
    and a new first response can be drafted. An answer that stopped the clock earlier (by phone,
    say) still counts. ``may_have_arrived`` (handed to the mail server, then the line broke): the
    answer stands, since sending again could deliver it twice; the log asks someone to check.
    None when the message is no queued first response.
    """
    reply = session.scalar(select(ComplaintReply).where(ComplaintReply.message_id == message_id))
    if reply is None or reply.kind != ReplyKind.first_response or reply.status != ReplyStatus.queued:
        return None
    complaint = _complaint(session, reply.complaint_id)  # one change at a time to its clocks
    if may_have_arrived:
        detail = f"{reason}; it may have arrived, check the mail log before writing again"
        add_log(session, complaint_id=complaint.id, action="reply delivery unknown", detail=detail, at=now)
        return reply
    reply.status = UNDELIVERED
    detail = reason
    if complaint.first_responded_at is not None and complaint.first_responded_at == reply.approved_at:
        complaint.first_responded_at = None
        if complaint.status == ComplaintStatus.responded:
            complaint.status = ComplaintStatus.open.value
        detail = f"{reason}; the first-response clock runs again"
    add_log(session, complaint_id=complaint.id, action="reply not delivered", detail=detail[:2000], at=now)
    return reply


def discard_reply(session: Session, *, reply_id: int, user_id: int) -> ComplaintReply:
    """Throw a draft away (answered by phone, say); a new one can be drafted later."""
    reply = _claim(session, reply_id)
    reply.status = ReplyStatus.discarded.value
    add_log(session, complaint_id=reply.complaint_id, action="reply discarded", user_id=user_id)
    return reply


# --- the satisfaction question ------------------------------------------------------------------------


def satisfaction_token(*, secret_key: str, complaint_id: int, expires_at: datetime) -> str:
    # The loyalty link's token, under another key: its payload is an id and an expiry, here the complaint's.
    return customer_token(secret_key=_LINK_KEY + secret_key, person_id=complaint_id, expires_at=expires_at)


def read_satisfaction_token(*, secret_key: str, token: str, now: datetime) -> int:
    """The complaint id the link names; ``BadLink`` if it is not ours, was changed or has expired."""
    return read_customer_token(secret_key=_LINK_KEY + secret_key, token=token, now=now)


def satisfaction_url(*, settings: Settings, complaint_id: int, expires_at: datetime) -> str:
    token = satisfaction_token(
        secret_key=settings.resolved_secret_key(), complaint_id=complaint_id, expires_at=expires_at
    )
    return f"{settings.delivery.public_url.rstrip('/')}/my/complaint/{token}"


def queue_satisfaction(
    session: Session, *, complaint: Complaint, settings: Settings, now: datetime
) -> Message | None:
    """The one-question follow-up, by email, ``satisfaction_after_days`` from now; one per complaint.

    None when the follow-up is off, or the person has no email address or was erased.
    """
    if not settings.complaints.satisfaction_follow_up:
        return None
    existing = session.scalar(
        select(ComplaintReply).where(
            ComplaintReply.complaint_id == complaint.id, ComplaintReply.kind == ReplyKind.satisfaction
        )
    )
    if existing is not None:
        return session.get(Message, existing.message_id) if existing.message_id is not None else None
    person = _person(session, complaint)
    if not person.email or _erased(session, person.id):
        return None
    not_before = now + timedelta(days=settings.complaints.satisfaction_after_days)
    link = satisfaction_url(
        settings=settings, complaint_id=complaint.id, expires_at=not_before + timedelta(days=LINK_DAYS)
    )
    subject, body = satisfaction_question(
        QuestionFacts(
            first_name=person.greeting_name,
            wrote_on=complaint.received_at.astimezone(settings.business.tz).date(),
            link=link,
            signer_first_name=_first_name(session, complaint.resolved_by_id),
            business_name=settings.business.name,
        )
    )
    message = Message(
        person_id=person.id,
        channel="email",
        purpose=COMPLAINT_SATISFACTION,
        subject=subject,
        body=body,
        not_before=not_before,
        next_attempt_at=not_before,
        created_by_id=complaint.resolved_by_id,
        created_at=now,
    )
    session.add(message)
    session.flush()
    session.add(
        ComplaintReply(
            complaint_id=complaint.id,
            kind=ReplyKind.satisfaction.value,
            channel="email",
            subject=subject,
            body=body,
            status=ReplyStatus.queued.value,
            message_id=message.id,
            approved_by_id=complaint.resolved_by_id,
            approved_at=now,
        )
    )
    return message


@dataclass(frozen=True)
class SatisfactionOutcome:
    complaint: Complaint
    answer: str  # the answer in force after this call
    changed: bool  # a different answer than before was recorded (the first one, or a replacement)
    too_late: bool  # a different answer came after ANSWER_CHANGE_DAYS: the first one stands


def complaint_for_link(session: Session, *, secret_key: str, token: str, now: datetime) -> Complaint:
    """The complaint a link names; ``BadLink`` for a bad link or a person erased since it was sent."""
    complaint = session.get(Complaint, read_satisfaction_token(secret_key=secret_key, token=token, now=now))
    if complaint is None or _erased(session, complaint.person_id):
        raise BadLink("this link no longer works")
    return complaint


def record_satisfaction(
    session: Session, *, secret_key: str, token: str, answer: str, now: datetime
) -> SatisfactionOutcome:
    """Record "Did we put it right?" from the signed link; the same answer again changes nothing."""
    clean = without_nul(answer).strip().lower()
    if clean not in ANSWERS:
        raise ReplyError("the answer must be yes, partly or no")
    complaint_id = complaint_for_link(session, secret_key=secret_key, token=token, now=now).id
    complaint = _complaint(session, complaint_id)  # one answer at a time, even from two clicks at once
    if complaint.satisfaction == clean:
        return SatisfactionOutcome(complaint, clean, changed=False, too_late=False)
    first_at = complaint.satisfaction_at
    late = first_at is not None and now - first_at > timedelta(days=ANSWER_CHANGE_DAYS)
    if complaint.satisfaction is not None and late:
        return SatisfactionOutcome(complaint, complaint.satisfaction, changed=False, too_late=True)
    detail = clean if complaint.satisfaction is None else f"{complaint.satisfaction} -> {clean}"
    complaint.satisfaction = clean
    complaint.satisfaction_at = now if first_at is None else first_at
    add_log(session, complaint_id=complaint.id, action="satisfaction", detail=detail, at=now)
    return SatisfactionOutcome(complaint, clean, changed=True, too_late=False)


@dataclass(frozen=True)
class ReplyView:
    """What the reply page shows for one complaint."""

    complaint: Complaint
    person: Person
    reply: ComplaintReply | None  # the draft, or the first response already queued
    check: dict[str, Any]  # {"ok", "score", "problems"} of the reply as last saved
    refusal: str | None  # why no first response can be drafted or sent now
    writer: User | None
    approved_by: User | None
    satisfaction: ComplaintReply | None  # the follow-up question, once queued
    discarded: int  # drafts thrown away so far
    undelivered: ComplaintReply | None  # the latest reply whose message was cancelled or failed
    undelivered_reason: str  # why, as the outbox recorded it


def reply_context(session: Session, complaint: Complaint) -> ReplyView:
    reply = first_response_of(session, complaint.id)
    person = _person(session, complaint)
    problems = list(reply.check_problems or []) if reply is not None else []
    refusal = _refusal(session, complaint) if reply is None or reply.status == ReplyStatus.draft else None
    if refusal is None and reply is None and reply_channel(complaint, person) is None:
        refusal = "no email address on file (nor, for a complaint sent by SMS, a mobile number)"
    replies = session.scalars(
        select(ComplaintReply).where(ComplaintReply.complaint_id == complaint.id).order_by(ComplaintReply.id)
    ).all()
    undelivered = next((r for r in reversed(replies) if r.status == UNDELIVERED), None)
    message = session.get(Message, undelivered.message_id) if undelivered and undelivered.message_id else None
    return ReplyView(
        complaint=complaint,
        person=person,
        reply=reply,
        check={
            "ok": not any(p.get("blocking") for p in problems),
            "score": reply.check_score if reply is not None else None,
            "problems": problems,
        },
        refusal=refusal,
        writer=session.get(User, reply.written_by_id) if reply is not None and reply.written_by_id else None,
        approved_by=session.get(User, reply.approved_by_id)
        if reply is not None and reply.approved_by_id
        else None,
        satisfaction=next((r for r in replies if r.kind == ReplyKind.satisfaction), None),
        discarded=sum(1 for r in replies if r.status == ReplyStatus.discarded),
        undelivered=undelivered,
        undelivered_reason=(message.last_error or "") if message is not None else "",
    )
