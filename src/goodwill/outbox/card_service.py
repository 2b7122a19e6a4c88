"""Printing the day's handwritten cards: choose them, render one PDF, and only then mark them sent.

**Which cards.** Every queued card message due on or before the day: its ``not_before`` (or, when
it has none, the moment it was approved) falls before the end of that day in the business's time
zone. A day skipped is not a card lost: the next run picks up what is still waiting, and
``not_after`` is not applied (a late card is still a card). Cards for a later day wait for it.
They print in the order they were approved (message id). Not printed, and left queued with the
reason reported so staff can fix it: a person with no usable postal address, a person who has
withdrawn consent to cards (or was erased), and a note that does not fit the card or has a
character the fonts cannot draw.

**Marking sent.** The PDF is written to a temporary file beside ``out_path``, flushed to disk and
renamed over it; only then are the printed messages marked sent (``mark_sent_by_hand``: the
attempt, the ``card_sent`` event, the relationship bank), with the provider id
``cards:<day>:<file name>:<first 12 hex of the file's SHA-256>``. If anything fails before the
rename, nothing is marked. Running again prints nothing new and does not touch ``out_path``. If the
database cannot commit after the rename, the cards stay queued and the next run prints them again.

**Two people printing at once.** The cards are claimed (queued -> sending, in this transaction)
before rendering, so a second run waits for the first and then finds nothing left to print.

**Reprint.** ``reprint=True`` renders the cards already printed for that day (by the provider
id) again, in the same order, with today's addresses, and changes nothing in the database. The
same checks apply: someone who has since withdrawn consent or lost their address is held.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import uuid
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from goodwill.config import Settings
from goodwill.db import utcnow
from goodwill.outbox.cards import CardJob, missing_address, page_numbers, postal_lines, return_lines
from goodwill.outbox.delivered import mark_sent_by_hand
from goodwill.outbox.model import Message, MessageStatus
from goodwill.people.model import Person
from goodwill.people.service import consents_in_force

CHANNEL = "card"


@dataclass(frozen=True)
class PrintedCard:
    message_id: int
    person_id: int | None
    name: str
    card_page: int
    envelope_page: int


@dataclass(frozen=True)
class HeldCard:
    """A card not printed; it stays as it was (queued) until the reason is fixed."""

    message_id: int
    person_id: int | None
    name: str
    reason: str  # no_person, no_address, no_consent, too_long, unsupported_characters
    detail: str


@dataclass
class CardPrintReport:
    day: date
    reprint: bool
    out_path: Path | None = None  # None: nothing was written
    printed: list[PrintedCard] = field(default_factory=list)
    held: list[HeldCard] = field(default_factory=list)
    already_printed: int = 0  # cards of the day printed by an earlier run
    provider_id: str | None = None
    sha256: str | None = None

    @property
    def pages(self) -> int:
        return 2 * len(self.printed)

    def as_dict(self) -> dict[str, Any]:
        return {
            "date": self.day.isoformat(),
            "reprint": self.reprint,
            "out": str(self.out_path) if self.out_path else None,
            "pages": self.pages,
            "printed": [asdict(card) for card in self.printed],
            "held": [asdict(card) for card in self.held],
            "already_printed": self.already_printed,
            "provider_id": self.provider_id,
            "sha256": self.sha256,
        }


def day_end(day: date, settings: Settings) -> datetime:
    """The first instant after ``day`` in the business's time zone."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=settings.business.tz)


def batch_prefix(day: date) -> str:
    return f"cards:{day.isoformat()}:"


def _due(day: date, settings: Settings) -> Any:
    end = day_end(day, settings)
    return or_(Message.not_before < end, and_(Message.not_before.is_(None), Message.created_at < end))


def _candidates(session: Session, *, day: date, settings: Settings, reprint: bool) -> list[Message]:
    query = select(Message).where(Message.channel == CHANNEL)
    if reprint:
        query = query.where(
            Message.status == MessageStatus.sent, Message.provider_id.startswith(batch_prefix(day))
        )
    else:
        query = query.where(Message.status == MessageStatus.queued, _due(day, settings))
    return list(session.scalars(query.order_by(Message.id)))


