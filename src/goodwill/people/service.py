"""Operations on people. Every function takes a session; the caller's unit of work commits."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, bindparam, case, func, select, text, true, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import BindParameter

from goodwill.db import MAX_ID, among, as_utc, insert_ignoring_duplicates, matching, utcnow
from goodwill.events.model import Event
from goodwill.events.service import counts_as_spend
from goodwill.money import to_decimal
from goodwill.people.model import (
    Channel,
    ConsentChange,
    Fact,
    Person,
    PersonIdentity,
    PersonKind,
    fold,
    normalise_email,
    search_key_for,
)


class PersonNotFound(LookupError):
    pass


@dataclass
class PersonRecord:
    """A person as an importer or the API sees them, before we know whether they exist."""

    name: str = ""
    email: str | None = None
    external: tuple[str, str] | None = None  # (namespace, id) in another system
    kind: str = PersonKind.prospect.value
    preferred_name: str | None = None
    phone: str | None = None
    address_line1: str | None = None
    address_line2: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = None
    preferred_channel: str | None = None
    time_zone: str | None = None
    consent: dict[str, bool] = field(default_factory=dict)

    def identity_keys(self) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        if self.email:
            found.append(("email", normalise_email(self.email)))
        if self.external:
            found.append(self.external)
        return found


def _columns(record: PersonRecord) -> dict[str, Any]:
    email = record.email.strip() if record.email else None
    return {
        "kind": record.kind,
        "name": record.name.strip(),
        "preferred_name": record.preferred_name,
        "email": email,
        "phone": record.phone,
        "address_line1": record.address_line1,
        "address_line2": record.address_line2,
        "city": record.city,
        "region": record.region,
        "postal_code": record.postal_code,
        "country": record.country,
        "preferred_channel": record.preferred_channel,
        "time_zone": record.time_zone,
        "search_key": search_key_for(record.name, record.preferred_name, email, record.phone),
    }


def find_ids(session: Session, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """Map identity keys to person ids, for the keys that are known."""
    by_namespace: dict[str, set[str]] = {}
    for namespace, value in keys:
        by_namespace.setdefault(namespace, set()).add(value)
    found: dict[tuple[str, str], int] = {}
    for namespace, values in by_namespace.items():
        for chunk in matching(session, PersonIdentity.value, sorted(values)):
            rows = session.execute(
                select(PersonIdentity.value, PersonIdentity.person_id).where(
                    PersonIdentity.namespace == namespace, chunk
                )
            )
            for value, person_id in rows:
                found[(namespace, value)] = person_id
    return found


def resolve_people(
    session: Session, records: Sequence[PersonRecord], *, source: str = "import"
) -> tuple[list[int], int]:
    """Find or create the person behind each record, in bulk.

    Returns the person id for each record (same order) and how many people were created.
    Records sharing an email or external id within the batch resolve to the same person, and a
    key seen for the first time is attached to whoever the record resolved to. When a record's
    keys point at two different people, its first key (the email) wins. A record with no key at
    all always creates a new person.
    """
    all_keys = [r.identity_keys() for r in records]
    known = find_ids(session, (key for keys in all_keys for key in keys))
    # A reference is a person id (int) or the index of a record that will create a person (str).
    refs: list[int | str] = []
    new_keys: dict[tuple[str, str], int | str] = {}
    creators: list[int] = []
    for index, keys in enumerate(all_keys):
        ref: int | str | None = None
        for key in keys:
            ref = known.get(key)
            if ref is None:
                ref = new_keys.get(key)
            if ref is not None:
                break
        if ref is None:
            ref = str(index)
            creators.append(index)
        for key in keys:
            if key not in known and key not in new_keys:
                new_keys[key] = ref
        refs.append(ref)

    created_ids: dict[str, int] = {}
    now = utcnow()
    if creators:
        new_ids = _new_person_ids(session, len(creators))
        # Ids chosen up front: a plain executemany is ~20x faster than ordered RETURNING,
        # which SQLite can only do one row per statement.
        _insert_rows(
            session,
            Person,
            [
                {**_columns(records[i]), "id": pid, "created_at": now, "updated_at": now}
                for i, pid in zip(creators, new_ids, strict=True)
            ],
        )
        created_ids = {str(i): pid for i, pid in zip(creators, new_ids, strict=True)}
        consent_rows = [
            {"person_id": created_ids[str(i)], "channel": ch, "granted": ok, "source": source, "at": now}
            for i in creators
            for ch, ok in records[i].consent.items()
        ]
        _insert_rows(session, ConsentChange, consent_rows)

    def person_of(ref: int | str) -> int:
        return created_ids[ref] if isinstance(ref, str) else ref

    identity_rows = [
        {"person_id": person_of(ref), "namespace": key[0], "value": key[1]} for key, ref in new_keys.items()
    ]
    _insert_rows(session, PersonIdentity, identity_rows)
    return [person_of(ref) for ref in refs], len(creators)


COPY_FROM_ROWS = 100  # below this a plain INSERT is as quick as COPY, and goes through SQLAlchemy


def _insert_rows(session: Session, model: Any, rows: list[dict[str, Any]]) -> None:
    """Insert dicts sharing the same keys: COPY on PostgreSQL for big batches, else executemany.

    An import resolves thousands of people per batch; psycopg's executemany still sends one
    INSERT per row, where COPY streams them all in one statement.
    """
    if not rows:
        return
    table = model.__table__
    if len(rows) < COPY_FROM_ROWS or not _is_postgres(session):
        session.execute(table.insert(), rows)
        return
    columns = list(rows[0])
    cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor, cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([row[c] for c in columns])


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _new_person_ids(session: Session, count: int) -> list[int]:
    if _is_postgres(session):
        # One row of text, not one row per id: fetching thousands of result rows costs more than nextval.
        ids = session.scalar(
            text(
                "SELECT string_agg(nextval(pg_get_serial_sequence('people', 'id'))::text, ',') "
                "FROM generate_series(1, :n)"
            ),
            {"n": count},
        )
        return [int(i) for i in str(ids).split(",")]
    # SQLite gives a new row max(id) + 1 anyway; a concurrent writer makes the insert fail, never mix ids.
    top = session.scalar(select(func.max(Person.id))) or 0
    return list(range(top + 1, top + 1 + count))


def mark_customers(session: Session, person_ids: Iterable[int]) -> None:
    """A prospect who buys becomes a customer."""
    for chunk in matching(session, Person.id, sorted(set(person_ids))):
        session.execute(
            update(Person)
            .where(chunk, Person.kind != PersonKind.customer.value)
            .values(kind=PersonKind.customer.value)
        )


def get_person(session: Session, ref: str | int) -> Person:
    """By id or by email (any of the person's emails)."""
    text = str(ref).strip()
    person: Person | None = None
    if text.isdigit():
        # An id past 64 bits names nobody; the database would refuse to even look it up.
        person = session.get(Person, int(text)) if int(text) <= MAX_ID else None
    else:
        person_id = session.scalar(
            select(PersonIdentity.person_id).where(
                PersonIdentity.namespace == "email", PersonIdentity.value == normalise_email(text)
            )
        )
        person = session.get(Person, person_id) if person_id is not None else None
    if person is None:
        raise PersonNotFound(f"no person with id or email {text!r}")
    return person


def search_people(
    session: Session, *, query: str = "", kind: str | None = None, page: int = 1, per_page: int = 25
) -> tuple[list[Person], int]:
    stmt = select(Person)
    if query.strip():
        terms = fold(query).split()
        stmt = stmt.where(*(Person.search_key.contains(term, autoescape=True) for term in terms))
    if kind:
        stmt = stmt.where(Person.kind == kind)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(
        stmt.order_by(Person.name, Person.id).offset((max(page, 1) - 1) * per_page).limit(per_page)
    ).all()
    return list(rows), total


def create_person(session: Session, record: PersonRecord, *, source: str) -> tuple[Person, bool]:
    """Create a person, or return the existing one with the same email / external id."""
    [person_id], created = resolve_people(session, [record], source=source)
    person = session.get(Person, person_id)
    assert person is not None
    return person, created == 1


def add_fact(session: Session, *, person_id: int, text: str, source: str, user_id: int | None = None) -> Fact:
    clean = " ".join(text.split())
    if not clean:
        raise ValueError("a fact cannot be empty")
    if len(clean) > 500:
        raise ValueError("a fact is at most 500 characters")
    existing = session.scalar(select(Fact).where(Fact.person_id == person_id, Fact.text == clean))
    if existing:
        return existing
    fact = Fact(person_id=person_id, text=clean, source=source, created_by_id=user_id)
    session.add(fact)
    session.flush()
    return fact


def add_facts_bulk(session: Session, rows: Sequence[tuple[int, str]], *, source: str) -> int:
    """Store (person_id, text) facts not already known; returns how many were new."""
    wanted = {(pid, " ".join(t.split())[:500]) for pid, t in rows if t.strip()}
    known: set[tuple[int, str]] = set()
    for chunk in matching(session, Fact.person_id, sorted({pid for pid, _ in wanted})):
        known.update(
            (pid, text) for pid, text in session.execute(select(Fact.person_id, Fact.text).where(chunk))
        )
    new = sorted(wanted - known)
    now = utcnow()
    insert_ignoring_duplicates(
        session,
        Fact.__table__,  # type: ignore[arg-type]
        [{"person_id": p, "text": t, "source": source, "created_at": now} for p, t in new],
    )
    return len(new)


def record_consent(
    session: Session,
    *,
    person_id: int,
    channel: str,
    granted: bool,
    source: str,
    note: str | None = None,
    at: datetime | None = None,
) -> ConsentChange:
    if channel not in Channel.__members__:
        raise ValueError(f"unknown channel {channel!r}; use one of {', '.join(Channel.__members__)}")
    change = ConsentChange(
        person_id=person_id, channel=channel, granted=granted, source=source, note=note, at=at or utcnow()
    )
    session.add(change)
    session.flush()
    return change


def current_consent(session: Session, person_id: int) -> dict[str, dict[str, Any]]:
    """The change in force per channel: ``{"email": {"granted": True, "source": ..., "at": ...}}``."""
    return consent_in_force(consent_history(session, person_id))


def consent_in_force(history: Sequence[ConsentChange]) -> dict[str, dict[str, Any]]:
    """``current_consent`` from the person's ``consent_history`` (newest first), reading nothing:
    per channel the newest change (by time, then id) is the one in force."""
    state: dict[str, dict[str, Any]] = {}
    for change in history:
        if change.channel not in state:
            state[change.channel] = {"granted": change.granted, "source": change.source, "at": change.at}
    return state


def consents_in_force(
    session: Session, person_ids: Sequence[int], *, channel: str | None = None
) -> dict[int, dict[str, bool]]:
    """For many people at once: channel -> granted, from the newest change per channel (by time,
    then id), the rule of ``current_consent``; a channel never mentioned is absent (never consented).
    ``channel`` reads only that one. One statement, however many people.
    """
    if not person_ids:
        return {}
    query = select(ConsentChange.person_id, ConsentChange.channel, ConsentChange.granted).where(
        among(session, ConsentChange.person_id, person_ids)
    )
    if channel is not None:
        query = query.where(ConsentChange.channel == channel)
    found: dict[int, dict[str, bool]] = {}
    # Oldest first, so the last row of each person and channel is the one in force.
    for person_id, name, granted in session.execute(
        query.order_by(ConsentChange.person_id, ConsentChange.channel, ConsentChange.at, ConsentChange.id)
    ):
        found.setdefault(person_id, {})[name] = bool(granted)
    return found


# One person's reads, built once with a bound person id: the person page runs them all, and building
# a statement per call (and SQLAlchemy working out its cache key again) was much of their cost.
_PERSON_ID: BindParameter[int] = bindparam("person_id")
CONSENT_HISTORY = (
    select(ConsentChange)
    .where(ConsentChange.person_id == _PERSON_ID)
    .order_by(ConsentChange.at.desc(), ConsentChange.id.desc())
)
FACTS = select(Fact).where(Fact.person_id == _PERSON_ID).order_by(Fact.id)
EMAILS = (
    select(PersonIdentity.value)
    .where(PersonIdentity.person_id == _PERSON_ID, PersonIdentity.namespace == "email")
    .order_by(PersonIdentity.id)
)


def consent_history(session: Session, person_id: int) -> list[ConsentChange]:
    return list(session.scalars(CONSENT_HISTORY, {"person_id": person_id}).all())


def facts(session: Session, person_id: int) -> list[Fact]:
    return list(session.scalars(FACTS, {"person_id": person_id}).all())


def emails(session: Session, person_id: int) -> list[str]:
    return list(session.scalars(EMAILS, {"person_id": person_id}).all())


@dataclass(frozen=True)
class PurchaseTotals:
    orders: int
    total_spent: Decimal
    currency: str
    first_order_at: datetime | None
    last_order_at: datetime | None


_PURCHASE = Event.kind == "purchase"
_IN_CURRENCY = Event.currency == bindparam("currency")
# Built once: ``counts_as_spend`` makes a fresh alias of the orders table per call, whose columns
# SQLAlchemy rebuilt on every page view.
PURCHASE_TOTALS = select(
    func.count(case((_PURCHASE, 1))),
    func.min(case((_PURCHASE, Event.occurred_at))),
    func.max(case((_PURCHASE, Event.occurred_at))),
    func.coalesce(func.sum(case((and_(_PURCHASE, _IN_CURRENCY), Event.amount_minor))), 0),
    func.coalesce(func.sum(case((and_(Event.kind == "refund", _IN_CURRENCY), Event.amount_minor))), 0),
).where(Event.person_id == _PERSON_ID, Event.kind.in_(("purchase", "refund")), counts_as_spend())


def purchase_totals(session: Session, person_id: int, *, currency: str) -> PurchaseTotals:
    """Purchases (cancelled orders are never purchases) and spend net of refunds, in ``currency``.

    Amounts in other currencies are not converted (Goodwill keeps no exchange rates); they are
    left out of ``total_spent`` but still count as orders.
    """
    row = session.execute(PURCHASE_TOTALS, {"person_id": person_id, "currency": currency}).one()
    return _totals(row, currency)


def _totals(row: Sequence[Any], currency: str) -> PurchaseTotals:
    orders, first, last, spent, refunded = row
    return PurchaseTotals(
        orders=int(orders),
        total_spent=to_decimal(int(spent or 0) - int(refunded or 0), currency),
        currency=currency,
        first_order_at=as_utc(first),
        last_order_at=as_utc(last),
    )


# The person and their ``purchase_totals`` in one statement (the aggregate always has one row).
_TOTALS = PURCHASE_TOTALS.subquery("totals")
PERSON_WITH_TOTALS = select(Person, *_TOTALS.c).join(_TOTALS, true()).where(Person.id == bindparam("id"))


def person_with_totals(session: Session, person_id: int, *, currency: str) -> tuple[Person, PurchaseTotals]:
    """``get_person`` by id and ``purchase_totals``, read together (the person page shows both)."""
    row = (
        session.execute(
            PERSON_WITH_TOTALS, {"id": person_id, "person_id": person_id, "currency": currency}
        ).first()
        if 0 <= person_id <= MAX_ID
        else None
    )
    if row is None:
        raise PersonNotFound(f"no person with id or email {str(person_id)!r}")
    return row[0], _totals(row[1:], currency)


def person_summary(session: Session, person: Person, *, currency: str) -> dict[str, Any]:
    """The ``people show --json`` shape."""
    totals = purchase_totals(session, person.id, currency=currency)
    consent = current_consent(session, person.id)
    return {
        "id": person.id,
        "name": person.name,
        "preferred_name": person.preferred_name,
        "email": person.email,
        "emails": emails(session, person.id),
        "phone": person.phone,
        "kind": person.kind,
        "preferred_channel": person.preferred_channel,
        "time_zone": person.time_zone,
        "orders": totals.orders,
        "total_spent": str(totals.total_spent),
        "currency": totals.currency,
        "first_order_at": totals.first_order_at.isoformat() if totals.first_order_at else None,
        "last_order_at": totals.last_order_at.isoformat() if totals.last_order_at else None,
        "facts": [f.text for f in facts(session, person.id)],
        "consent": {
            ch: {"granted": c["granted"], "source": c["source"], "at": c["at"].isoformat()}
            for ch, c in consent.items()
        },
    }
