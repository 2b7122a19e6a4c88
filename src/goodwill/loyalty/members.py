"""Who may still take part in the program, and the birthday on a member's account.

An erased person keeps a tombstone row in ``people`` (see ``goodwill.people.privacy``), so "the row
exists" does not mean "someone is there". Erasure is recognised by its record: the revocations it
writes (``goodwill.people.privacy.erasure_recorded``, the one definition of "erased").
No link, redemption or birthday is made for an erased person.

A birthday is a month and a day, never a year: it is all the birthday rule needs, and less to hold.
29 February is allowed (the bonus comes on 28 February in other years).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import BigInteger, bindparam, select
from sqlalchemy.orm import Session

from goodwill.config import Settings
from goodwill.db import MAX_ID
from goodwill.loyalty.ledger import LoyaltyError, Refused, ensure_account
from goodwill.loyalty.links import CustomerLink, customer_link
from goodwill.loyalty.model import LoyaltyAccount
from goodwill.people.model import Person
from goodwill.people.privacy import erasure_recorded
from goodwill.people.service import PersonNotFound

ERASED_CODE = "person_erased"
ERASED_WORDS = "This person was erased: their points can no longer be used and no link can be made."
_LEAP_YEAR = 2000  # any leap year: it makes 29 February a valid date to check against


class BadBirthday(LoyaltyError):
    """A month and day that are not a date (13-01, 30 February, a month without a day)."""


@dataclass(frozen=True)
class Birthday:
    month: int
    day: int

    def label(self) -> str:
        return f"{self.day} {date(_LEAP_YEAR, self.month, 1):%B}"


def is_erased(session: Session, *, person_id: int) -> bool:
    """True if the person was erased (their erasure record exists)."""
    return bool(session.scalar(select(erasure_recorded(person_id))))


_ERASED_OR_NOT = select(erasure_recorded(Person.id)).where(
    Person.id == bindparam("person", type_=BigInteger())
)


def erased_or_not(session: Session, *, person_id: int) -> bool:
    """Whether the person was erased, in one read; ``PersonNotFound`` (404 on the API) for nobody.

    For a redemption, which needs both answers: the person exists, and may still redeem."""
    found = (
        session.execute(_ERASED_OR_NOT, {"person": person_id}).first() if 0 <= person_id <= MAX_ID else None
    )
    if found is None:
        raise PersonNotFound(f"no person with id or email '{person_id}'")
    return bool(found[0])


def refuse_erased(session: Session, *, person_id: int) -> None:
    """``Refused("person_erased")`` for an erased person: nothing may be redeemed, linked or kept."""
    if is_erased(session, person_id=person_id):
        raise Refused(ERASED_CODE, ERASED_WORDS)


def staff_link(session: Session, *, settings: Settings, person_id: int, now: datetime) -> CustomerLink | None:
    """A fresh link to the person's own page for staff to send, or None once they were erased."""
    if is_erased(session, person_id=person_id):
        return None
    return customer_link(settings=settings, person_id=person_id, now=now)


def parse_birthday(text: str) -> Birthday:
    """``MM-DD`` (``02-29``), as the CLI takes it."""
    month, sep, day = text.strip().partition("-")
    if not sep or not month.isdigit() or not day.isdigit():
        raise BadBirthday(f"{text!r} is not a birthday: give month and day as MM-DD, e.g. 02-29")
    return checked(int(month), int(day))


def checked(month: int, day: int) -> Birthday:
    """The birthday, or ``BadBirthday`` saying what is wrong with it."""
    if not 1 <= month <= 12:
        raise BadBirthday(f"month {month} is not a month: give 1 to 12")
    try:
        date(_LEAP_YEAR, month, day)
    except ValueError:
        name = date(_LEAP_YEAR, month, 1).strftime("%B")
        raise BadBirthday(f"{name} has no day {day}") from None
    return Birthday(month, day)


def birthday_of(session: Session, *, person_id: int) -> Birthday | None:
    account = session.get(LoyaltyAccount, person_id)
    if account is None or account.birthday_month is None or account.birthday_day is None:
        return None
    return Birthday(account.birthday_month, account.birthday_day)


def set_birthday(
    session: Session, *, person_id: int, month: int | None, day: int | None, now: datetime
) -> Birthday | None:
    """Keep the person's birthday (month and day) on their account, or forget it (both None).

    Setting one makes them a member (their account is created); forgetting one on no account
    creates nothing. ``BadBirthday`` for a date that does not exist, ``Refused`` once erased.
    """
    refuse_erased(session, person_id=person_id)
    if month is None and day is None:
        account = session.get(LoyaltyAccount, person_id)
        if account is not None:
            account.birthday_month = account.birthday_day = None
        return None
    if month is None or day is None:
        raise BadBirthday("give both the month and the day, or neither to forget the birthday")
    birthday = checked(month, day)
    account = ensure_account(session, person_id=person_id, now=now)
    account.birthday_month, account.birthday_day = birthday.month, birthday.day
    return birthday
