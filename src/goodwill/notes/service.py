"""Draft, check, revise, approve or skip notes. Approval queues the outbox row in the same unit of work."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from goodwill.config import Settings
from goodwill.db import as_utc, rows_changed, utcnow
from goodwill.notes.context import context_for
from goodwill.notes.drafting import TemplateSet, draft_note, load_templates, variant_for
from goodwill.notes.model import Note, NoteStatus
from goodwill.notes.sincerity import Check, check_note
from goodwill.outbox.model import Message
from goodwill.people import service as people
from goodwill.people.model import Person
from goodwill.planner.domain import Moment
from goodwill.planner.model import PlanItem
from goodwill.planner.service import moment_of
from goodwill.team.model import Role, User


class NoteError(ValueError):
    """A note cannot do what was asked; the message says why in plain words."""


class NoteNotFound(LookupError):
    pass


class NoteDecided(NoteError):
    """The note was already approved or skipped (a conflict, not a mistake in the request)."""


class NoteBlocked(NoteError):
    """The sincerity check found blocking problems: fix them before approving."""

    def __init__(self, check: Check) -> None:
        kinds = ", ".join(sorted({p.kind.replace("_", " ") for p in check.problems if p.blocking}))
        super().__init__(f"the note has problems to fix before it can be approved: {kinds}")
        self.check = check


@lru_cache(maxsize=4)
def _templates(extra_dir: Path | None) -> TemplateSet:
    return load_templates(extra_dir)


def templates_for(settings: Settings) -> TemplateSet:
    return _templates(settings.notes.templates_dir)


def check_for(session: Session, *, person: Person, body: str, channel: str) -> Check:
    facts = [f.text for f in people.facts(session, person.id)]
    names = [n for n in (person.preferred_name, person.name.split()[0] if person.name.split() else None) if n]
    return check_note(body, first_name=person.greeting_name, facts=facts, channel=channel, known_names=names)


def _writers(session: Session, *, managers: bool) -> list[User]:
    roles = [Role.manager.value, Role.admin.value] if managers else [Role.agent.value]
    found = session.scalars(
        select(User).where(User.active.is_(True), User.role.in_(roles)).order_by(User.id)
    ).all()
    if found:
        return list(found)
    return list(session.scalars(select(User).where(User.active.is_(True)).order_by(User.id)).all())


def _week_usage(session: Session, moment: str, today: date) -> dict[str, int]:
    monday = today - timedelta(days=today.weekday())
    since = datetime.combine(monday, time(0)).replace(tzinfo=utcnow().tzinfo)
    rows = session.execute(
        select(Note.template, func.count())
        .where(Note.moment == moment, Note.created_at >= since)
        .group_by(Note.template)
    )
    return {row[0]: row[1] for row in rows}


def new_note(
    session: Session,
    *,
    person: Person,
    moment: Moment,
    channel: str,
    writer: User | None,
    settings: Settings,
    today: date,
    plan_item_id: int | None,
) -> Note:
    """Draft, check and store a note for one person and moment (from the plan, or by hand)."""
    templates = templates_for(settings)
    context = context_for(
        session, person=person, moment=moment, channel=channel, writer=writer, settings=settings
    )
    week = f"{today.isocalendar().year}-W{today.isocalendar().week:02d}"
    names = templates.variants(moment.kind)
    variant = variant_for(
        person.id, week, len(names), _week_usage(session, moment.kind.value, today), names=names
    )
    draft = draft_note(context, templates=templates, variant=variant)
    check = check_for(session, person=person, body=draft.body, channel=channel)
    note = Note(
        person_id=person.id,
        plan_item_id=plan_item_id,
        moment=moment.kind.value,
        evidence=moment.evidence,
        channel=channel,
        subject=draft.subject,
        body=draft.body,
        template=draft.template,
        score=check.score,
        ok=check.ok,
        problems=[problem_dict(p) for p in check.problems],
        writer_id=writer.id if writer is not None else None,
    )
    session.add(note)
    session.flush()
    return note


def problem_dict(problem: Any) -> dict[str, Any]:
    return {"kind": problem.kind, "text": problem.text, "hint": problem.hint, "blocking": problem.blocking}


def draft_plan_items(session: Session, *, items: Sequence[PlanItem], settings: Settings) -> list[Note]:
    """A draft for each new plan item, signed by a team member in turn (recoveries by a manager)."""
    writers = {True: _writers(session, managers=True), False: _writers(session, managers=False)}
    turn = {True: 0, False: 0}
    notes: list[Note] = []
    for item in items:
        person = session.get(Person, item.person_id)
        if person is None:
            continue
        pool = writers[item.by_manager]
        writer = pool[turn[item.by_manager] % len(pool)] if pool else None
        turn[item.by_manager] += 1
        notes.append(
            new_note(
                session,
                person=person,
                moment=moment_of(item),
                channel=item.channel,
                writer=writer,
                settings=settings,
                today=item.day,
                plan_item_id=item.id,
            )
        )
    return notes


def get_note(session: Session, note_id: int) -> Note:
    note = session.scalars(select(Note).where(Note.id == note_id)).one_or_none()
    if note is None:
        raise NoteNotFound(f"no note {note_id}")
    return note


def _person(session: Session, note: Note) -> Person:
    person = session.get(Person, note.person_id)
    if person is None:  # pragma: no cover - the foreign key cascades
        raise NoteNotFound(f"note {note.id} has no person")
    return person


def _recheck(session: Session, note: Note) -> Check:
    check = check_for(session, person=_person(session, note), body=note.body, channel=note.channel)
    note.score = check.score
    note.ok = check.ok
    note.problems = [problem_dict(p) for p in check.problems]
    return check


def _plain_lines(text: str) -> str:
    """Browsers post a textarea's line breaks as CRLF; notes store LF so edits compare and count right."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _claim(session: Session, note_id: int) -> Note:
    """Take a draft for this transaction, or refuse: a conditional UPDATE on its status.

    Two reviewers approving, skipping or editing the same note at once are serialised by it on
    every backend (SQLite has no SELECT ... FOR UPDATE); the loser sees the note already decided.
    """
    claimed = session.execute(
        update(Note)
        .where(Note.id == note_id, Note.status == NoteStatus.draft)
        .values(updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    note = session.scalars(
        select(Note).where(Note.id == note_id).execution_options(populate_existing=True)
    ).one_or_none()
    if note is None:
        raise NoteNotFound(f"no note {note_id}")
    if rows_changed(claimed) != 1:
        raise NoteDecided(f"note {note.id} is already {note.status}")
    return note


def _consent_refusal(session: Session, note: Note, item: PlanItem | None) -> str | None:
    """Why the note's channel may not be used now (consent can change between plan and review)."""
    state = people.current_consent(session, note.person_id).get(note.channel)
    if state is not None and state["granted"]:
        return None
    if note.channel == "call" and state is None and item is not None and item.channel == "call":
        return None  # a call they asked for, planned as such by the contact policy
    what = "withdrew consent for" if state is not None else "has not consented to"
    return f"the person {what} {note.channel}; skip this note or draft one for another channel"


def _window(
    session: Session, note: Note, item: PlanItem | None, settings: Settings | None
) -> tuple[datetime | None, datetime | None]:
    """Quiet hours for SMS and calls: the plan's window, or today's local hours for a note drafted by hand."""
    if item is not None:
        return as_utc(item.window_start), as_utc(item.window_end)
    if note.channel not in ("sms", "call"):
        return None, None
    from goodwill.planner.config import PolicyConfig
    from goodwill.planner.policy import contact_window, zone_for

    person = _person(session, note)
    policy = settings.planner.policy if settings is not None else PolicyConfig()
    zone = zone_for(person.time_zone or (settings.business.timezone if settings is not None else "UTC"))
    day = datetime.now(zone).date()
    return contact_window(day, zone, policy.contact_from_hour, policy.contact_until_hour)


def revise(session: Session, *, note_id: int, body: str, subject: str | None, user_id: int) -> Note:
    body = _plain_lines(body)
    note = _claim(session, note_id)
    if not body.strip():
        raise NoteError("a note needs some words")
    note.body = body.strip()
    if subject is not None and note.channel == "email":
        note.subject = subject.strip()[:200]
    note.edited_by_id = user_id
    _recheck(session, note)
    return note


def approve(
    session: Session,
    *,
    note_id: int,
    user_id: int,
    body: str | None = None,
    subject: str | None = None,
    settings: Settings | None = None,
) -> Message:
    """Approve a draft: the outbox message is written in this same transaction.

    Refused when the check finds a blocking problem or the person's consent for the channel is
    no longer in force.
    """
    note = _claim(session, note_id)
    body = _plain_lines(body) if body is not None else None
    if body is not None and (body.strip() != note.body or (subject is not None and subject != note.subject)):
        revise(session, note_id=note_id, body=body, subject=subject, user_id=user_id)
    check = _recheck(session, note)
    if not check.ok:
        raise NoteBlocked(check)
    item = session.get(PlanItem, note.plan_item_id) if note.plan_item_id is not None else None
    refusal = _consent_refusal(session, note, item)
    if refusal is not None:
        raise NoteError(refusal)
    now = utcnow()
    not_before, not_after = _window(session, note, item, settings)
    message = Message(
        person_id=note.person_id,
        channel=note.channel,
        purpose="appreciation",
        note_id=note.id,
        subject=note.subject,
        body=note.body,
        not_before=not_before,
        not_after=not_after,
        next_attempt_at=not_before or now,
        created_by_id=user_id,
    )
    session.add(message)
    note.status = NoteStatus.approved
    note.decided_by_id = user_id
    note.decided_at = now
    if item is not None:
        item.status = "approved"
    session.flush()
    return message


def skip(session: Session, *, note_id: int, user_id: int, reason: str) -> Note:
    """Decide not to send; the reason is kept, and the plan's slot is freed for someone else."""
    if not reason.strip():
        raise NoteError("say why the note is skipped (for example: 'spoke to them yesterday')")
    note = _claim(session, note_id)
    note.status = NoteStatus.skipped
    note.skip_reason = reason.strip()[:500]
    note.decided_by_id = user_id
    note.decided_at = utcnow()
    if note.plan_item_id is not None:
        item = session.get(PlanItem, note.plan_item_id)
        if item is not None:
            item.status = "skipped"
    return note


@dataclass(frozen=True)
class QueueRow:
    note: Note
    person_name: str
    writer_name: str | None
    reason: str | None
    priority: int | None


def queue(
    session: Session, *, status: str = NoteStatus.draft, writer_id: int | None = None, limit: int = 100
) -> list[QueueRow]:
    """Notes waiting for review (or decided ones), highest plan priority first."""
    query = (
        select(Note, Person.name, User.name, PlanItem.reason, PlanItem.priority)
        .join(Person, Person.id == Note.person_id)
        .outerjoin(User, User.id == Note.writer_id)
        .outerjoin(PlanItem, PlanItem.id == Note.plan_item_id)
        .where(Note.status == status)
    )
    if writer_id is not None:
        query = query.where(Note.writer_id == writer_id)
    query = query.order_by(PlanItem.priority.desc().nulls_last(), Note.id).limit(limit)
    return [
        QueueRow(note=n, person_name=p, writer_name=w, reason=r, priority=pr)
        for n, p, w, r, pr in session.execute(query).all()
    ]


def note_dict(note: Note) -> dict[str, Any]:
    return {
        "id": note.id,
        "person_id": note.person_id,
        "plan_item_id": note.plan_item_id,
        "moment": note.moment,
        "evidence": note.evidence,
        "channel": note.channel,
        "subject": note.subject,
        "body": note.body,
        "template": note.template,
        "status": note.status,
        "check": {"ok": note.ok, "score": note.score, "problems": note.problems},
        "writer_id": note.writer_id,
        "edited_by_id": note.edited_by_id,
        "decided_by_id": note.decided_by_id,
        "decided_at": note.decided_at.isoformat() if note.decided_at else None,
        "skip_reason": note.skip_reason,
    }


def plan_and_draft(
    session: Session, *, day: date, settings: Settings, planned_by_id: int | None = None
) -> tuple[Any, list[Note]]:
    """Plan ``day`` (adding to any plan already made) and draft a note for each new item."""
    from goodwill.planner.service import make_plan

    outcome = make_plan(session=session, day=day, settings=settings, planned_by_id=planned_by_id)
    return outcome, draft_plan_items(session, items=outcome.new_items, settings=settings)


def draft_on_request(
    session: Session, *, ref: str, moment: str | None, channel: str | None, settings: Settings
) -> Note:
    """Draft for one person now: their strongest moment today, or the one asked for."""
    from goodwill.people.service import get_person
    from goodwill.planner.service import moments_for_person

    person = get_person(session, ref)
    today = datetime.now(settings.business.tz).date()
    found = moments_for_person(session, person_id=person.id, day=today, settings=settings)
    if moment is not None:
        found = [m for m in found if m.kind.value == moment]
    if not found:
        wanted = f"{moment.replace('_', ' ')} moment" if moment else "moment"
        raise NoteError(
            f"{person.name or person.id} has no {wanted} today, "
            "so there is nothing specific to thank them for"
        )
    chosen = found[0]
    consented = [c for c, state in people.current_consent(session, person.id).items() if state["granted"]]
    if channel is None:
        order = [person.preferred_channel, *settings.planner.policy.channel_order]
        channel = next((c for c in order if c in consented), None)
        if channel is None:
            raise NoteError(f"{person.name or person.id} has not consented to any channel we could use")
    elif channel not in consented:
        raise NoteError(f"{person.name or person.id} has not consented to {channel}")
    return new_note(
        session,
        person=person,
        moment=chosen,
        channel=channel,
        writer=None,
        settings=settings,
        today=today,
        plan_item_id=None,  # outside the daily plan; it still goes through review
    )
