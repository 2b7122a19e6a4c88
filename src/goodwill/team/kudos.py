"""Kudos: thanks between colleagues, from managers, and from customers (routed from praise events).

The rules that decide (who a praise text names, how many points are left) are plain functions at
the top; the services below take a session and never commit. The thanks wall is in ``wall.py``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from goodwill.config import Settings
from goodwill.db import among, ignoring_duplicates
from goodwill.people.model import Person
from goodwill.team.model import Kudos, KudosFrom, User
from goodwill.team.wall import WallCard as WallCard
from goodwill.team.wall import display_name
from goodwill.team.wall import received_counts as received_counts
from goodwill.team.wall import wall as wall

MIN_REASON = 3
MAX_REASON = 1000
# Whole words: a hyphen joins names ("Anne-Marie" is not "Anne"), an apostrophe does not ("Tom's").
_BEFORE = r"(?<![\w-])"
_AFTER = r"(?![\w-])"
# First names that are everyday words: opening a sentence ("Will definitely come back!") they are
# read as the word. Inside a sentence a capital letter is enough ("thanks to Will").
EVERYDAY_NAMES = frozenset(
    {
        "will", "mark", "may", "grace", "bill", "rob", "pat", "joy", "hope", "faith", "june", "april",
        "rose", "frank", "drew", "sue", "jack", "art", "bob", "dawn", "ray", "guy", "max", "sandy", "chase",
        "miles", "grant", "lance", "carol", "dean", "summer", "hunter", "penny", "amber", "ruby", "holly",
        "ivy", "lily", "iris", "daisy", "glen", "gene", "nick", "rich", "cliff", "dale", "wade", "chip",
        "buck", "earl", "eve", "sky", "storm", "heather", "fern", "norm", "sunny", "honey", "crystal", "don",
    }
)  # fmt: skip
_OPENERS = " \t\"'\u201c\u2018\u00ab(*"  # what may stand between a sentence's end and its first word


class KudosError(ValueError):
    """Kudos that cannot be given as asked; ``field`` names what to fix, the message says why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


# ---- pure rules --------------------------------------------------------------------------------


def clean_reason(reason: str) -> str:
    cleaned = (reason or "").replace("\x00", "").strip()  # PostgreSQL text cannot hold NUL
    if len(cleaned) < MIN_REASON:
        raise KudosError("reason", f"say what you are thanking them for (at least {MIN_REASON} characters)")
    if len(cleaned) > MAX_REASON:
        raise KudosError("reason", f"the reason is at most {MAX_REASON} characters (it has {len(cleaned)})")
    return cleaned


def _plain(text: str) -> str:
    """Accents off, case kept: "Zoë" -> "Zoe"."""
    return "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))


def _name_pattern(name: str) -> str:
    return _BEFORE + r"\s+".join(re.escape(word) for word in name.split()) + _AFTER


def _without(text: str, names: Iterable[str]) -> str:
    for name in names:
        text = re.sub(_name_pattern(name), " ", text, flags=re.IGNORECASE)
    return text


def _opens_sentence(text: str, start: int) -> bool:
    before = text[:start].rstrip(_OPENERS)
    return not before or before[-1] in ".!?\u2026\n\r"


def _written_as_name(text: str, first_name: str) -> bool:
    """The first name appears capitalised as the member of staff writes it, and not as an everyday
    word opening a sentence."""
    name = first_name[:1].upper() + first_name[1:]
    everyday = name.casefold() in EVERYDAY_NAMES
    return any(
        not (everyday and _opens_sentence(text, found.start()))
        for found in re.finditer(_name_pattern(name), text)
    )


def _own_names(author: Iterable[str]) -> tuple[list[str], list[str]]:
    """The customer's own names of more than one word (their name; "anna.smith" from their email),
    to take out before full names are looked for, and every word of them and of their preferred
    name, to take out before first names are (a lone "Anna" must not hide "Anna Berg")."""
    whole: list[str] = []
    words: list[str] = []
    for given in author:
        name = _plain(given or "").strip().split("@")[0]
        pieces = [w for w in re.split(r"[\W_]+" if "@" in given else r"\s+", name) if len(w) >= 2]
        whole += [name] if len(pieces) > 1 else []
        words += pieces
    return whole, words


def staff_named_in(text: str, staff: Iterable[tuple[int, str]], *, author: Sequence[str] = ()) -> int | None:
    """The one member of staff a customer's words name, or None when nobody or more than one is named.

    A full name ("Tom Baker", in any case) is the strongest sign, so one full-name match wins.
    Otherwise the first name must point at exactly one person, and be written as a name: with its
    capital letter ("Tom", not "tom" or "TOM"; nothing counts in a text all in capitals), and, for a
    first name that is an everyday word (``EVERYDAY_NAMES``), not as a sentence's first word.
    ``author``: the customer's name, preferred name and email; their own name (a signature) names
    nobody. Accents never matter; whole words only.
    """
    plain = _plain(text or "")
    if not plain.strip():
        return None
    whole, words = _own_names(author)
    for_full = _without(plain, whole)
    for_first = _without(for_full, words) if any(ch.islower() for ch in plain) else ""
    by_full: set[int] = set()
    by_first: set[int] = set()
    for user_id, name in staff:
        parts = _plain(name).split()
        if not parts:
            continue
        if len(parts) > 1 and re.search(_name_pattern(" ".join(parts)), for_full, re.IGNORECASE):
            by_full.add(user_id)
        if for_first and _written_as_name(for_first, parts[0]):
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


def _lock_giver(session: Session, giver_id: int) -> None:
    """Serialise one giver's kudos until commit, so two at once cannot both spend the last points.

    PostgreSQL locks the giver's row. SQLite ignores FOR UPDATE, and pysqlite opens no transaction
    before the first write: a no-op write to the giver's row comes first, so the database's write
    lock is taken before the spent points are read (others wait on the busy timeout)."""
    if session.get_bind().dialect.name == "sqlite":
        no_op = update(User).where(User.id == giver_id).values(active=User.active)
        session.execute(no_op.execution_options(synchronize_session=False))
    else:
        session.execute(select(User.id).where(User.id == giver_id).with_for_update())


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
        _lock_giver(session, giver.id)
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


def _staff(session: Session) -> tuple[list[tuple[int, str]], set[int]]:
    """Every member of staff with a name (a former one can make a first name ambiguous), and who is active."""
    rows = session.execute(select(User.id, User.name, User.active)).all()
    return [(r.id, r.name) for r in rows if r.name], {r.id for r in rows if r.active}


def _praised(event: Any, person: Person | None, staff: list[tuple[int, str]], active: set[int]) -> int | None:
    """Who served them (when still on the staff), else the one active member of staff the words name."""
    if event.staff_id in active:
        return int(event.staff_id)
    author = (person.name, person.preferred_name or "", person.email or "") if person else ()
    named = staff_named_in(event.text or "", staff, author=author)
    return named if named in active else None


def route_praise(session: Session, *, event_ids: Sequence[int], settings: Settings) -> int:
    """Turn customer praise among ``event_ids`` into kudos for the staff member who served them or
    whom the words name, and tell their manager. Deactivated staff get none. One kudos per event,
    however often this runs; returns how many new."""
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
    staff, active = _staff(session)
    created = 0
    for event in praise:
        person = session.get(Person, event.person_id)
        staff_id = _praised(event, person, staff, active)
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
