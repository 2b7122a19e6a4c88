"""Keeping each person's bank entries and standing in step with their events.

``refresh_people`` is the incremental path (called in the same transaction that stored events);
``goodwill.bank.rebuild.rebuild`` is the set-based path for everyone after a rules change.
"""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    BindParameter,
    Integer,
    Select,
    Table,
    bindparam,
    case,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy import cast as cast_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from goodwill.bank.config import load_bank_config
from goodwill.bank.model import BankEntry, BankStanding
from goodwill.bank.rules import (
    ADJUSTMENT,
    BankConfig,
    Carried,
    Effect,
    Entry,
    EventFact,
    Side,
    Status,
    appended,
    project,
    score_of,
    standing,
)
from goodwill.config import get_settings
from goodwill.db import DriverStatement, utcnow
from goodwill.events.model import Event
from goodwill.events.service import NewEvent, counts_as_spend, record_event
from goodwill.people.service import get_person

CHUNK = 500
# Only these kinds carry text the rules read; other texts (notes...) are not fetched.
TEXT_KINDS = ("review", ADJUSTMENT)

# Statements built once, on Core tables: refreshing one person is a handful of cached statements,
# with none of the per-call construction and ORM overhead (which cost more than the queries).
_EVENTS = cast(Table, Event.__table__)
_ENTRIES = cast(Table, BankEntry.__table__)
_STANDINGS = cast(Table, BankStanding.__table__)
_IDS: BindParameter[list[int]] = bindparam("ids", expanding=True)
EVENTS_OF = select(
    _EVENTS.c.person_id,
    _EVENTS.c.id,
    _EVENTS.c.kind,
    _EVENTS.c.occurred_at,
    case((_EVENTS.c.kind.in_(TEXT_KINDS), _EVENTS.c.text), else_=None),
    _EVENTS.c.amount_minor,
    _EVENTS.c.currency,
    counts_as_spend(),
).where(_EVENTS.c.person_id.in_(_IDS))
ENTRIES_OF = select(
    _ENTRIES.c.id, _ENTRIES.c.event_id, _ENTRIES.c.rule, _ENTRIES.c.amount, _ENTRIES.c.at
).where(_ENTRIES.c.person_id.in_(_IDS))
STANDINGS_OF = select(
    _STANDINGS.c.person_id,
    _STANDINGS.c.score,
    _STANDINGS.c.bad_streak,
    _STANDINGS.c.status,
    _STANDINGS.c.value_minor,
    _STANDINGS.c.next_due_at,
).where(_STANDINGS.c.person_id.in_(_IDS))
# What appending one event to a person starts from: their stored standing and their latest entry
# (``refresh_appended``). A caller that holds the person's bank may read it with its own statement
# and pass it on (a redemption: ``HOLD_ACCOUNT_AND_BANK``, then the reward read).
STANDING_TO_APPEND = select(
    _STANDINGS.c.score,
    _STANDINGS.c.bad_streak,
    _STANDINGS.c.status,
    _STANDINGS.c.value_minor,
    _STANDINGS.c.next_due_at,
    select(func.max(_ENTRIES.c.at))
    .where(_ENTRIES.c.person_id == _STANDINGS.c.person_id)
    .correlate(_STANDINGS)
    .scalar_subquery()
    .label("last_at"),
).where(_STANDINGS.c.person_id == bindparam("person", type_=_STANDINGS.c.person_id.type))
# The same, and whether the event already has entries.
APPEND_STATE = DriverStatement(
    STANDING_TO_APPEND.add_columns(
        exists()
        .where(_ENTRIES.c.event_id == bindparam("event", type_=_ENTRIES.c.event_id.type))
        .label("seen")
    )
)
# PostgreSQL: one appended entry and the person's new standing (``plan_append``'s parameters), as
# common table expressions that follow a statement's own ``appended_event`` (one row, whose ``id`` is
# the event's; no row, nothing written). A caller that stores the event in the same statement adds
# them to it (a redemption); ENTRY_AND_STANDING is them for an event already stored. An append
# leaves nothing due (``refresh_appended``'s condition), so ``next_due_at`` is NULL.
APPEND_CTES = """
bank_entry AS (
    INSERT INTO bank_entries (person_id, event_id, kind, rule, amount, at, side, effect)
    SELECT :bank_person, id, :bank_entry_kind, :bank_entry_rule, :bank_entry_amount, :bank_entry_at,
           :bank_entry_side, :bank_entry_effect
    FROM appended_event
), bank_standing AS (
    INSERT INTO bank_standings (person_id, score, bad_streak, status, value_minor, next_due_at,
                                computed_at)
    SELECT :bank_person, :bank_score, :bank_bad_streak, :bank_status, :bank_value_minor, NULL,
           :bank_computed_at
    FROM appended_event
    ON CONFLICT (person_id) DO UPDATE SET score = excluded.score, bad_streak = excluded.bad_streak,
        status = excluded.status, value_minor = excluded.value_minor, next_due_at = NULL,
        computed_at = excluded.computed_at
    RETURNING person_id
)"""
APPEND_BINDS = (
    bindparam("bank_entry_at", type_=_ENTRIES.c.at.type),
    bindparam("bank_computed_at", type_=_STANDINGS.c.computed_at.type),
)
ENTRY_AND_STANDING = DriverStatement(
    text(
        "WITH appended_event AS (SELECT CAST(:bank_event AS BIGINT) AS id), "
        + APPEND_CTES
        + "\nSELECT count(*) AS written FROM bank_standing"
    ).bindparams(*APPEND_BINDS)
)
DELETE_ENTRIES = delete(_ENTRIES).where(_ENTRIES.c.id.in_(_IDS))
DELETE_STANDINGS = delete(_STANDINGS).where(_STANDINGS.c.person_id.in_(_IDS))
INSERT_ENTRIES = insert(_ENTRIES)

