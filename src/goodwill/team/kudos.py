"""Kudos: thanks between colleagues, from managers, and from customers (routed from praise events).

The rules that decide (who a praise text names, how many points are left) are plain functions at
the top; the services below take a session and never commit. The thanks wall is a read model.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from goodwill.config import Settings
from goodwill.db import among, ignoring_duplicates
from goodwill.people.model import Person, fold
from goodwill.team.model import Kudos, KudosFrom, User

MIN_REASON = 3
MAX_REASON = 1000
# Whole words: a hyphen joins names ("Anne-Marie" is not "Anne"), an apostrophe does not ("Tom's").
_BEFORE = r"(?<![\w-])"
_AFTER = r"(?![\w-])"


class KudosError(ValueError):
    """Kudos that cannot be given as asked; ``field`` names what to fix, the message says why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


# ---- pure rules --------------------------------------------------------------------------------


def clean_reason(reason: str) -> str:
    cleaned = (reason or "").strip()
    if len(cleaned) < MIN_REASON:
        raise KudosError("reason", f"say what you are thanking them for (at least {MIN_REASON} characters)")
    if len(cleaned) > MAX_REASON:
        raise KudosError("reason", f"the reason is at most {MAX_REASON} characters (it has {len(cleaned)})")
    return cleaned


def _folded_words(text: str) -> str:
    return " ".join(fold(text).split())


def _mentions(folded_text: str, folded_name: str) -> bool:
    return bool(folded_name) and re.search(_BEFORE + re.escape(folded_name) + _AFTER, folded_text) is not None


def staff_named_in(text: str, staff: Iterable[tuple[int, str]]) -> int | None:
    """The one member of staff a customer's words name, or None when nobody or more than one is named.

    A full name ("Tom Baker") is the strongest sign, so one full-name match wins; otherwise the
    first name must point at exactly one person. Matching ignores case and accents, whole words only.
    """
    folded = _folded_words(text or "")
    if not folded:
        return None
    by_full: set[int] = set()
    by_first: set[int] = set()
    for user_id, name in staff:
        words = _folded_words(name).split()
        if not words:
            continue
        if len(words) > 1 and _mentions(folded, " ".join(words)):
            by_full.add(user_id)
        if _mentions(folded, words[0]):
            by_first.add(user_id)
    if by_full:
        return next(iter(by_full)) if len(by_full) == 1 else None
    return next(iter(by_first)) if len(by_first) == 1 else None


def month_start(now: datetime, tz: ZoneInfo) -> datetime:
    """The start of ``now``'s calendar month in the business time zone, in UTC."""
    local = now.astimezone(tz)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def check_points(points: int, *, allowance: int, spent: int) -> None:
    """Raise KudosError unless ``points`` fit what is left of the monthly allowance."""
    if points < 0:
        raise KudosError("points", "points cannot be negative")
    if allowance == 0:
        if points:
            raise KudosError("points", "kudos here carry thanks, not points (there is no monthly allowance)")
        return
    left = max(allowance - spent, 0)
    if points > left:
        raise KudosError("points", f"You have {left} of your {allowance} points left this month")


# ---- services ----------------------------------------------------------------------------------


def _active_user(session: Session, user_id: int | None, *, field: str) -> User:
    user = session.get(User, user_id) if user_id is not None else None
    if user is None or not user.active:
        raise KudosError(field, f"no active member of staff with id {user_id}")
    return user


def _spent_this_month(session: Session, *, user_id: int, since: datetime) -> int:
    total = session.scalar(
        select(func.coalesce(func.sum(Kudos.points), 0)).where(
            Kudos.from_user_id == user_id, Kudos.created_at >= since
        )
    )
    return int(total or 0)


def allowance_left(session: Session, *, user_id: int, settings: Settings, now: datetime) -> int | None:
    """Points the user may still give this month; None when the business has no allowance."""
    allowance = settings.team.monthly_allowance
    if not allowance:
        return None
    since = month_start(now, settings.business.tz)
    return max(allowance - _spent_this_month(session, user_id=user_id, since=since), 0)


