"""The thanks wall: a read model of kudos, newest first, that never shows more of a customer than
their first name, and nothing of a customer who was erased."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from goodwill.people.model import Person
from goodwill.team.model import Kudos, KudosFrom, User


def display_name(user: User) -> str:
    return user.name or user.email.split("@")[0]


@dataclass(frozen=True)
class WallCard:
    id: int
    from_kind: str
    giver: str  # the colleague's name, or "a customer"
    customer_first_name: str  # customers only; never their email or surname
    recipient: str
    recipient_id: int
    reason: str  # "" when there were no words, or when an erased customer's words must not show
    points: int
    at: datetime
    person_id: int | None  # the customer moment, linked when the person is still there
    complaint_id: int | None
    # The reason was removed by an erasure (not: the customer's praise came without words).
    words_erased: bool = False

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
        # Erasure unlinks customer praise from the person; a colleague's reason is never empty
        # unless an erasure blanked it (a reason has at least 3 characters).
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
                words_erased=gone if from_customer else not kudos.reason,
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
