"""The manager's weekly digest: who on the team carried the difficult work, and who has not been thanked.

For the 7 local days ending ``week_ending`` (the business time zone), per member of staff:
complaints they resolved (``resolved_by_id``), how many of those within the resolution SLA
(``resolved_at <= resolution_due_at``), recoveries, escalated complaints they resolved, and notes
they approved (``decided_by_id``: the person who read, edited and sent the thanks). A **recovery** is
a complaint resolved while the person's relationship was in trouble: their bank standing, computed
from the entries made before the resolution (``goodwill.bank.rules.standing``), was watch or overdrawn.

**Not thanked lately**: no kudos (from anyone, customers' praise included) in the
``[team] thanked_lately_days`` local days ending ``week_ending``. The digest puts the people who did
difficult work and were not thanked lately first. Everything here is plain data, so the page, the
CLI, the email and the JSON share it. The page shows any 7 days (today's by default); the email
always covers a complete ISO week, Monday to Sunday. See docs/team-digest.md.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from goodwill.bank.config import load_bank_config
from goodwill.bank.model import BankEntry
from goodwill.bank.rules import Effect, Entry, Side, Status, standing
from goodwill.complaints.model import Complaint
from goodwill.config import Settings
from goodwill.db import as_utc
from goodwill.notes.model import Note, NoteStatus
from goodwill.outbox.model import Message
from goodwill.outbox.rules import STAFF
from goodwill.team.model import Kudos, Role, Team, TeamMember, User
from goodwill.team.notices import notify

# What each piece of work adds to the "difficult work" score. A resolved complaint is the heaviest
# (someone was upset and it was put right); doing it in time, winning back a relationship in trouble
# and taking on an escalated one each add to it; an approved thank-you note is lighter work.
WEIGHTS = {"resolved": 3, "in_sla": 1, "recovery": 2, "escalation": 1, "note": 1}
TROUBLE = frozenset({Status.watch, Status.overdrawn})


# The weeks a digest can be asked for: far enough inside the calendar that the week, the week
# before and after, and the thanked-lately window (up to a year) all stay within it.
EARLIEST_WEEK, LATEST_WEEK = date(1900, 1, 1), date(9998, 12, 31)


class DigestRefused(PermissionError):
    """The viewer may not see a digest (agents: the digest is for managers and admins)."""


class WeekNotOver(ValueError):
    """The ISO week asked for has not ended yet in the business time zone: its email would be partial."""


@dataclass(frozen=True)
class MemberWork:
    user_id: int
    name: str
    email: str
    role: str
    complaints_resolved: int
    resolved_in_sla: int
    recoveries: int
    escalations: int
    notes_approved: int
    score: int
    kudos_recent: int  # kudos received in the thanked-lately window
    last_thanked_on: date | None  # local date of their latest kudos up to the end of the week
    not_thanked_lately: bool

    @property
    def worth_thanking(self) -> bool:
        return self.not_thanked_lately and self.score > 0

    @property
    def reasons(self) -> list[str]:
        """The work, in words a manager can repeat when saying thanks."""
        said = []
        if self.complaints_resolved:
            said.append(
                f"resolved {_count(self.complaints_resolved, 'complaint')}"
                f" ({self.resolved_in_sla} within the SLA)"
            )
        if self.recoveries:
            said.append(f"won back {_count(self.recoveries, 'customer')} whose relationship was in trouble")
        if self.escalations:
            said.append(f"took on {_count(self.escalations, 'escalated complaint')}")
        if self.notes_approved:
            said.append(f"sent {_count(self.notes_approved, 'thank-you note')}")
        return said

    @property
    def display_name(self) -> str:
        return self.name or self.email


@dataclass(frozen=True)
class Digest:
    week_start: date
    week_ending: date
    scope: str  # "team": the teams the viewer manages; "all": every active member of staff
    thanked_lately_days: int
    members: tuple[MemberWork, ...]

    @property
    def worth_thanking(self) -> list[MemberWork]:
        return [m for m in self.members if m.worth_thanking]

    @property
    def the_rest(self) -> list[MemberWork]:
        return [m for m in self.members if not m.worth_thanking]

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for row, member in zip(data["members"], self.members, strict=True):
            row.update(worth_thanking=member.worth_thanking, reasons=member.reasons)
        return dict(_jsonable(data))


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value.isoformat() if isinstance(value, date) else value


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The start of a local day, in UTC (DST-aware: a day may last 23 or 25 hours)."""
    return datetime.combine(day, time(0), tz).astimezone(UTC)


