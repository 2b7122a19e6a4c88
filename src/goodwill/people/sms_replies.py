"""What an inbound STOP or START text does to consent, the suppression list and the outbox.

**STOP** (and STOPALL, UNSUBSCRIBE, END, QUIT, CANCEL, REVOKE, OPTOUT) withdraws SMS consent of
everyone whose phone is that number (source "SMS STOP reply"), suppresses the number (reason
``sms_stop``) even when nobody has it, plus each match's phone as stored (the worker checks the
stored form, and "(503) 555-0142" does not hash like "+15035550142"), and cancels their queued text
messages. Honoured at once, for every future send.

**START** (and UNSTOP) is the carriers' way back in, and only the person holding the phone can
send it, so it is honoured, but only as the undoing of a STOP: it grants SMS consent again (source
"SMS START reply") to those whose consent in force was withdrawn by a STOP reply, and lifts the
``sms_stop`` suppression of the number and their phones. A withdrawal made any other way (an
unsubscribe link, staff, an erasure) is not undone by a text: that person said no elsewhere, and
only they, through the business, can say yes again. START from a number we know nobody by changes
nothing (there is nobody to write to, and a STOP suppression of it stays).

**Retries and replays**: the provider's message id is written on every consent change it causes,
and a message whose id is found there is not applied again (so a late retry of an old START cannot
undo a newer STOP). A START that changed nothing leaves no such note, so the time the provider
signed it (``sent_at``; the webhook refuses requests signed more than five minutes ago) decides
too: a START undoes only a STOP recorded no later than the second it was sent, and a START played
again after a newer STOP leaves that STOP alone. Repeating a STOP changes nothing anyway: consent
already withdrawn is not withdrawn twice and a suppressed number is not added twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from goodwill.db import rows_changed
from goodwill.outbox.stop import cancel_pending
from goodwill.people.model import ConsentChange, Person, Suppression
from goodwill.people.service import current_consent, record_consent
from goodwill.people.sms_inbound import Keyword, candidate_pattern, keyword, same_number
from goodwill.people.suppression import address_hash, suppress

STOP_SOURCE = "SMS STOP reply"
START_SOURCE = "SMS START reply"
STOP_REASON = "sms_stop"


@dataclass(frozen=True)
class InboundSms:
    sender: str
    body: str
    message_sid: str = ""
    sent_at: datetime | None = None  # when the provider signed it (aware); None: not known


@dataclass(frozen=True)
class ReplyOutcome:
    keyword: Keyword | None
    people: tuple[int, ...]  # whose phone is the sender's number
    consent_changes: int  # recorded now
    suppressed: int  # numbers newly suppressed
    lifted: int  # suppressions lifted by START
    cancelled: int  # queued text messages cancelled
    duplicate: bool  # this message id was applied before: nothing done


def people_with_number(session: Session, phone: str) -> list[Person]:
    """Everyone whose stored phone is this number, however it was written.

    The LIKE narrows the people to the few whose phone has the number's last digits in order (a
    scan, but of one short column and without a function per row); ``same_number`` decides.
    """
    pattern = candidate_pattern(phone)
    if pattern is None:
        return []
    candidates = session.scalars(select(Person).where(Person.phone.like(pattern)).order_by(Person.id))
    return [p for p in candidates if p.phone and same_number(phone, p.phone)]


def _note(message: InboundSms) -> str:
    return f"text message {message.message_sid}" if message.message_sid else "text message"


def _applied_before(session: Session, person_ids: list[int], message: InboundSms) -> bool:
    if not message.message_sid or not person_ids:
        return False
    found = session.scalar(
        select(ConsentChange.id)
        .where(
            ConsentChange.person_id.in_(person_ids),
            ConsentChange.channel == "sms",
            ConsentChange.note == _note(message),
        )
        .limit(1)
    )
    return found is not None


def _sent_after(withdrawn_at: datetime, message: InboundSms) -> bool:
    """Whether the message was sent after the withdrawal was recorded (to the second: signed times are
    whole seconds). Unknown when it was sent: yes, as before times were signed."""
    return message.sent_at is None or withdrawn_at.replace(microsecond=0) <= message.sent_at


def handle_reply(session: Session, *, secret_key: str, message: InboundSms) -> ReplyOutcome:
    """Apply a STOP or START reply (anything else is left alone); idempotent per message id."""
    word = keyword(message.body)
    if word is None:
        return ReplyOutcome(None, (), 0, 0, 0, 0, duplicate=False)
    matched = people_with_number(session, message.sender)
    ids = [p.id for p in matched]
    if _applied_before(session, ids, message):
        return ReplyOutcome(word, tuple(ids), 0, 0, 0, 0, duplicate=True)
    if word is Keyword.stop:
        return _stop(session, secret_key=secret_key, message=message, matched=matched)
    return _start(session, secret_key=secret_key, message=message, matched=matched)


def _stop(session: Session, *, secret_key: str, message: InboundSms, matched: list[Person]) -> ReplyOutcome:
    changes = 0
    for person in matched:
        state = current_consent(session, person.id).get("sms")
        if state is None or state["granted"]:
            record_consent(
                session,
                person_id=person.id,
                channel="sms",
                granted=False,
                source=STOP_SOURCE,
                note=_note(message),
            )
            changes += 1
    numbers = {message.sender, *(p.phone for p in matched if p.phone)}
    suppressed = sum(
        suppress(
            session,
            secret_key=secret_key,
            kind="phone",
            address=number,
            reason=STOP_REASON,
            source=STOP_SOURCE,
        )
        for number in sorted(numbers)
    )
    cancelled = cancel_pending(
        session, person_ids=[p.id for p in matched], channel="sms", reason="the person replied STOP"
    )
    ids = tuple(p.id for p in matched)
    return ReplyOutcome(Keyword.stop, ids, changes, suppressed, 0, cancelled, duplicate=False)


def _start(session: Session, *, secret_key: str, message: InboundSms, matched: list[Person]) -> ReplyOutcome:
    regranted: list[Person] = []
    for person in matched:
        state = current_consent(session, person.id).get("sms")
        if (
            state is not None
            and not state["granted"]
            and state["source"] == STOP_SOURCE
            and _sent_after(state["at"], message)
        ):
            record_consent(
                session,
                person_id=person.id,
                channel="sms",
                granted=True,
                source=START_SOURCE,
                note=_note(message),
            )
            regranted.append(person)
    lifted = 0
    if regranted:
        numbers = {message.sender, *(p.phone for p in regranted if p.phone)}
        hashes = sorted({address_hash(secret_key, "phone", n) for n in numbers})
        result = session.execute(
            delete(Suppression).where(
                Suppression.kind == "phone",
                Suppression.reason == STOP_REASON,
                Suppression.address_hash.in_(hashes),
            )
        )
        lifted = rows_changed(result)
    ids = tuple(p.id for p in matched)
    return ReplyOutcome(Keyword.start, ids, len(regranted), 0, lifted, 0, duplicate=False)