def display_name(user: User) -> str:
    return user.name or user.email.split("@")[0]


def give_kudos(
    session: Session,
    *,
    from_user_id: int,
    to_user_id: int,
    reason: str,
    settings: Settings,
    now: datetime,
    points: int = 0,
    person_id: int | None = None,
    complaint_id: int | None = None,
) -> Kudos:
    from goodwill.team.notices import notify
    from goodwill.team.teams import team_of

    cleaned = clean_reason(reason)
    if from_user_id == to_user_id:
        raise KudosError("to_user_id", "thank someone else: kudos to yourself do not count")
    giver = _active_user(session, from_user_id, field="from_user_id")
    recipient = _active_user(session, to_user_id, field="to_user_id")
    if person_id is not None and session.get(Person, person_id) is None:
        raise KudosError("person_id", f"no customer with id {person_id}")
    if complaint_id is not None:
        from goodwill.complaints.model import Complaint

        if session.get(Complaint, complaint_id) is None:
            raise KudosError("complaint_id", f"no complaint with id {complaint_id}")
    allowance = settings.team.monthly_allowance
    if points or allowance:
        # Serialise one giver's kudos (PostgreSQL; SQLite has one writer anyway) so two at once
        # cannot both spend the last points.
        session.execute(select(User.id).where(User.id == giver.id).with_for_update())
        spent = _spent_this_month(session, user_id=giver.id, since=month_start(now, settings.business.tz))
        check_points(points, allowance=allowance, spent=spent)
    team = team_of(session, recipient.id)
    kind = KudosFrom.manager if team is not None and team.manager_id == giver.id else KudosFrom.colleague
    kudos = Kudos(
        to_user_id=recipient.id,
        from_user_id=giver.id,
        from_kind=kind.value,
        reason=cleaned,
        points=points,
        person_id=person_id,
        complaint_id=complaint_id,
        created_at=now,
    )
    session.add(kudos)
    session.flush()
    extra = f" (+{points} points)" if points else ""
    notify(
        session,
        user_id=recipient.id,
        kind="kudos",
        key=f"kudos:{kudos.id}",
        text=f"{display_name(giver)} thanked you{extra}: {cleaned[:200]}",
        link=f"/team#kudos-{kudos.id}",
    )
    return kudos


def _active_staff(session: Session) -> list[tuple[int, str]]:
    rows = session.execute(select(User.id, User.name).where(User.active.is_(True), User.name != ""))
    return [(row.id, row.name) for row in rows]


def route_praise(session: Session, *, event_ids: Sequence[int], settings: Settings) -> int:
    """Turn customer praise among ``event_ids`` into kudos for the staff member it names or who served
    them, and tell their manager. One kudos per event, however often this runs; returns how many new."""
    from goodwill.events.model import Event
    from goodwill.team.notices import notify
    from goodwill.team.teams import manager_of

    if not event_ids:
        return 0
    praise = list(
        session.scalars(
            select(Event)
            .where(Event.kind == "praise", among(session, Event.id, list(event_ids)))
            .order_by(Event.id)
        )
    )
    if not praise:
        return 0
    staff: list[tuple[int, str]] | None = None
    created = 0
    for event in praise:
        staff_id = event.staff_id
        if staff_id is None:
            staff = _active_staff(session) if staff is None else staff
            staff_id = staff_named_in(event.text or "", staff)
        if staff_id is None:
            continue
        words = (event.text or "").strip()[:MAX_REASON]
        row = {
            "to_user_id": staff_id,
            "from_user_id": None,
            "from_kind": KudosFrom.customer.value,
            "reason": words,
            "points": 0,
            "person_id": event.person_id,
            "event_id": event.id,
            "created_at": min(event.occurred_at, event.recorded_at or event.occurred_at),
        }
        kudos_id = session.execute(
            ignoring_duplicates(session, Kudos.__table__).values(row).returning(Kudos.id)
        ).scalar_one_or_none()
        if kudos_id is None:
            continue  # routed before
        created += 1
        link = f"/team#kudos-{kudos_id}"
        notify(
            session,
            user_id=staff_id,
            kind="praise",
            key=f"praise:{kudos_id}",
            text="A customer praised you",
            link=link,
        )
        manager = manager_of(session, staff_id)
        if manager is not None:
            person = session.get(Person, event.person_id)
            staff_user = session.get(User, staff_id)
            who = (person.greeting_name if person else "") or "A customer"
            name = display_name(staff_user) if staff_user else "someone in your team"
            notify(
                session,
                user_id=manager.id,
                kind="praise",
                key=f"praise:{kudos_id}",
                text=f"{who} praised {name}",
                link=link,
            )
    return created