# Refreshes of one person are serialised (see ``hold_people``). PostgreSQL: transaction-scoped
# advisory locks in the two-int4 key space, which does not overlap the one-bigint space that
# ``goodwill.db.hold_transaction_lock`` and loyalty's ``hold_bulk_lock`` use. Taken in one statement,
# in key order: output expressions are evaluated after ORDER BY (PostgreSQL's SELECT reference).
BANK_LOCK_SPACE = 0x67776262  # "gwbb"
_INT4 = 2**31 - 1
HOLD_PEOPLE = text(
    "SELECT pg_advisory_xact_lock(:space, k) FROM unnest(CAST(:keys AS integer[])) AS k ORDER BY k"
)


def hold_person_sql(person_id: Any) -> Any:
    """PostgreSQL: the expression that holds one person's bank, as ``hold_people`` does, for a caller
    that takes it in a statement of its own (after the locks that come before it: see there)."""
    key = cast_(person_id % _INT4, Integer)
    return func.pg_advisory_xact_lock(literal(BANK_LOCK_SPACE, Integer), key)


# SQLite: any write takes the database's one write lock for the rest of the transaction; this one
# changes nothing.
SQLITE_WRITE_LOCK = update(_STANDINGS).where(literal(False)).values(score=_STANDINGS.c.score)


def _upsert_standings(dialect: Any) -> Any:
    """Insert standings, replacing a person's stored one: one statement, where delete-then-insert
    took two (and could meet a concurrent refresh's insert of the same person)."""
    stmt = dialect.insert(_STANDINGS)
    fields = {
        column.name: stmt.excluded[column.name] for column in _STANDINGS.c if column.name != "person_id"
    }
    return stmt.on_conflict_do_update(index_elements=[_STANDINGS.c.person_id], set_=fields)


UPSERT_STANDINGS = {"postgresql": _upsert_standings(postgresql), "sqlite": _upsert_standings(sqlite)}


@dataclass
class RefreshReport:
    added: int = 0
    removed: int = 0
    changed: int = 0
    statuses: dict[int, str] = field(default_factory=dict)  # person id -> status now


def _chunks(ids: Iterable[int]) -> Iterable[list[int]]:
    ordered = sorted(set(ids))
    for start in range(0, len(ordered), CHUNK):
        yield ordered[start : start + CHUNK]


