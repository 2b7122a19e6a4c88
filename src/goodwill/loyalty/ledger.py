"""The points ledger: writing entries and draws, keeping accounts in step, reading balances back.

Append-only: entries and draws are only ever inserted; ``loyalty_accounts`` (balance, issued,
tier) is the one mutable row per person, bumped in the same statement style everywhere
(``balance = balance + delta``) so concurrent writers never lose an update.

Every write is idempotent by its ``key`` (unique in ``loyalty_entries``): the entry is inserted
with ``ON CONFLICT DO NOTHING ... RETURNING``, so a repeated key writes nothing and returns None,
and a concurrent writer with the same key waits on the unique index and then does nothing, without
an error that would spoil the caller's transaction.

Locking. Spending points is read-then-write (read the lots, plan draws, write them), so callers
take the account lock first (``lock_account``). On PostgreSQL that is ``SELECT ... FOR UPDATE`` on
the person's ``loyalty_accounts`` row. On SQLite there are no row locks: ``lock_account`` begins
with a write (the insert-if-missing of the account row), which takes the database's write lock for
the rest of the transaction, so every later read sees the latest committed data and no other
writer can slip in between. Call it before reading the ledger in that transaction.
``hold_account`` takes the same lock without loading the row (one statement), for hot paths.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from typing import cast as typed

from sqlalchemy import (
    BigInteger,
    Table,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from goodwill.db import (
    BACKEND_INSERTS,
    UTCDateTime,
    backend_insert,
    insert_ignoring_duplicates,
    rows_changed,
    utcnow,
)
from goodwill.loyalty.awards_dialect import hold_bulk_lock
from goodwill.loyalty.config import LoyaltyConfig
from goodwill.loyalty.lots import (
    Lot,
    NotEnoughPoints,
    draw_order,
    expiring_soon,
    expiry_for,
    pending,
    plan_draws,
    spendable,
)
from goodwill.loyalty.model import EntryKind, LotDrawn, LoyaltyAccount, LoyaltyDraw, LoyaltyEntry

_E = typed(Table, LoyaltyEntry.__table__)
_D = typed(Table, LoyaltyDraw.__table__)
_LD = typed(Table, LotDrawn.__table__)
_A = typed(Table, LoyaltyAccount.__table__)

LOT_KINDS = (EntryKind.earn.value, EntryKind.adjust.value)
TAKE_KINDS = (EntryKind.redeem, EntryKind.expire, EntryKind.reverse, EntryKind.adjust)
EXPIRE_CHUNK = 1000  # people per expiry batch: one lock, one read and four writes each
NOTE_LENGTH = 300


class LoyaltyError(ValueError):
    """A ledger call that cannot be carried out (a bug in the caller, or a corrupt ledger)."""


class Refused(LoyaltyError):
    """A refusal explained in plain words, for people: ``code`` for programs, ``message`` to show."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _is_lot(entries: Any = _E) -> ColumnElement[bool]:
    """``model.LOT_PREDICATE`` on ``entries``. Literal SQL, not bound values: the database can then
    use the partial index on a person's lots (it matches the predicate's text), and SQLAlchemy does
    not render a list of values anew at every execution (as it would for ``kind IN (...)``)."""
    kinds = or_(*(entries.c.kind == literal_column(f"'{kind}'") for kind in LOT_KINDS))
    return and_(kinds, entries.c.points > literal_column("0"))


def _total(expression: Any) -> ColumnElement[int]:
    """``coalesce(sum(x), 0)`` as a bigint: PostgreSQL sums bigints into numeric (Decimal)."""
    return cast(func.coalesce(func.sum(expression), 0), BigInteger)


# A lot's remaining points, from its draws (the ledger's own account, for the checks) ...
_REMAINING = _E.c.points - _total(_D.c.points)
# ... and from the stored figure kept with every draw (``LotDrawn``), for everything else.
_WITH_DRAWN = _E.outerjoin(_LD, _LD.c.lot_id == _E.c.id)
_LEFT = _E.c.points - func.coalesce(_LD.c.drawn, 0)
# Read through the partial index on the person's lots: their lots ever, not their whole history.
LOTS_OF = (
    select(_E.c.id, _E.c.points, _LEFT, _E.c.at, _E.c.available_at, _E.c.expires_at)
    .select_from(_WITH_DRAWN)
    .where(_E.c.person_id == bindparam("person_id"), _is_lot(), _LEFT > 0)
)
LOT_STATES = (
    select(_E.c.id, _E.c.person_id, _E.c.kind, _E.c.points, _LEFT)
    .select_from(_WITH_DRAWN)
    .where(_E.c.id.in_(bindparam("ids", expanding=True)))
)
_NOW = bindparam("now", type_=UTCDateTime())
KEY_TAKEN = select(_E.c.id).where(_E.c.key == bindparam("key"))


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _account_row(person_id: int, at: datetime, balance: int = 0, issued: int = 0) -> dict[str, Any]:
    return {
        "person_id": person_id,
        "joined_at": at,
        "balance": balance,
        "issued": issued,
        "tier": "",
        "updated_at": utcnow(),  # wall clock; ``at`` may be an old event's time
    }