# ---- the thanks wall ---------------------------------------------------------------------------


@dataclass(frozen=True)
class WallCard:
    id: int
    from_kind: str
    giver: str  # the colleague's name, or "a customer"
    customer_first_name: str  # customers only; never their email or surname
    recipient: str
    recipient_id: int
    reason: str  # "" when an erased customer's words must not show
    points: int
    at: datetime
    person_id: int | None  # the customer moment, linked when the person is still there
    complaint_id: int | None

    @property
    def from_customer(self) -> bool:
        return self.from_kind == KudosFrom.customer.value


def wall(
    session: Session, *, limit: int = 50, before_id: int | None = None, to_user_id: int | None = None
) -> list[WallCard]:
    """The newest kudos first; ``before_id`` pages back, ``to_user_id`` keeps one person's thanks."""
    from goodwill.people.privacy import erasure_recorded

    giver = aliased(User)
    recipient = aliased(User)
    stmt = (
        select(Kudos, giver, recipient, Person.name, Person.preferred_name, erasure_recorded(Kudos.person_id))
        .join(recipient, recipient.id == Kudos.to_user_id)
        .outerjoin(giver, giver.id == Kudos.from_user_id)
        .outerjoin(Person, Person.id == Kudos.person_id)
        .order_by(Kudos.id.desc())
        .limit(max(1, min(limit, 201)))
    )
    if before_id is not None:
        stmt = stmt.where(Kudos.id < before_id)
    if to_user_id is not None:
        stmt = stmt.where(Kudos.to_user_id == to_user_id)
    cards = []
    for kudos, from_user, to_user, person_name, preferred, erased in session.execute(stmt):
        from_customer = kudos.from_kind == KudosFrom.customer.value
        gone = erased or kudos.person_id is None
        first = "" if gone else (preferred or (person_name or "").split(" ")[0])
        cards.append(
            WallCard(
                id=kudos.id,
                from_kind=kudos.from_kind,
                giver="a customer"
                if from_customer
                else (display_name(from_user) if from_user else "a former colleague"),
                customer_first_name=first if from_customer else "",
                recipient=display_name(to_user),
                recipient_id=to_user.id,
                reason="" if from_customer and gone else kudos.reason,
                points=kudos.points,
                at=kudos.created_at,
                person_id=None if gone else kudos.person_id,
                complaint_id=kudos.complaint_id,
            )
        )
    return cards


def received_counts(session: Session, *, since: datetime, limit: int = 10) -> list[tuple[str, int]]:
    """Thanks received since ``since`` per person, most first (only shown when show_ranking is on)."""
    rows = session.execute(
        select(User, func.count(Kudos.id).label("n"))
        .join(Kudos, Kudos.to_user_id == User.id)
        .where(Kudos.created_at >= since)
        .group_by(User.id)
        .order_by(func.count(Kudos.id).desc(), User.id)
        .limit(limit)
    ).all()
    return [(display_name(user), int(n)) for user, n in rows]