def hold_people(session: Session, person_ids: Sequence[int]) -> None:
    """Hold these people's bank until the transaction ends: a refresh reads their events and stored
    entries only once no other transaction is refreshing them.

    Without it, under READ COMMITTED two refreshes of one person could both find an event without
    its entry and both insert it (IntegrityError on ``bank_entries (event_id, rule)``), or one could
    read the events before another transaction committed a new one, read the entries after, and
    delete the newer entry as stale. Held, the second refresh reads (each statement taking a fresh
    snapshot) after the first has committed, so it sees both its events and its entries.

    PostgreSQL: one advisory lock per person, in id order; a chunk of a larger refresh is held
    before the next chunk, so everyone locks in one order. Lock order with the rest: the bank is
    the last thing a unit of work holds. Every caller refreshes after its other writes (events,
    the loyalty account held by ``hold_account`` or ``AwardRun.hold``, people rows updated by
    ``mark_customers`` or an import), and takes no new row lock after it (``refresh_tiers`` after
    an award pass only touches accounts that pass already holds). So the order is always "people
    row / loyalty account, then bank", and a wait for the bank can never close a cycle. One
    exception: a redemption holds the bank right after the person's account (one statement), and
    then still takes the reward's row lock and the locks of its writes (key-share locks of foreign
    keys, the rows and unique keys it inserts, the standing). No unit of work holds one of those and
    then waits for a bank: a refund and a reward's edit lock the reward but never touch the bank,
    and ``people`` rows are only updated FOR NO KEY UPDATE, which never blocks a key-share lock.
    A row lock on ``people`` was not used: plain FOR UPDATE conflicts with the KEY SHARE lock every event
    insert takes on its person (deadlocks between two ingesting transactions), and FOR NO KEY
    UPDATE would be a second lock on the row ``mark_customers`` updates before the account lock.

    SQLite: a write that changes nothing, which takes the database's write lock before the events
    are read (a transaction that had read earlier gets SQLITE_BUSY_SNAPSHOT here: an error, never a
    silent loss); a transaction that already wrote holds it already.
    """
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        keys = sorted({person_id % _INT4 for person_id in person_ids})  # ids past int4 share a key
        conn.execute(HOLD_PEOPLE, {"space": BANK_LOCK_SPACE, "keys": keys})
    else:
        conn.execute(SQLITE_WRITE_LOCK)


def _events_and_value(
    session: Session, person_ids: Sequence[int], currency: str
) -> tuple[dict[int, list[EventFact]], dict[int, int]]:
    events: dict[int, list[EventFact]] = defaultdict(list)
    value: dict[int, int] = {}
    for person_id, event_id, kind, at, body, amount, event_currency, spend in session.connection().execute(
        EVENTS_OF, {"ids": list(person_ids)}
    ):
        events[person_id].append(EventFact(event_id, kind, at, body))
        if spend and kind in ("purchase", "refund") and event_currency == currency and amount is not None:
            value[person_id] = value.get(person_id, 0) + (amount if kind == "purchase" else -amount)
    return events, value


def _stored_entries(
    session: Session, person_ids: Sequence[int]
) -> dict[tuple[int, str], tuple[int, int, datetime]]:
    rows = session.connection().execute(ENTRIES_OF, {"ids": list(person_ids)})
    return {(event_id, rule): (entry_id, amount, at) for entry_id, event_id, rule, amount, at in rows}


def _standing_row(
    person_id: int, entries: list[Entry], value: int, config: BankConfig, now: datetime
) -> dict[str, Any]:
    now_standing = standing(entries, config, now)
    made = [e for e in entries if e.at <= now]
    due = [e.at for e in entries if e.at > now]
    return {
        "person_id": person_id,
        "score": sum(score_of(e.amount, e.at, config.half_life_days) for e in made),
        "bad_streak": now_standing.bad_streak,
        "status": now_standing.status.value,
        "value_minor": value,
        "next_due_at": min(due) if due else None,
        "computed_at": now,
    }