def forget_accounts(session: Session, person_ids: Iterable[int]) -> None:
    """Accounts were bumped in SQL: make loaded objects re-read balance and issued when next used
    (for writers that bump them on the connection themselves, too)."""
    for person_id in person_ids:
        loaded = session.identity_map.get(session.identity_key(LoyaltyAccount, person_id))
        if loaded is not None:
            session.expire(loaded, ["balance", "issued", "updated_at"])


def _credit_statement(insert: Any) -> Any:
    stmt = insert(_A)
    return stmt.on_conflict_do_update(
        index_elements=[_A.c.person_id],
        set_={
            "balance": _A.c.balance + stmt.excluded.balance,
            "issued": _A.c.issued + stmt.excluded.issued,
            "updated_at": stmt.excluded.updated_at,
        },
    )


# Built once a backend: building them (and their cache keys) a call was a good part of an earn's
# CPU on the ingestion path (bench/README.md, load).
_CREDIT = {name: _credit_statement(insert) for name, insert in BACKEND_INSERTS.items()}
_NEW_ENTRY = {
    name: insert(LoyaltyEntry).on_conflict_do_nothing(index_elements=["key"]).returning(LoyaltyEntry)
    for name, insert in BACKEND_INSERTS.items()
}


def _credit(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Add ``balance``/``issued`` deltas to accounts, creating missing ones (one upsert statement)."""
    if not rows:
        return
    session.execute(_CREDIT[_dialect(session)], list(rows))
    forget_accounts(session, (row["person_id"] for row in rows))


def _debit(session: Session, person_id: int, points: int) -> None:
    """Take ``points`` off the stored balance; refuses (rather than go below zero) at the database."""
    if points == 0:
        return
    result = session.execute(
        update(_A)
        .where(_A.c.person_id == person_id, _A.c.balance >= points)
        .values(balance=_A.c.balance - points)
    )
    if rows_changed(result) != 1:
        raise LoyaltyError(f"person {person_id}: the stored balance is below {points}; run loyalty check")
    forget_accounts(session, [person_id])


def _new_entry(session: Session, values: dict[str, Any]) -> LoyaltyEntry | None:
    return session.scalars(_NEW_ENTRY[_dialect(session)], [values]).one_or_none()


def _key_taken(session: Session, key: str) -> bool:
    return session.execute(KEY_TAKEN, {"key": key}).first() is not None


def _merged(draws: Iterable[tuple[int, int]]) -> dict[int, int]:
    merged: dict[int, int] = {}
    for lot_id, points in draws:
        if points <= 0:
            raise LoyaltyError(f"a draw of {points} points from lot {lot_id}: draws must be positive")
        merged[lot_id] = merged.get(lot_id, 0) + points
    return merged


def _check_draws(session: Session, person_id: int, draws: dict[int, int], *, giving_back: bool) -> None:
    """Every draw is from one of the person's lots and fits: at most its remaining points, or when
    giving back, at most what was drawn from it."""
    if not draws:
        return
    states = {row[0]: row for row in session.execute(LOT_STATES, {"ids": list(draws)})}
    for lot_id, points in draws.items():
        state = states.get(lot_id)
        if state is None or state[1] != person_id or state[2] not in LOT_KINDS or state[3] <= 0:
            raise LoyaltyError(f"entry {lot_id} is not a lot of person {person_id}")
        _, _, _, lot_points, remaining = state
        room = lot_points - remaining if giving_back else remaining
        if points > room:
            what = "was drawn from it" if giving_back else "it has left"
            raise LoyaltyError(f"lot {lot_id}: {points} points asked, only {room} {what}")


def _write_draws(session: Session, entry_id: int, draws: dict[int, int], sign: int) -> None:
    rows = [{"entry_id": entry_id, "lot_id": lot, "points": sign * points} for lot, points in draws.items()]
    if rows:
        session.execute(_D.insert(), rows)
        _add_drawn(session, rows)


def _add_drawn_statement(insert: Any) -> Any:
    stmt = insert(_LD)
    return stmt.on_conflict_do_update(
        index_elements=[_LD.c.lot_id], set_={"drawn": _LD.c.drawn + stmt.excluded.drawn}
    )


_ADD_DRAWN = {name: _add_drawn_statement(insert) for name, insert in BACKEND_INSERTS.items()}  # as _CREDIT


def _add_drawn(session: Session, draws: Sequence[dict[str, int]]) -> None:
    """Keep ``LotDrawn`` in step with draws just written (``lot_id``, ``points``; one per lot)."""
    rows = [{"lot_id": draw["lot_id"], "drawn": draw["points"]} for draw in draws]
    session.execute(_ADD_DRAWN[_dialect(session)], rows)


# -- accounts ---------------------------------------------------------------------------------------


def ensure_account(session: Session, *, person_id: int, now: datetime) -> LoyaltyAccount:
    """The person's account, created (balance 0) if missing; safe when two transactions race."""
    insert_ignoring_duplicates(session, _A, [_account_row(person_id, now)])
    stmt = select(LoyaltyAccount).where(LoyaltyAccount.person_id == person_id)
    return session.scalars(stmt.execution_options(populate_existing=True)).one()


def lock_account(session: Session, *, person_id: int, now: datetime) -> LoyaltyAccount:
    """``ensure_account`` and hold the account until the transaction ends (see the module notes)."""
    insert_ignoring_duplicates(session, _A, [_account_row(person_id, now)])  # on SQLite: the write lock
    stmt = select(LoyaltyAccount).where(LoyaltyAccount.person_id == person_id).with_for_update()
    return session.scalars(stmt.execution_options(populate_existing=True)).one()


# PostgreSQL's row lock alone; ``hold_account`` creates the account only when this finds nothing.
HOLD_ACCOUNT = select(_A.c.tier).where(_A.c.person_id == bindparam("person_id")).with_for_update()
ACCOUNT_IF_MISSING = {name: insert(_A).on_conflict_do_nothing() for name, insert in BACKEND_INSERTS.items()}
_CREATE_ACCOUNT = ACCOUNT_IF_MISSING["postgresql"].returning(_A.c.person_id)  # a row if it created one


def _dialect(session: Session) -> str:
    return "postgresql" if _is_postgres(session) else "sqlite"


def hold_account(session: Session, *, person_id: int, now: datetime, create: bool = True) -> str | None:
    """``lock_account`` without loading the row, for hot paths: one statement when the account exists.

    PostgreSQL: ``SELECT tier ... FOR UPDATE``; when that finds nothing and ``create`` is on, the
    account is inserted (then the new row is this transaction's until it ends), or, when a racing
    insert of the same account won, theirs is locked. Returns the held account's tier as the lock
    read it ("" for one just created), or None when there is no account and ``create`` is off.
    SQLite: the insert-if-missing (when ``create``), which takes the database's write lock; nothing
    is read, so None. It runs on the session's connection, without an autoflush: flush first if
    pending ORM objects matter to what follows.
    """
    conn, dialect = session.connection(), _dialect(session)
    if dialect == "sqlite":
        if create:
            conn.execute(ACCOUNT_IF_MISSING[dialect], _account_row(person_id, now))
        return None
    tier: str | None = conn.execute(HOLD_ACCOUNT, {"person_id": person_id}).scalar()
    if tier is not None or not create:
        return tier
    if conn.execute(_CREATE_ACCOUNT, _account_row(person_id, now)).first() is not None:
        return ""
    return str(conn.execute(HOLD_ACCOUNT, {"person_id": person_id}).scalar_one())


LOCK_ACCOUNTS = (
    select(_A.c.person_id)
    .where(_A.c.person_id.in_(bindparam("ids", expanding=True)))
    .order_by(_A.c.person_id)  # one order for everyone, so two bulk runs cannot deadlock
    .with_for_update()
)
# Any write takes SQLite's database lock; this one changes nothing.
SQLITE_WRITE_LOCK = update(_A).where(literal(False)).values(balance=_A.c.balance)


def _lock_accounts(session: Session, person_ids: Sequence[int]) -> None:
    if _is_postgres(session):
        session.execute(LOCK_ACCOUNTS, {"ids": list(person_ids)})
    else:
        session.execute(SQLITE_WRITE_LOCK)


# -- lots and writes --------------------------------------------------------------------------------


def _lot(row: Any) -> Lot:
    lot_id, points, remaining, at, available_at, expires_at = row
    return Lot(lot_id, points, remaining, at, available_at or at, expires_at)


def lots_of(session: Session, *, person_id: int) -> list[Lot]:
    """The person's lots that still hold points (pending and expired-but-not-yet-written included)."""
    return [_lot(row) for row in session.execute(LOTS_OF, {"person_id": person_id})]


_LOTS = LOTS_OF.subquery("lot")
# ``lots_of`` as one JSON column, to read the lots along with something else in one statement.
LOTS_JSON = {
    "postgresql": select(func.json_agg(func.json_build_array(*_LOTS.c))).scalar_subquery(),
    "sqlite": select(func.json_group_array(func.json_array(*_LOTS.c))).scalar_subquery(),
}


def _moment(text: str) -> datetime:
    # PostgreSQL writes "2026-11-20T12:00:00+00:00"; SQLite keeps naive UTC "2026-11-20 12:00:00".
    at = datetime.fromisoformat(text)
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def lots_from_json(value: Any) -> list[Lot]:
    """The lots in a ``LOTS_JSON`` column (a parsed list or NULL from PostgreSQL, text from SQLite)."""
    rows = json.loads(value) if isinstance(value, str) else value or []
    return [
        Lot(
            lot_id,
            points,
            remaining,
            _moment(at),
            _moment(available_at or at),
            _moment(expires_at) if expires_at else None,
        )
        for lot_id, points, remaining, at, available_at, expires_at in rows
    ]


def add_lot(
    session: Session,
    *,
    person_id: int,
    kind: EntryKind,
    points: int,
    key: str,
    at: datetime,
    available_at: datetime,
    expires_at: datetime | None,
    rule: str | None = None,
    event_id: int | None = None,
    note: str | None = None,
    created_by_id: int | None = None,
) -> LoyaltyEntry | None:
    """A new lot (an earn or a positive adjustment); None if ``key`` was written before."""
    if kind not in (EntryKind.earn, EntryKind.adjust):
        raise LoyaltyError(f"a lot is an earn or an adjustment, not {kind}")
    if points <= 0:
        raise LoyaltyError(f"a lot needs a positive number of points, not {points}")
    entry = _new_entry(
        session,
        {
            "person_id": person_id,
            "kind": kind.value,
            "points": points,
            "key": key,
            "rule": rule,
            "event_id": event_id,
            "at": at,
            "available_at": available_at,
            "expires_at": expires_at,
            "note": note,
            "created_by_id": created_by_id,
        },
    )
    if entry is not None:
        _credit(session, [_account_row(person_id, at, points, points)])
    return entry


def take(
    session: Session,
    *,
    person_id: int,
    kind: EntryKind,
    key: str,
    at: datetime,
    draws: list[tuple[int, int]],
    rule: str | None = None,
    event_id: int | None = None,
    redemption_id: int | None = None,
    reverses_id: int | None = None,
    note: str | None = None,
    created_by_id: int | None = None,
    asked: int | None = None,
) -> LoyaltyEntry | None:
    """A negative entry of ``-sum(draws)`` with its draw rows; None if ``key`` was written before.

    The caller holds the account lock and planned ``draws`` (``plan_draws``); each draw is checked
    against the lot's remaining points all the same, and the stored balance never goes below zero.
    ``asked``: what a reversal of lot ``reverses_id`` asked back (see ``shortfalls``).
    """
    if kind not in TAKE_KINDS:
        raise LoyaltyError(f"points cannot be taken by a {kind} entry")
    merged = _merged(draws)
    if _key_taken(session, key):
        return None
    _check_draws(session, person_id, merged, giving_back=False)
    total = sum(merged.values())
    entry = _new_entry(
        session,
        {
            "person_id": person_id,
            "kind": kind.value,
            "points": -total,
            "key": key,
            "rule": rule,
            "event_id": event_id,
            "redemption_id": redemption_id,
            "reverses_id": reverses_id,
            "asked": asked,
            "at": at,
            "note": note,
            "created_by_id": created_by_id,
        },
    )
    if entry is not None:
        _write_draws(session, entry.id, merged, 1)
        _debit(session, person_id, total)
    return entry


def give_back(
    session: Session,
    *,
    person_id: int,
    key: str,
    at: datetime,
    draws: list[tuple[int, int]],
    redemption_id: int | None = None,
    reverses_id: int | None = None,
    note: str | None = None,
    created_by_id: int | None = None,
) -> LoyaltyEntry | None:
    """A positive ``reverse`` entry whose negative draws put points back into the lots they came
    from (a refunded redemption). A lot that has expired meanwhile expires again at the next
    ``expire_due``. None if ``key`` was written before.

    Points coming back to a lot whose reversal fell short (an order cancelled after its points were
    spent) are not the customer's: in the same transaction a ``reverse`` entry keyed
    ``settle:<lot id>:<this entry's id>`` takes back what came back to that lot, up to the
    shortfall. Callers hold the account lock, as for ``take``."""
    merged = _merged(draws)
    if _key_taken(session, key):
        return None
    _check_draws(session, person_id, merged, giving_back=True)
    total = sum(merged.values())
    entry = _new_entry(
        session,
        {
            "person_id": person_id,
            "kind": EntryKind.reverse.value,
            "points": total,
            "key": key,
            "redemption_id": redemption_id,
            "reverses_id": reverses_id,
            "at": at,
            "note": note,
            "created_by_id": created_by_id,
        },
    )
    if entry is not None:
        _write_draws(session, entry.id, merged, -1)
        _credit(session, [_account_row(person_id, at, total, 0)])
        _settle(session, person_id=person_id, given_back=merged, back=entry, at=at)
    return entry


_REVERSAL = _E.alias("reversal")
# What reversals of a lot asked back and did not take. A reversal's points are minus what it took;
# ``asked`` is NULL on entries that ask nothing back (a reversal without it took all it asked).
_SHORT = _total(func.coalesce(_REVERSAL.c.asked, -_REVERSAL.c.points) + _REVERSAL.c.points)
_IS_REVERSAL = and_(_REVERSAL.c.kind == EntryKind.reverse.value, _REVERSAL.c.points <= 0)
# The person's lots :ids with a shortfall (the person filter lets the database use its index).
SHORT_LOTS = (
    select(_E.c.id, _E.c.rule, _E.c.event_id, _SHORT)
    .select_from(_E.join(_REVERSAL, _REVERSAL.c.reverses_id == _E.c.id))
    .where(
        _REVERSAL.c.person_id == bindparam("person_id"),
        _E.c.id.in_(bindparam("ids", expanding=True)),
        _is_lot(),
        _IS_REVERSAL,
    )
    .group_by(_E.c.id, _E.c.rule, _E.c.event_id)
    .having(_SHORT > 0)
)


def shortfalls(session: Session, *, person_id: int, lot_ids: Iterable[int]) -> dict[int, int]:
    """The points that reversals of these lots of the person asked back and could not take, per
    lot with any: derived from the entries (``asked`` against what each took), never from notes."""
    ids = list(lot_ids)
    if not ids:
        return {}
    rows = session.execute(SHORT_LOTS, {"person_id": person_id, "ids": ids})
    return {lot_id: short for lot_id, _, _, short in rows}


def _settle(
    session: Session, *, person_id: int, given_back: dict[int, int], back: LoyaltyEntry, at: datetime
) -> None:
    """Take back, from each lot ``back`` gave points to, what came back up to the lot's shortfall."""
    if not given_back:
        return
    rows = session.execute(SHORT_LOTS, {"person_id": person_id, "ids": list(given_back)}).all()
    for lot_id, rule, event_id, short in sorted(rows):
        points = min(short, given_back[lot_id])
        take(
            session,
            person_id=person_id,
            kind=EntryKind.reverse,
            key=f"settle:{lot_id}:{back.id}",
            at=at,
            draws=[(lot_id, points)],
            rule=rule,
            event_id=event_id,
            redemption_id=back.redemption_id,
            reverses_id=lot_id,
            asked=0,  # asks nothing new: it takes what an earlier reversal of the lot could not
            note=f"{points} points given back to a lot that had been taken back (entry {back.id})",
        )


# -- expiry, reversal, correction -------------------------------------------------------------------


def _expiry_key(lot_id: int, expired_before: int) -> str:
    # A refund can put points back into a lot that already expired; they expire again under a
    # numbered key ("expire:<lot>:2"), deterministic so two runs still write it once.
    return f"expire:{lot_id}" if expired_before == 0 else f"expire:{lot_id}:{expired_before + 1}"


_EXPIRING = _E.alias("expiring")
# Lots due at :now of the people :ids, with what is left and how often they expired before.
DUE_LOTS = (
    select(_E.c.id, _E.c.person_id, _LEFT, func.count(_EXPIRING.c.id))
    .select_from(
        _WITH_DRAWN.outerjoin(_D, _D.c.lot_id == _E.c.id).outerjoin(
            _EXPIRING, and_(_EXPIRING.c.id == _D.c.entry_id, _EXPIRING.c.kind == EntryKind.expire.value)
        )
    )
    .where(
        _E.c.person_id.in_(bindparam("ids", expanding=True)), _is_lot(), _E.c.expires_at <= _NOW, _LEFT > 0
    )
    .group_by(_E.c.id, _E.c.person_id, _E.c.points, _LD.c.drawn)
    .order_by(_E.c.id)
)
PEOPLE_WITH_DUE_LOTS = (
    select(_E.c.person_id).distinct().where(_is_lot(), _E.c.expires_at <= _NOW).order_by(_E.c.person_id)
)


def expire_due(session: Session, *, now: datetime, person_ids: Sequence[int] | None = None) -> int:
    """Write an ``expire`` entry for every lot whose expiry has come with points left, drawing
    exactly those points; returns the points expired. Everyone when ``person_ids`` is None, in
    batches of people (lock, one read, four bulk writes per batch)."""
    # Everyone: a bulk job, taking turns with the others; some people: a live pass (hold_bulk_lock).
    hold_bulk_lock(session, shared=person_ids is not None)
    if person_ids is None:
        candidates = session.scalars(PEOPLE_WITH_DUE_LOTS, {"now": now}).all()
    else:
        candidates = sorted(set(person_ids))
    expired = 0
    for start in range(0, len(candidates), EXPIRE_CHUNK):
        chunk = list(candidates[start : start + EXPIRE_CHUNK])
        _lock_accounts(session, chunk)
        expired += expire_held(session, now=now, person_ids=chunk)
    return expired


def expire_held(session: Session, *, now: datetime, person_ids: Sequence[int]) -> int:
    """``expire_due`` for people whose accounts the caller has already locked in this transaction
    (one read, four bulk writes: entries, draws, the lots' drawn points, balances); the points expired."""
    due = {
        _expiry_key(lot_id, before): (lot_id, person_id, remaining)
        for lot_id, person_id, remaining, before in session.execute(
            DUE_LOTS, {"ids": list(person_ids), "now": now}
        )
    }
    if not due:
        return 0
    expired = 0
    rows = [
        {
            "person_id": person_id,
            "kind": EntryKind.expire.value,
            "points": -remaining,
            "key": key,
            "at": now,
        }
        for key, (_, person_id, remaining) in due.items()
    ]
    stmt = backend_insert(session)(_E).on_conflict_do_nothing(index_elements=["key"])
    written = session.execute(stmt.returning(_E.c.id, _E.c.key), rows).all()
    draws: list[dict[str, int]] = []
    debits: dict[int, int] = {}
    for entry_id, key in written:
        lot_id, person_id, remaining = due[key]
        draws.append({"entry_id": entry_id, "lot_id": lot_id, "points": remaining})
        debits[person_id] = debits.get(person_id, 0) + remaining
        expired += remaining
    if draws:
        session.execute(_D.insert(), draws)
        _add_drawn(session, draws)
        _credit(session, [_account_row(person, now, -points) for person, points in debits.items()])
    return expired


def _shortfall_note(reason: str, asked: int, taken: int) -> str:
    note = reason
    if taken < asked:
        note = f"{reason}; {asked - taken} of {asked} points could not be taken back: already spent"
    return note[:NOTE_LENGTH]


def reverse_earn(session: Session, *, lot_id: int, points: int, key: str, at: datetime, reason: str) -> int:
    """Take back up to ``points`` of an earn (an order cancelled or refunded): from that lot first,
    then from the person's other unexpired lots in draw order (pending ones too), never below
    zero. Returns the points taken. The entry keeps what was asked (``asked``), so the shortfall
    is known: points later given back to the lot are taken back up to it (``give_back``); the
    note says it in words. A repeated ``key`` takes nothing and returns 0."""
    if points < 0:
        raise LoyaltyError("cannot take back a negative number of points")
    earn = session.get(LoyaltyEntry, lot_id)
    if earn is None or earn.kind not in LOT_KINDS or earn.points <= 0:
        raise LoyaltyError(f"entry {lot_id} is not a lot of points")
    if _key_taken(session, key):
        return 0
    account = lock_account(session, person_id=earn.person_id, now=at)
    lots = lots_of(session, person_id=earn.person_id)
    # The earn's own lot even if past its expiry: those are the very points being taken back.
    # Other lots past expiry are worth nothing any more, so they do not pay for the reversal.
    order = [lot for lot in lots if lot.id == lot_id] + [
        lot for lot in draw_order(lots) if lot.id != lot_id and not lot.expired(at)
    ]
    left = min(points, account.balance)
    draws: list[tuple[int, int]] = []
    for lot in order:
        if left <= 0:
            break
        part = min(lot.remaining, left)
        draws.append((lot.id, part))
        left -= part
    taken = sum(part for _, part in draws)
    entry = take(
        session,
        person_id=earn.person_id,
        kind=EntryKind.reverse,
        key=key,
        at=at,
        draws=draws,
        rule=earn.rule,
        event_id=earn.event_id,
        reverses_id=lot_id,
        note=_shortfall_note(reason, points, taken),
        asked=points,
    )
    return taken if entry is not None else 0


def adjust(
    session: Session,
    *,
    person_id: int,
    points: int,
    reason: str,
    key: str,
    by_user_id: int | None,
    now: datetime,
    config: LoyaltyConfig,
) -> LoyaltyEntry | None:
    """A staff correction. Positive: a new lot, spendable now, expiring as earned points do.
    Negative: drawn from the person's unexpired lots (pending ones too); Refused if they hold less.
    None if ``key`` was written before."""
    if points == 0:
        raise Refused("no_points", "An adjustment needs a number of points other than zero.")
    if not reason.strip():
        raise Refused("reason_needed", "Say why the points are adjusted; the reason is kept with the entry.")
    if _key_taken(session, key):
        return None
    lock_account(session, person_id=person_id, now=now)
    if points > 0:
        return add_lot(
            session,
            person_id=person_id,
            kind=EntryKind.adjust,
            points=points,
            key=key,
            at=now,
            available_at=now,
            expires_at=expiry_for(now, config.expiry_months),
            note=reason[:NOTE_LENGTH],
            created_by_id=by_user_id,
        )
    try:
        draws = plan_draws(lots_of(session, person_id=person_id), -points, now, spendable_only=False)
    except NotEnoughPoints as short:
        raise Refused(
            "not_enough_points",
            f"This person has {short.usable} points that can be taken off; the adjustment takes {-points}.",
        ) from short
    return take(
        session,
        person_id=person_id,
        kind=EntryKind.adjust,
        key=key,
        at=now,
        draws=draws,
        note=reason[:NOTE_LENGTH],
        created_by_id=by_user_id,
    )


# -- reading ----------------------------------------------------------------------------------------


def _signed_sum(condition: ColumnElement[bool], sign: int = 1) -> ColumnElement[int]:
    return _total(case((condition, sign * _E.c.points), else_=0))


def _figures() -> list[ColumnElement[int]]:
    """issued, redeemed, expired, reversed (net), adjusted (taken off), outstanding, over ``_E``."""
    return [
        _signed_sum(_is_lot()),
        _signed_sum(_E.c.kind == EntryKind.redeem.value, -1),
        _signed_sum(_E.c.kind == EntryKind.expire.value, -1),
        _signed_sum(_E.c.kind == EntryKind.reverse.value, -1),
        _signed_sum(and_(_E.c.kind == EntryKind.adjust.value, _E.c.points < 0), -1),
        _total(_E.c.points),
    ]


FIGURES_OF = select(*_figures()).where(_E.c.person_id == bindparam("person_id"))


@dataclass(frozen=True)
class AccountSummary:
    person_id: int
    member: bool  # has an account
    balance: int  # stored; pending included, expired points excluded once their expiry is written
    available: int  # spendable now
    pending: int  # not spendable yet (returns window)
    issued: int  # earned and added by staff, ever
    redeemed: int
    expired: int
    reversed: int  # taken back, less what refunds gave back
    tier: str
    tier_since: datetime | None
    tier_kept_until: datetime | None
    expiring: list[tuple[datetime, int]]
    adjusted: int = 0  # taken off by staff corrections (added points count as issued)


def summary(session: Session, *, person_id: int, now: datetime, expiring_days: int = 60) -> AccountSummary:
    """The person's points as of ``now``; zeros for someone without an account."""
    account = session.get(LoyaltyAccount, person_id, populate_existing=True)
    _, redeemed, expired, reversed_, adjusted, _ = tuple(
        session.execute(FIGURES_OF, {"person_id": person_id}).one()
    )
    lots = lots_of(session, person_id=person_id)
    return AccountSummary(
        person_id=person_id,
        member=account is not None,
        balance=account.balance if account else 0,
        available=spendable(lots, now),
        pending=pending(lots, now),
        issued=account.issued if account else 0,
        redeemed=redeemed,
        expired=expired,
        reversed=reversed_,
        tier=account.tier if account else "",
        tier_since=account.tier_since if account else None,
        tier_kept_until=account.tier_kept_until if account else None,
        expiring=expiring_soon(lots, now, expiring_days),
        adjusted=adjusted,
    )


def entries_of(
    session: Session, *, person_id: int, limit: int = 50, before_id: int | None = None
) -> list[LoyaltyEntry]:
    """The person's entries, newest first; ``before_id`` pages on to older ones."""
    stmt = select(LoyaltyEntry).where(LoyaltyEntry.person_id == person_id)
    if before_id is not None:
        stmt = stmt.where(LoyaltyEntry.id < before_id)
    return list(session.scalars(stmt.order_by(LoyaltyEntry.id.desc()).limit(limit)))


@dataclass(frozen=True)
class BalanceMismatch:
    person_id: int
    problem: str


# The checks, built once (they run after every step of the stateful test, and nightly in production).
_SUMS = (
    select(_E.c.person_id, _total(_E.c.points).label("total"), _signed_sum(_is_lot()).label("issued"))
    .group_by(_E.c.person_id)
    .subquery()
)
_SUM_TOTAL, _SUM_ISSUED = func.coalesce(_SUMS.c.total, 0), func.coalesce(_SUMS.c.issued, 0)
ACCOUNTS_OFF = (
    select(_A.c.person_id, _A.c.balance, _A.c.issued, _SUM_TOTAL, _SUM_ISSUED)
    .select_from(_A.outerjoin(_SUMS, _SUMS.c.person_id == _A.c.person_id))
    .where(or_(_A.c.balance != _SUM_TOTAL, _A.c.issued != _SUM_ISSUED, _A.c.balance < 0))
)
ENTRIES_WITHOUT_ACCOUNT = (
    select(_SUMS.c.person_id, _SUMS.c.total)
    .select_from(_SUMS.outerjoin(_A, _A.c.person_id == _SUMS.c.person_id))
    .where(_A.c.person_id.is_(None))
)
_DRAWN = _total(_D.c.points)
OVERDRAWN_LOTS = (
    select(_E.c.id, _E.c.person_id, _E.c.points, _DRAWN)
    .select_from(_E.join(_D, _D.c.lot_id == _E.c.id))
    .where(_is_lot())
    .group_by(_E.c.id, _E.c.person_id, _E.c.points)
    .having(or_(_E.c.points < _DRAWN, _DRAWN < 0))
)
# A lot draws nothing itself; every other entry's points are minus what it drew.
ENTRIES_OFF_THEIR_DRAWS = (
    select(_E.c.id, _E.c.person_id, _E.c.kind, _E.c.points, _DRAWN)
    .select_from(_E.outerjoin(_D, _D.c.entry_id == _E.c.id))
    .group_by(_E.c.id, _E.c.person_id, _E.c.kind, _E.c.points)
    .having(or_(and_(_is_lot(), _DRAWN != 0), and_(~_is_lot(), _E.c.points + _DRAWN != 0)))
)
_SHORTS = (
    select(_REVERSAL.c.reverses_id.label("lot_id"), _SHORT.label("short"))
    .where(_IS_REVERSAL, _REVERSAL.c.reverses_id.is_not(None))
    .group_by(_REVERSAL.c.reverses_id)
    .having(_SHORT > 0)
    .subquery()
)
# A reversal falls short only when the lot is empty; points back in it are taken back at once.
UNSETTLED_LOTS = (
    select(_E.c.id, _E.c.person_id, _REMAINING, _SHORTS.c.short)
    .select_from(_E.join(_SHORTS, _SHORTS.c.lot_id == _E.c.id).outerjoin(_D, _D.c.lot_id == _E.c.id))
    .where(_is_lot())
    .group_by(_E.c.id, _E.c.person_id, _E.c.points, _SHORTS.c.short)
    .having(_REMAINING > 0)
)
# The stored figure (``LotDrawn``) against the draws, both ways in one pass: a stored figure off
# its draws, and draws with no stored figure (stored is then NULL).
_DRAW_SUMS = select(_D.c.lot_id, _DRAWN.label("drawn")).group_by(_D.c.lot_id).subquery()
_DRAWN_LOT = func.coalesce(_LD.c.lot_id, _DRAW_SUMS.c.lot_id)
STORED_DRAWN_OFF = (
    select(_DRAWN_LOT, _E.c.person_id, _LD.c.drawn, func.coalesce(_DRAW_SUMS.c.drawn, 0))
    .select_from(
        _LD.join(_DRAW_SUMS, _DRAW_SUMS.c.lot_id == _LD.c.lot_id, full=True).join(_E, _E.c.id == _DRAWN_LOT)
    )
    .where(func.coalesce(_LD.c.drawn, 0) != func.coalesce(_DRAW_SUMS.c.drawn, 0))
)
_TAKER, _FROM = _E.alias("taker"), _E.alias("drawn_lot")
STRAY_DRAWS = (
    select(_TAKER.c.person_id, _D.c.entry_id, _D.c.lot_id)
    .select_from(_D.join(_TAKER, _TAKER.c.id == _D.c.entry_id).join(_FROM, _FROM.c.id == _D.c.lot_id))
    .where(or_(_FROM.c.person_id != _TAKER.c.person_id, ~_is_lot(_FROM)))
)


def check(session: Session) -> list[BalanceMismatch]:
    """Everything in the ledger that does not add up, each as a plain sentence (set-based queries)."""
    found: list[BalanceMismatch] = []

    def problem(person: int, text: str) -> None:
        found.append(BalanceMismatch(person, text))

    for person, balance, issued, entries_total, entries_issued in session.execute(ACCOUNTS_OFF):
        if balance != entries_total:
            problem(person, f"stored balance is {balance} but the entries add up to {entries_total}")
        if issued != entries_issued:
            problem(person, f"stored issued points are {issued} but the lots add up to {entries_issued}")
        if balance < 0:
            problem(person, f"the stored balance is negative ({balance})")
    for person, entries_total in session.execute(ENTRIES_WITHOUT_ACCOUNT):
        problem(person, f"has entries adding up to {entries_total} points but no loyalty account")
    for lot_id, person, points, drawn in session.execute(OVERDRAWN_LOTS):
        if drawn > points:
            problem(person, f"lot {lot_id} had {points} points but {drawn} were drawn from it")
        else:
            problem(person, f"lot {lot_id} got {-drawn} points more back than were ever drawn from it")
    for entry_id, person, kind, points, drawn in session.execute(ENTRIES_OFF_THEIR_DRAWS):
        problem(
            person, f"entry {entry_id} ({kind}, {points} points) does not match its draws ({drawn} drawn)"
        )
    for lot_id, person, stored, drawn in session.execute(STORED_DRAWN_OFF):
        if stored is None:
            problem(person, f"lot {lot_id}: its draws add up to {drawn} points, but none are stored as drawn")
        else:
            problem(
                person,
                f"lot {lot_id}: {stored} points are stored as drawn from it, but its draws add up to {drawn}",
            )
    for person, entry_id, lot_id in session.execute(STRAY_DRAWS):
        problem(person, f"entry {entry_id} draws from entry {lot_id}, not one of their lots")
    for lot_id, person, left, short in session.execute(UNSETTLED_LOTS):
        problem(person, f"lot {lot_id} has {left} points left, but taking it back fell {short} points short")
    return sorted(found, key=lambda mismatch: mismatch.person_id)


@dataclass(frozen=True)
class ProgramTotals:
    members: int
    issued: int
    redeemed: int
    expired: int
    reversed: int
    adjusted: int  # taken off by staff; outstanding = issued - redeemed - expired - reversed - adjusted
    outstanding: int
    pending: int


_PENDING_LOTS = (
    select(_LEFT.label("remaining"))
    .select_from(_WITH_DRAWN)
    .where(
        _is_lot(),
        func.coalesce(_E.c.available_at, _E.c.at) > _NOW,
        or_(_E.c.expires_at.is_(None), _E.c.expires_at > _NOW),
    )
    .subquery()
)
PENDING_POINTS = select(_total(_PENDING_LOTS.c.remaining))
MEMBERS = select(func.count()).select_from(_A)


def totals(session: Session, *, now: datetime) -> ProgramTotals:
    """The whole program's points (the staff overview); the identity in ``ProgramTotals`` holds."""
    figures = tuple(session.execute(select(*_figures())).one())
    issued, redeemed, expired, reversed_, adjusted, outstanding = figures
    return ProgramTotals(
        members=session.scalar(MEMBERS) or 0,
        issued=issued,
        redeemed=redeemed,
        expired=expired,
        reversed=reversed_,
        adjusted=adjusted,
        outstanding=outstanding,
        pending=session.scalar(PENDING_POINTS, {"now": now}) or 0,
    )