def week_bounds(week_ending: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) in UTC of the 7 local days ending ``week_ending``."""
    return local_midnight(week_ending - timedelta(days=6), tz), local_midnight(week_ending + timedelta(1), tz)


def today_in(tz: ZoneInfo, now: datetime) -> date:
    return now.astimezone(tz).date()


def check_week(day: date) -> date:
    """``day`` as the last day of a week, or ValueError when it is too near the calendar's ends."""
    if not EARLIEST_WEEK <= day <= LATEST_WEEK:
        raise ValueError(
            f"{day.isoformat()} is outside the weeks a digest covers ({EARLIEST_WEEK} to {LATEST_WEEK})"
        )
    return day


def iso_week_ending(day: date) -> date:
    """The Sunday that ends ``day``'s ISO week (Monday to Sunday)."""
    return day + timedelta(days=7 - day.isoweekday())


def last_complete_week(now: datetime, tz: ZoneInfo) -> date:
    """The Sunday ending the last ISO week that is over in the business time zone: on a Monday,
    yesterday; on a Sunday, a week ago (today is not over yet)."""
    today = today_in(tz, now)
    return today - timedelta(days=today.isoweekday())


def digest_members(session: Session, *, viewer_id: int, viewer_role: str) -> tuple[str, list[User]]:
    """Whom the viewer's digest covers: the members of the teams they manage, or (admins) all staff."""
    if viewer_role == Role.admin:
        scope, wanted = "all", select(User).where(User.active.is_(True))
    elif viewer_role == Role.manager:
        managed = select(TeamMember.user_id).join(Team, Team.id == TeamMember.team_id)
        scope = "team"
        wanted = select(User).where(
            User.active.is_(True), User.id.in_(managed.where(Team.manager_id == viewer_id))
        )
    else:
        raise DigestRefused(f"the team digest is for managers and admins, not {viewer_role}s")
    # Nobody is asked to thank themselves.
    return scope, list(session.scalars(wanted.where(User.id != viewer_id).order_by(User.id)))


def weekly_digest(
    session: Session, *, viewer_id: int, viewer_role: str, week_ending: date, settings: Settings
) -> Digest:
    """The digest as the viewer may see it (agents are refused with ``DigestRefused``)."""
    scope, members = digest_members(session, viewer_id=viewer_id, viewer_role=viewer_role)
    return build_digest(session, members=members, scope=scope, week_ending=week_ending, settings=settings)


def build_digest(
    session: Session, *, members: list[User], scope: str, week_ending: date, settings: Settings
) -> Digest:
    tz = settings.business.tz
    start, end = week_bounds(week_ending, tz)
    days = settings.team.thanked_lately_days
    since = local_midnight(week_ending + timedelta(days=1 - days), tz)
    ids = [m.id for m in members]
    work = _complaint_work(session, ids, start, end, settings) if ids else {}
    notes = _notes_approved(session, ids, start, end) if ids else {}
    kudos = _kudos(session, ids, since, end) if ids else {}
    rows = []
    for user in members:
        resolved, in_sla, recoveries, escalations = work.get(user.id, (0, 0, 0, 0))
        approved = notes.get(user.id, 0)
        recent, last = kudos.get(user.id, (0, None))
        score = (
            WEIGHTS["resolved"] * resolved
            + WEIGHTS["in_sla"] * in_sla
            + WEIGHTS["recovery"] * recoveries
            + WEIGHTS["escalation"] * escalations
            + WEIGHTS["note"] * approved
        )
        rows.append(
            MemberWork(
                user_id=user.id,
                name=user.name,
                email=user.email,
                role=user.role,
                complaints_resolved=resolved,
                resolved_in_sla=in_sla,
                recoveries=recoveries,
                escalations=escalations,
                notes_approved=approved,
                score=score,
                kudos_recent=recent,
                last_thanked_on=last.astimezone(tz).date() if last else None,
                not_thanked_lately=recent == 0,
            )
        )
    rows.sort(key=lambda m: (not m.not_thanked_lately, -m.score, m.display_name.casefold(), m.user_id))
    return Digest(week_ending - timedelta(days=6), week_ending, scope, days, tuple(rows))


