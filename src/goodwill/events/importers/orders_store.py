"""Storing parsed orders in bulk: people, orders, their events, consent and a few facts.

One call handles one batch (a few thousand orders) with a handful of set-based statements,
never an ORM object per row. Idempotent: orders are keyed by (source, external_id) and events
by (source, source_id); what already exists is counted as a duplicate and left alone, except
that a refund or cancellation new since the last export is still recorded as an event.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.orm import Session

from goodwill.db import utcnow
from goodwill.events.importers.bulk import BulkWriter, JsonItems
from goodwill.events.importers.consent import apply_imported_consent
from goodwill.events.importers.report import ImportReport
from goodwill.events.model import Event, Order
from goodwill.people.model import Fact, Person, PersonIdentity
from goodwill.people.service import PersonRecord, mark_customers, resolve_people

CHUNK = 500
FACTS_PER_PERSON = 3  # "Ordered: ..." facts kept per person: enough to personalise, not a catalogue


@dataclass(slots=True)
class ParsedOrder:
    """One order read from a file, already validated; ``lines`` are the file lines behind it."""

    external_id: str
    lines: list[int]
    person: PersonRecord
    placed_at: datetime
    currency: str
    total_minor: int
    refunded_minor: int = 0
    cancelled_at: datetime | None = None
    items: list[dict[str, Any]] = field(default_factory=list)
    accepts_marketing: bool | None = None


@dataclass
class OrderSink:
    """Where a parser's orders go: batched, stored while the parser reads on, finished by ``flush``.

    Use it as a context manager around the parsing loop. Batches are stored one after another,
    in order, by one background thread: the database's own work (COPY, index and foreign-key
    upkeep) then overlaps with parsing the next batch instead of following it. At most one
    batch waits in the queue, so memory stays bounded. Only that thread touches the session
    until ``flush`` returns; an error there is raised in the parser's thread at the next batch.
    """

    session: Session
    source: str  # "shopify" or "csv": the Order.source and the Event.source
    report: ImportReport
    batch_size: int = 5000
    background: bool | None = None  # store in a thread? None: on PostgreSQL only
    pending: list[ParsedOrder] = field(default_factory=list)
    facts_given: dict[int, int] = field(default_factory=dict)
    writer: BulkWriter = field(init=False)
    # What the storing thread counts, merged into ``report`` by ``flush``: the parser's thread
    # counts into ``report`` meanwhile, and ``+=`` on one attribute from two threads loses counts.
    stored: ImportReport = field(default_factory=ImportReport)
    _queue: queue.Queue[list[ParsedOrder] | None] = field(default_factory=lambda: queue.Queue(maxsize=1))
    _thread: threading.Thread | None = None
    _error: BaseException | None = None

    def __post_init__(self) -> None:
        self.writer = BulkWriter(self.session)
        self.writer.lock(f"orders:{self.source}")
        if self.background is None:
            # SQLite does its work inside this process, holding the GIL for most of it: a second
            # thread only adds switching there (measured ~5 % slower), so it stores in line.
            self.background = self.writer.postgres
        self.json_items = JsonItems()

    def __enter__(self) -> OrderSink:
        return self

    def __exit__(self, exc_type: object, *_exc: object) -> None:
        if exc_type is None:
            self.flush()
        else:
            self._stop()  # the parser's error wins; the caller's transaction rolls back

    def add(self, order: ParsedOrder) -> None:
        self.pending.append(order)
        if len(self.pending) >= self.batch_size:
            self._hand_over()

    def flush(self) -> None:
        """Store everything added so far, wait until it is stored, and count it in ``report``."""
        self._hand_over()
        self._stop()
        if self._error is not None:
            raise self._error
        _merge(self.report, self.stored)
        self.stored = ImportReport()

    def _hand_over(self) -> None:
        if self._error is not None:
            self._stop()
            raise self._error
        batch, self.pending = self.pending, []
        if not batch:
            return
        if not self.background:
            store_orders(self, batch)
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._store_in_turn, name="goodwill-import", daemon=True)
            self._thread.start()
        self._queue.put(batch)

    def _store_in_turn(self) -> None:
        while (batch := self._queue.get()) is not None:
            if self._error is None:
                try:
                    store_orders(self, batch)
                except BaseException as exc:  # handed to the parser's thread
                    self._error = exc

    def _stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None


def _merge(report: ImportReport, stored: ImportReport) -> None:
    report.orders += stored.orders
    report.events += stored.events
    report.people += stored.people
    report.duplicates += stored.duplicates
    report.kept_rows += stored.kept_rows
    report.duplicate_rows += stored.duplicate_rows
    report.person_ids |= stored.person_ids


ORDER_COLUMNS = [
    "id", "person_id", "source", "external_id", "placed_at", "currency", "total_minor", "refunded_minor",
    "cancelled_at", "items", "recorded_at",
]  # fmt: skip
EVENT_COLUMNS = [
    "person_id",
    "kind",
    "occurred_at",
    "amount_minor",
    "currency",
    "order_id",
    "source",
    "source_id",
    "recorded_at",
]


def _table(model: Any) -> Table:
    table: Table = model.__table__
    return table


def store_orders(sink: OrderSink, orders: list[ParsedOrder]) -> None:
    session, source, report, writer = sink.session, sink.source, sink.stored, sink.writer
    facts_given = sink.facts_given  # people already given enough facts need no more wishes
    person_ids, created = resolve_people(session, [o.person for o in orders], source=f"{source} import")
    report.people += created
    writer.note_growth(_table(Person), created)
    writer.note_growth(_table(PersonIdentity), created)

    existing: dict[str, tuple[int, int]] = {}
    stored_state: dict[str, tuple[int, datetime | None]] = {}  # refunded so far, cancelled at
    for condition in writer.matching(Order.external_id, [o.external_id for o in orders]):
        rows = session.execute(
            select(
                Order.external_id, Order.id, Order.person_id, Order.refunded_minor, Order.cancelled_at
            ).where(Order.source == source, condition)
        )
        for name, oid, pid, refunded, cancelled_at in rows:
            existing[name] = (oid, pid)
            stored_state[name] = (refunded, cancelled_at)

    now = utcnow()
    fresh = [(o, pid) for o, pid in zip(orders, person_ids, strict=True) if o.external_id not in existing]
    order_ids = writer.allocate_ids(_table(Order), len(fresh))
    writer.insert(
        _table(Order),
        ORDER_COLUMNS,
        [
            (
                oid,
                pid,
                source,
                o.external_id,
                o.placed_at,
                o.currency,
                o.total_minor,
                o.refunded_minor,
                o.cancelled_at,
                sink.json_items(o.items),
                now,
            )
            for (o, pid), oid in zip(fresh, order_ids, strict=True)
        ],
        known_new=True,
    )
    inserted = {o.external_id: oid for (o, _), oid in zip(fresh, order_ids, strict=True)}

    events: list[tuple[Any, ...]] = []
    changes: list[dict[str, Any]] = []
    buyers: list[int] = []
    fact_wishes: list[tuple[int, str]] = []
    consent: dict[int, dict[str, bool]] = {}
    for order, person_id in zip(orders, person_ids, strict=True):
        if order.accepts_marketing is not None:
            consent[person_id] = {"email": order.accepts_marketing}
        if order.external_id in inserted:
            order_id, owner = inserted[order.external_id], person_id
            report.orders += 1
            report.kept_rows += len(order.lines)
            if order.cancelled_at is None and facts_given.get(owner, 0) < FACTS_PER_PERSON:
                fact_wishes.extend((owner, str(item["name"])) for item in order.items if item.get("name"))
        else:
            order_id, owner = existing[order.external_id]
            report.duplicates += 1
            report.duplicate_rows += 1 * len(order.lines)
            change = _order_change(order, order_id, *stored_state[order.external_id])
            if change:
                changes.append(change)
        refunded_before = stored_state.get(order.external_id, (0, None))[0]
        events.extend(_order_events(order, source, order_id, owner, now, refunded_before=refunded_before))
        if order.cancelled_at is None:
            buyers.append(owner)
    _store_events(sink, events)
    if changes:
        # A later export may cancel a stored order or refund more of it: the order says so now,
        # so it stops counting as a purchase (the events that already happened stay as they were).
        session.execute(ORDER_CHANGE, changes)
    mark_customers(session, buyers)
    apply_imported_consent(session, consent, source=f"{source} import")
    _add_item_facts(sink, fact_wishes, now)


def _store_events(sink: OrderSink, events: list[tuple[Any, ...]]) -> None:
    """Events not stored before (a duplicate order may still bring a refund that is new)."""
    known: set[str] = set()
    for condition in sink.writer.matching(Event.source_id, [e[7] for e in events]):
        known.update(
            sink.session.scalars(select(Event.source_id).where(Event.source == sink.source, condition))
        )
    new = [e for e in events if e[7] not in known]
    sink.stored.events += sink.writer.insert(_table(Event), EVENT_COLUMNS, new, known_new=True)
    sink.stored.person_ids.update(e[0] for e in new)


ORDER_CHANGE = (
    update(_table(Order))
    .where(_table(Order).c.id == bindparam("order_id"))
    .values(refunded_minor=bindparam("refunded"), cancelled_at=bindparam("cancelled"))
)


def _order_change(
    order: ParsedOrder, order_id: int, refunded: int, cancelled_at: datetime | None
) -> dict[str, Any] | None:
    """How a stored order changes with this export: a new cancellation or a bigger refund."""
    new_refunded = max(refunded, order.refunded_minor)
    new_cancelled = cancelled_at or order.cancelled_at
    if new_refunded == refunded and new_cancelled == cancelled_at:
        return None
    return {"order_id": order_id, "refunded": new_refunded, "cancelled": new_cancelled}


def _order_events(
    order: ParsedOrder,
    source: str,
    order_id: int,
    person_id: int,
    now: datetime,
    *,
    refunded_before: int = 0,
) -> list[tuple[Any, ...]]:
    ref, currency = order.external_id, order.currency
    if order.cancelled_at is not None:
        # A cancelled order never counted as spend, so a refund of it is not recorded either.
        return [(person_id, "order_cancelled", order.cancelled_at, order.total_minor, currency, order_id,
                 source, f"{source}:cancel:{ref}", now)]  # fmt: skip
    found = [(person_id, "purchase", order.placed_at, order.total_minor, currency, order_id,
              source, f"{source}:order:{ref}", now)]  # fmt: skip
    if order.refunded_minor > refunded_before:
        # Exports carry no refund date; the order date is the only time we know. Keyed by the
        # total refunded so far, so a later, bigger refund adds the difference exactly once.
        found.append((person_id, "refund", order.placed_at, order.refunded_minor - refunded_before, currency,
                      order_id, source, f"{source}:refund:{ref}:{order.refunded_minor}", now))  # fmt: skip
    return found


def _add_item_facts(sink: OrderSink, wishes: list[tuple[int, str]], now: datetime) -> None:
    """ "Ordered: Blue teapot" for a person's first few distinct items, never more than a few."""
    if not wishes:
        return
    session, source = sink.session, f"{sink.source} import"
    people = sorted({pid for pid, _ in wishes if sink.facts_given.get(pid, 0) < FACTS_PER_PERSON})
    already: dict[int, int] = {}
    for condition in sink.writer.matching(Fact.person_id, people):
        rows = session.execute(
            select(Fact.person_id, func.count())
            .where(condition, Fact.source == source)
            .group_by(Fact.person_id)
        )
        already.update({pid: int(n) for pid, n in rows})
    chosen: dict[tuple[int, str], None] = {}
    for person_id, name in wishes:
        key = (person_id, f"Ordered: {' '.join(name.split())}"[:500])
        if key in chosen:
            continue
        given = max(sink.facts_given.get(person_id, 0), already.get(person_id, 0))
        if given >= FACTS_PER_PERSON:
            continue
        sink.facts_given[person_id] = given + 1
        chosen[key] = None
    sink.writer.insert(
        _table(Fact), ["person_id", "text", "source", "created_at"], [(p, t, source, now) for p, t in chosen]
    )