def refresh_people(
    *,
    session: Session,
    person_ids: Iterable[int],
    config: BankConfig | None = None,
    currency: str | None = None,
    now: datetime | None = None,
) -> RefreshReport:
    """Recompute these people's entries and standings from their events, in the caller's transaction.

    Only entries that differ are written, so a refresh with nothing new touches no entry rows.
    """
    config = config or load_bank_config(get_settings())
    currency = currency or get_settings().business.currency
    now = now or utcnow()
    report = RefreshReport()
    for chunk in _chunks(person_ids):
        hold_people(session, chunk)  # before reading: see there
        events, value = _events_and_value(session, chunk, currency)
        stored = _stored_entries(session, chunk)
        wanted: dict[tuple[int, str], tuple[int, Entry]] = {}
        standings: list[dict[str, Any]] = []
        for person_id in chunk:
            entries = project(events.get(person_id, []), config)
            for entry in entries:
                wanted[(entry.event_id, entry.rule)] = (person_id, entry)
            report.statuses[person_id] = "healthy"
            if entries or person_id in value:
                standings.append(_standing_row(person_id, entries, value.get(person_id, 0), config, now))
                report.statuses[person_id] = standings[-1]["status"]
        stale = [old[0] for key, old in stored.items() if key not in wanted or _differs(old, wanted[key][1])]
        fresh = [
            _entry_row(person_id, entry)
            for key, (person_id, entry) in wanted.items()
            if key not in stored or _differs(stored[key], entry)
        ]
        report.changed += sum(
            1 for key, old in stored.items() if key in wanted and _differs(old, wanted[key][1])
        )
        report.removed += sum(1 for key in stored if key not in wanted)
        report.added += sum(1 for key in wanted if key not in stored)
        if stale:
            session.connection().execute(DELETE_ENTRIES, {"ids": stale})
        if fresh:
            session.connection().execute(INSERT_ENTRIES, fresh)
        _write_standings(session, chunk, standings)
    return report


@dataclass(frozen=True)
class StoredEvent:
    """An event its transaction has just stored: what the bank reads of it (an ``Event`` has all)."""

    id: int
    person_id: int
    kind: str
    occurred_at: datetime
    text: str | None = None
    amount_minor: int | None = None
    currency: str | None = None
    order_id: int | None = None


def refresh_appended(
    *,
    session: Session,
    event: StoredEvent | Event,
    config: BankConfig | None = None,
    currency: str | None = None,
    now: datetime | None = None,
    standing: Any = None,
) -> RefreshReport:
    """``refresh_people`` for the one person of an event just stored, without re-projecting their
    history when the event simply comes last: its entries are appended and folded into the stored
    standing (``rules.appended``). That holds when the person has a standing with nothing due in the
    future, every stored entry is older than the event, no order (a cancelled order changes what
    earlier purchases count for) and a kind that depends on no other event. Otherwise, and for a
    person without a standing yet, it is ``refresh_people``. The result is the same either way
    (tests/integration/test_bank_append.py); this way costs a read of one row and at most two
    writes, whatever the length of the person's history.

    Call it once the transaction has stored the event and refreshed any other event it stored for
    the person. An event that has entries already was covered by a refresh since it was stored
    (a loyalty bonus refreshes its person in the same transaction): nothing is written then.

    ``standing``: the person's stored standing (a row of ``STANDING_TO_APPEND``), when the caller
    has held their bank and read it since, and has refreshed nothing of the person after that (so
    the event is new to the bank); the hold and the read are then skipped. None reads it here.
    """
    config = config or load_bank_config(get_settings())
    currency = currency or get_settings().business.currency
    now = now or utcnow()
    person_id = event.person_id
    state = None
    if standing is not None and event.order_id is None:
        state = standing
    else:
        hold_people(session, [person_id])  # before reading, as refresh_people
        if event.order_id is None:
            read = {"person": person_id, "event": event.id}
            state = APPEND_STATE.first(session.connection(), read)
    if state is not None and standing is None and state.seen:
        # A refresh after the event was stored has covered it already (a loyalty bonus's
        # ``points_earned`` event refreshes the person in the same transaction, for one).
        return RefreshReport(statuses={person_id: state.status})
    folded = _folded(event, state, config, currency, now) if state is not None else None
    if state is None or folded is None:
        return refresh_people(
            session=session, person_ids=[person_id], config=config, currency=currency, now=now
        )
    entries, totals, status = folded
    conn = session.connection()
    same = _unchanged(state, totals, status)
    if len(entries) == 1 and not same and conn.dialect.name == "postgresql":
        # The usual case (one entry, a new score): both writes in one statement.
        params = _append_params(person_id, entries[0], totals, status, now)
        ENTRY_AND_STANDING.execute(conn, params | {"bank_event": event.id})
        return RefreshReport(added=1, statuses={person_id: status.value})
    if entries:
        conn.execute(INSERT_ENTRIES, [_entry_row(person_id, entry) for entry in entries])
    if not same:
        row = {
            "person_id": person_id,
            "score": totals.score,
            "bad_streak": totals.bad_streak,
            "status": status.value,
            "value_minor": totals.value_minor,
            "next_due_at": None,
            "computed_at": now,
        }
        conn.execute(UPSERT_STANDINGS["postgresql" if conn.dialect.name == "postgresql" else "sqlite"], [row])
    return RefreshReport(added=len(entries), statuses={person_id: status.value})