def _complaint_work(
    session: Session, ids: list[int], start: datetime, end: datetime, settings: Settings
) -> dict[int, tuple[int, int, int, int]]:
    """Per member: (resolved, within SLA, recoveries, escalated) of the complaints they resolved."""
    found = session.execute(
        select(
            Complaint.id,
            Complaint.resolved_by_id,
            Complaint.person_id,
            Complaint.resolved_at,
            Complaint.resolution_due_at,
            Complaint.escalated_at,
        ).where(
            Complaint.resolved_by_id.in_(ids), Complaint.resolved_at >= start, Complaint.resolved_at < end
        )
    ).all()
    in_trouble = _in_trouble_before(
        session, {row.id: (row.person_id, row.resolved_at) for row in found}, settings
    )
    totals: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for row in found:
        counts = totals[row.resolved_by_id]
        counts[0] += 1
        counts[1] += int(row.resolved_at <= row.resolution_due_at)
        counts[2] += int(row.id in in_trouble)
        counts[3] += int(row.escalated_at is not None)
    return {user_id: (c[0], c[1], c[2], c[3]) for user_id, c in totals.items()}


def _in_trouble_before(
    session: Session, resolutions: dict[int, tuple[int, datetime]], settings: Settings
) -> set[int]:
    """The complaints whose person's bank status, just before the resolution, was watch or overdrawn."""
    if not resolutions:
        return set()
    config = load_bank_config(settings)
    latest = max(at for _, at in resolutions.values())
    entries: dict[int, list[Entry]] = defaultdict(list)
    for row in session.scalars(
        select(BankEntry).where(
            BankEntry.person_id.in_({pid for pid, _ in resolutions.values()}), BankEntry.at < latest
        )
    ):
        entries[row.person_id].append(
            Entry(row.event_id, row.kind, row.rule, row.amount, row.at, Side(row.side), Effect(row.effect))
        )
    moment = timedelta(microseconds=1)  # the resolution's own deposit is not made yet
    return {
        complaint_id
        for complaint_id, (pid, at) in resolutions.items()
        if standing(entries[pid], config, as_of=at - moment).status in TROUBLE
    }


def _notes_approved(session: Session, ids: list[int], start: datetime, end: datetime) -> dict[int, int]:
    rows = session.execute(
        select(Note.decided_by_id, func.count())
        .where(
            Note.decided_by_id.in_(ids),
            Note.status == NoteStatus.approved,
            Note.decided_at >= start,
            Note.decided_at < end,
        )
        .group_by(Note.decided_by_id)
    )
    return {user_id: int(n) for user_id, n in rows if user_id is not None}


def _kudos(
    session: Session, ids: list[int], since: datetime, end: datetime
) -> dict[int, tuple[int, datetime | None]]:
    """Per member: kudos received in [since, end), and when they were last thanked before ``end``."""
    recent = func.sum(case((Kudos.created_at >= since, 1), else_=0))
    rows = session.execute(
        select(Kudos.to_user_id, recent, func.max(Kudos.created_at))
        .where(Kudos.to_user_id.in_(ids), Kudos.created_at < end)
        .group_by(Kudos.to_user_id)
    )
    return {user_id: (int(n or 0), as_utc(last)) for user_id, n, last in rows if user_id is not None}


# ---- the weekly email ---------------------------------------------------------------------------

EMAIL_SUBJECT = "Your team this week"


def _day(day: date) -> str:
    return f"{day.day} {day:%b}"


def iso_week_key(week_ending: date) -> str:
    year, week, _ = week_ending.isocalendar()
    return f"digest:{year}-W{week:02d}"


def digest_link(settings: Settings, week_ending: date) -> str:
    return f"{settings.delivery.public_url}/team/digest?week={week_ending.isoformat()}"