def _jobs(session: Session, messages: list[Message]) -> tuple[list[CardJob], list[HeldCard]]:
    """Who can be written to by post now; the others, with the reason."""
    ids = sorted({m.person_id for m in messages if m.person_id is not None})
    people = {p.id: p for p in session.scalars(select(Person).where(Person.id.in_(ids)))} if ids else {}
    consent = consents_in_force(session, ids) if ids else {}
    jobs: list[CardJob] = []
    held: list[HeldCard] = []
    for message in messages:
        person = people.get(message.person_id) if message.person_id is not None else None
        if person is None:
            held.append(HeldCard(message.id, message.person_id, "", "no_person", "the person was removed"))
            continue
        name = person.name.strip() or (person.preferred_name or "").strip()
        granted = consent.get(person.id, {}).get(CHANNEL)
        if not granted:
            what = "withdrew consent to" if granted is False else "never consented to"
            detail = f"{name or 'the person'} {what} cards; the card was not printed"
            held.append(HeldCard(message.id, person.id, name, "no_consent", detail))
            continue
        lacking = missing_address(
            name=name, line1=person.address_line1, city=person.city, postal_code=person.postal_code
        )
        if lacking:
            detail = f"no postal address: add {lacking} to person #{person.id}, then print again"
            held.append(HeldCard(message.id, person.id, name, "no_address", detail))
            continue
        address = postal_lines(
            name=name,
            line1=person.address_line1,
            line2=person.address_line2,
            city=person.city,
            region=person.region,
            postal_code=person.postal_code,
            country=person.country,
        )
        jobs.append(CardJob(message.id, person.id, name, message.body, tuple(address)))
    return jobs, held


def _claim(session: Session, jobs: list[CardJob], token: str, now: datetime) -> list[CardJob]:
    """Queued -> sending for this run; a card another run has taken meanwhile is left out."""
    ids = [job.message_id for job in jobs]
    session.execute(
        update(Message)
        .where(Message.id.in_(ids), Message.status == MessageStatus.queued)
        .values(status=MessageStatus.sending, claimed_at=now, claimed_by=token)
        .execution_options(synchronize_session=False)
    )
    mine = set(
        session.scalars(
            select(Message.id).where(
                Message.id.in_(ids), Message.claimed_by == token, Message.status == MessageStatus.sending
            )
        )
    )
    return [job for job in jobs if job.message_id in mine]


def _release(session: Session, token: str, ids: list[int]) -> None:
    """Back to queued, as if this run had never seen them."""
    if ids:
        session.execute(
            update(Message)
            .where(Message.id.in_(ids), Message.claimed_by == token, Message.status == MessageStatus.sending)
            .values(status=MessageStatus.queued, claimed_at=None, claimed_by=None)
            .execution_options(synchronize_session=False)
        )


def write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, flush it to disk, then rename it over ``path``."""
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    if hasattr(os, "O_DIRECTORY"):  # make the rename itself durable (POSIX)
        folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


def print_cards(
    session: Session,
    *,
    day: date,
    out_path: Path,
    settings: Settings,
    printed_by: str,
    reprint: bool = False,
    now: datetime | None = None,
) -> CardPrintReport:
    """Render the cards due by ``day`` to ``out_path`` and mark them sent (see the module docstring)."""
    from goodwill.outbox.card_pdf import render_cards

    now = now or utcnow()
    report = CardPrintReport(day=day, reprint=reprint)
    messages = _candidates(session, day=day, settings=settings, reprint=reprint)
    if not reprint:
        report.already_printed = len(_candidates(session, day=day, settings=settings, reprint=True))
    jobs, report.held = _jobs(session, messages)
    token = f"cards:{uuid.uuid4().hex}"
    if not reprint and jobs:
        jobs = _claim(session, jobs, token, now)
    if not jobs:
        return report
    sender = return_lines(settings.business.name, settings.business.postal_address)
    try:
        rendered = render_cards(
            jobs, sender=sender, title=f"{settings.business.name}: cards for {day}", created_at=now
        )
        by_id = {m.id: m for m in messages}
        for problem in rendered.problems:
            message = by_id[problem.message_id]
            name = next((j.name for j in jobs if j.message_id == problem.message_id), "")
            report.held.append(HeldCard(message.id, message.person_id, name, problem.reason, problem.detail))
        if rendered.pdf is not None:
            write_atomically(out_path, rendered.pdf)
    except BaseException:
        if not reprint:
            # Best effort: the caller's rollback undoes the claim anyway, and the first error matters.
            with contextlib.suppress(SQLAlchemyError):
                _release(session, token, [job.message_id for job in jobs])
        raise
    if not reprint:
        _release(session, token, [p.message_id for p in rendered.problems])
    if rendered.pdf is None:
        return report
    report.out_path = out_path
    report.sha256 = hashlib.sha256(rendered.pdf).hexdigest()
    count = len(rendered.printed)
    for number, job in enumerate(rendered.printed, start=1):
        card_page, envelope_page = page_numbers(number, count)
        report.printed.append(PrintedCard(job.message_id, job.person_id, job.name, card_page, envelope_page))
    if reprint:
        return report
    report.provider_id = f"{batch_prefix(day)}{out_path.name[:120]}:{report.sha256[:12]}"
    mark_sent_by_hand(
        session,
        message_ids=[job.message_id for job in rendered.printed],
        channel=CHANNEL,
        done_by=printed_by,
        provider_id=report.provider_id,
        at=now,
        settings=settings,
    )
    return report