def plan_append(
    *, event: StoredEvent, standing: Any, config: BankConfig, currency: str, now: datetime
) -> dict[str, Any] | None:
    """``APPEND_CTES``' parameters for an event about to be stored, when ``refresh_appended`` would
    write exactly that for it: one entry and a new standing. None otherwise: the caller then stores
    the event and calls ``refresh_appended``.

    ``standing``: as for ``refresh_appended`` (read under the person's bank, held until the event is
    stored). The event's id is not used: the statement's ``appended_event`` gives it.
    """
    if event.order_id is not None:
        return None
    folded = _folded(event, standing, config, currency, now)
    if folded is None:
        return None
    entries, totals, status = folded
    if len(entries) != 1 or _unchanged(standing, totals, status):
        return None
    return _append_params(event.person_id, entries[0], totals, status, now)


def _folded(
    event: StoredEvent | Event, state: Any, config: BankConfig, currency: str, now: datetime
) -> tuple[list[Entry], Carried, Status] | None:
    """The fold of the event into the standing when it simply comes last, else None."""
    if state.next_due_at is not None:  # something due in the future, or a refresh pending
        return None
    if state.last_at is not None and state.last_at >= event.occurred_at:  # not the last event
        return None
    return _fold(event, state, config, currency, now)


def _unchanged(state: Any, totals: Carried, status: Status) -> bool:
    """The stored standing already has the appended figures (an append leaves nothing due)."""
    return _same_figures(
        state.score,
        (state.bad_streak, state.status, state.value_minor),
        totals.score,
        (totals.bad_streak, status.value, totals.value_minor),
    )


def _same_figures(
    score: float, rest: tuple[Any, ...], other_score: float, other_rest: tuple[Any, ...]
) -> bool:
    """Two standings' figures are the same: the score (a float sum) to within rounding, the rest
    exactly. A standing that is the same is not written again."""
    return math.isclose(score, other_score, rel_tol=1e-12) and rest == other_rest


def _append_params(
    person_id: int, entry: Entry, totals: Carried, status: Status, now: datetime
) -> dict[str, Any]:
    return {
        "bank_person": person_id,
        "bank_entry_kind": entry.kind,
        "bank_entry_rule": entry.rule,
        "bank_entry_amount": entry.amount,
        "bank_entry_at": entry.at,
        "bank_entry_side": entry.side.value,
        "bank_entry_effect": entry.effect.value,
        "bank_score": totals.score,
        "bank_bad_streak": totals.bad_streak,
        "bank_status": status.value,
        "bank_value_minor": totals.value_minor,
        "bank_computed_at": now,
    }


def _fold(
    event: StoredEvent | Event, state: Any, config: BankConfig, currency: str, now: datetime
) -> tuple[list[Entry], Carried, Status] | None:
    """``rules.appended`` for a stored event, from the person's stored standing (``APPEND_STATE``)."""
    spend = 0
    if event.kind in ("purchase", "refund") and event.currency == currency and event.amount_minor is not None:
        spend = event.amount_minor if event.kind == "purchase" else -event.amount_minor
    text = event.text if event.kind in TEXT_KINDS else None
    fact = EventFact(event.id, event.kind, event.occurred_at, text)
    carried = Carried(state.score, state.bad_streak, state.value_minor)
    return appended(fact, carried, spend, config, now)


def _write_standings(session: Session, person_ids: list[int], rows: list[dict[str, Any]]) -> None:
    """Replace only the standings that differ: a refresh that changes nothing writes nothing."""
    stored = {
        row.person_id: (row.score, row.bad_streak, row.status, row.value_minor, row.next_due_at)
        for row in session.connection().execute(STANDINGS_OF, {"ids": person_ids})
    }
    fresh = []
    for row in rows:
        old = stored.pop(row["person_id"], None)
        same = old is not None and _same_figures(
            old[0],
            old[1:],
            row["score"],
            (row["bad_streak"], row["status"], row["value_minor"], row["next_due_at"]),
        )
        if not same:
            fresh.append(row)
    conn = session.connection()
    if stored:  # people who no longer have a standing
        conn.execute(DELETE_STANDINGS, {"ids": list(stored)})
    if fresh:
        conn.execute(UPSERT_STANDINGS["postgresql" if conn.dialect.name == "postgresql" else "sqlite"], fresh)