def email_text(digest: Digest, *, manager: User, settings: Settings) -> str:
    """The plain-text email: who is worth thanking and why; no customer is named in it."""
    span = f"{_day(digest.week_start)} to {_day(digest.week_ending)} {digest.week_ending.year}"
    lines = [f"Hello {manager.name or manager.email},", ""]
    worth = digest.worth_thanking
    if worth:
        lines += [
            f"From {span}, these people on your team carried difficult work and have not been "
            f"thanked in the last {digest.thanked_lately_days} days:",
            "",
        ]
        for member in worth:
            thanked = member.last_thanked_on
            last = f"last thanked {_day(thanked)} {thanked.year}" if thanked else "never thanked"
            lines.append(f"- {member.display_name}: {'; '.join(member.reasons)} ({last}).")
        lines += ["", "A few words from you, saying what they did, go a long way."]
    else:
        lines.append(f"From {span}, everyone on your team who did difficult work has been thanked lately.")
    busy = [m for m in digest.the_rest if m.score > 0]
    if busy:
        lines += ["", "Also busy this week (thanked lately):"]
        lines += [f"- {m.display_name}: {'; '.join(m.reasons)}." for m in busy]
    lines += ["", f"The whole digest, and a way to say thanks: {digest_link(settings, digest.week_ending)}"]
    return "\n".join(lines)


def team_digests(
    session: Session, *, week_ending: date, settings: Settings, manager_ids: Sequence[int] | None = None
) -> list[tuple[User, Digest]]:
    """Each team manager (or those in ``manager_ids``) with their team's digest; empty teams skipped."""
    wanted = select(User).where(
        User.active.is_(True), User.id.in_(select(Team.manager_id).where(Team.manager_id.is_not(None)))
    )
    if manager_ids is not None:
        wanted = wanted.where(User.id.in_(list(manager_ids)))
    found = []
    for manager in session.scalars(wanted.order_by(User.id)).all():
        _, members = digest_members(session, viewer_id=manager.id, viewer_role=Role.manager)
        if members:
            digest = build_digest(
                session, members=members, scope="team", week_ending=week_ending, settings=settings
            )
            found.append((manager, digest))
    return found


def queue_digest_emails(
    session: Session,
    *,
    settings: Settings,
    now: datetime,
    week_ending: date | None = None,
    manager_ids: Sequence[int] | None = None,
) -> int:
    """Queue one email per team manager for a complete ISO week (Monday to Sunday, business time
    zone); returns how many were queued.

    The week is the last one that is over at ``now`` (``last_complete_week``), or the ISO week of
    ``week_ending`` (``WeekNotOver`` while it is still running). Once per manager and week: the
    "digest" notice (``digest:<iso year>-W<week>``) is the record, so running it again queues nothing.
    Managers with nobody in their teams get nothing. Sent by the outbox worker to the manager's own
    address (purpose STAFF, no person, no unsubscribe link).
    """
    tz = settings.business.tz
    if week_ending is None:
        sunday = last_complete_week(now, tz)
    else:
        sunday = iso_week_ending(check_week(week_ending))
        if sunday >= today_in(tz, now):
            raise WeekNotOver(
                f"the week ending {sunday.isoformat()} is not over yet: "
                "its digest can be sent from the day after"
            )
    queued = 0
    for manager, digest in team_digests(
        session, week_ending=sunday, settings=settings, manager_ids=manager_ids
    ):
        worth = len(digest.worth_thanking)
        told = notify(
            session,
            user_id=manager.id,
            kind="digest",
            key=iso_week_key(sunday),
            text=f"Your team this week: {worth} {'person' if worth == 1 else 'people'} worth thanking.",
            link=f"/team/digest?week={sunday.isoformat()}",
        )
        if told is None:
            continue  # told this week already: the email was queued then
        session.add(
            Message(
                person_id=None,
                channel="email",
                purpose=STAFF,
                address=manager.email,
                subject=EMAIL_SUBJECT,
                body=email_text(digest, manager=manager, settings=settings),
                next_attempt_at=now,
                created_at=now,
            )
        )
        queued += 1
    session.flush()
    return queued