def _differs(old: tuple[int, int, datetime], entry: Entry) -> bool:
    return old[1] != entry.amount or old[2] != entry.at


def _entry_row(person_id: int, entry: Entry) -> dict[str, Any]:
    return {
        "person_id": person_id,
        "event_id": entry.event_id,
        "kind": entry.kind,
        "rule": entry.rule,
        "amount": entry.amount,
        "at": entry.at,
        "side": entry.side.value,
        "effect": entry.effect.value,
    }


MARK_STALE = (
    update(_STANDINGS)
    .where(
        _STANDINGS.c.person_id == bindparam("person", type_=_STANDINGS.c.person_id.type),
        or_(_STANDINGS.c.next_due_at.is_(None), _STANDINGS.c.next_due_at > bindparam("now")),
    )
    .values(next_due_at=bindparam("now"))
)


def mark_stale(session: Session, person_id: int, now: datetime) -> None:
    """The person's stored standing may miss an event (its refresh failed): due for a full refresh
    now. ``refresh_appended`` then refreshes them in full instead of building on the stored
    figures, and so does ``refresh_due``. Held like a refresh: an append that read the standing
    before this mark would otherwise write over it when it commits."""
    hold_people(session, [person_id])
    session.connection().execute(MARK_STALE, {"person": person_id, "now": now})


def refresh_due(
    *,
    session: Session,
    now: datetime | None = None,
    config: BankConfig | None = None,
    currency: str | None = None,
) -> int:
    """Recompute standings whose future-dated entries (unanswered-question deadlines) have come due."""
    now = now or utcnow()
    due = list(session.scalars(select(BankStanding.person_id).where(BankStanding.next_due_at <= now)))
    if due:
        refresh_people(session=session, person_ids=due, config=config, currency=currency, now=now)
    return len(due)


# One person's stored entries as the domain reads them, oldest first; ``entries_select`` may carry
# extra columns after these (the statement adds each entry's event text), ``stored_entry`` reads
# the first seven.
ENTRY_COLUMNS = (
    BankEntry.event_id,
    BankEntry.kind,
    BankEntry.rule,
    BankEntry.amount,
    BankEntry.at,
    BankEntry.side,
    BankEntry.effect,
)
_SIDES = {side.value: side for side in Side}
_EFFECTS = {effect.value: effect for effect in Effect}


def entries_select(person_id: int, *extra: Any) -> Select[Any]:
    return (
        select(*ENTRY_COLUMNS, *extra)
        .where(BankEntry.person_id == person_id)
        .order_by(BankEntry.at, BankEntry.event_id, BankEntry.rule)
    )


def stored_entry(row: Sequence[Any]) -> Entry:
    event_id, kind, rule, amount, at, side, effect = row[:7]
    return Entry(event_id, kind, rule, amount, at, _SIDES[side], _EFFECTS[effect])


def entries_of(session: Session, person_id: int) -> list[Entry]:
    return [stored_entry(row) for row in session.execute(entries_select(person_id))]


class AdjustmentError(ValueError):
    pass


def adjust(
    *,
    session: Session,
    person_ref: str | int,
    amount: int,
    reason: str,
    staff_id: int | None = None,
    at: datetime | None = None,
    config: BankConfig | None = None,
    currency: str | None = None,
) -> Event:
    """A manual goodwill gesture or correction: recorded as an event (never an edit), then refreshed."""
    clean = " ".join(reason.split())
    if not clean:
        raise AdjustmentError("reason: say why (it is shown on the statement)")
    if amount == 0 or abs(amount) > 9999:
        raise AdjustmentError(f"amount: must be between -9999 and 9999 and not 0, got {amount}")
    person = get_person(session, person_ref)
    event, _ = record_event(
        session,
        NewEvent(
            person_id=person.id,
            kind=ADJUSTMENT,
            occurred_at=at or utcnow(),
            source="bank",
            source_id=uuid.uuid4().hex,
            staff_id=staff_id,
            text=f"{amount:+d} {clean}",
        ),
    )
    refresh_people(session=session, person_ids=[person.id], config=config, currency=currency)
    return event
