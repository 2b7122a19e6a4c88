"""What happened to each person after the plan day: read in bulk, counted set-based in DuckDB.

Like the insights read side (``goodwill.insights.source``), the application database is only asked
for the raw facts, in one query per table (events, bank entries, consent changes), restricted to
the people of the analysed groups and to the time span the windows cover. The rows go into Arrow
and DuckDB counts every person's outcomes in every window with one grouped query, so a report
over six months of plan days costs three reads and one DuckDB query, not one query per day.

Outcomes over the window (start, stop]:

- ``repeat_purchase``: at least one purchase;
- ``orders``: purchases (a purchase whose order was cancelled is not one: ``counts_as_spend``);
- ``spend``: the purchases' amounts in the business currency, in minor units (other currencies
  count as orders, not spend);
- ``bank_change``: the sum of the person's relationship bank entries dated in the window;
- ``complaints``: complaint events;
- ``unsubscribes``: at least one consent withdrawal, any channel (an erasure records one too).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
from sqlalchemy import String, func, or_, select, type_coerce
from sqlalchemy.orm import Session

from goodwill.bank.model import BankEntry
from goodwill.events.model import Event
from goodwill.events.service import counts_as_spend
from goodwill.impact.cohorts import Analysis, AnySelect, cohort_people
from goodwill.people.model import ConsentChange


@dataclass(frozen=True)
class Outcome:
    key: str
    label: str
    kind: str  # "rate": a yes/no per person; "mean": a count or amount per person
    unit: str  # "share", "count", "money" or "points": how to show it
    higher_is_better: bool = True


OUTCOMES = (
    Outcome("repeat_purchase", "Bought again", "rate", "share"),
    Outcome("orders", "Orders per person", "mean", "count"),
    Outcome("spend", "Spend per person", "mean", "money"),
    Outcome("bank_change", "Relationship bank change", "mean", "points"),
    Outcome("complaints", "Complaints per person", "mean", "count", higher_is_better=False),
    Outcome("unsubscribes", "Unsubscribed", "rate", "share", higher_is_better=False),
)
OUTCOME_KEYS = tuple(o.key for o in OUTCOMES)
OUTCOMES_BY_KEY = {o.key: o for o in OUTCOMES}

CHUNK = 50_000
# Times cross over as naive UTC text (as in insights.source): the same on both backends, and no
# Python object per value on the way; DuckDB casts them.
TEXT_TS = pa.string()
EVENTS_SCHEMA = pa.schema(
    [
        ("person_id", pa.int64()),
        ("kind", pa.string()),
        ("ts", TEXT_TS),
        ("amount_minor", pa.int64()),
        ("currency", pa.string()),
    ]
)
BANK_SCHEMA = pa.schema([("person_id", pa.int64()), ("ts", TEXT_TS), ("amount", pa.int64())])
WITHDRAWALS_SCHEMA = pa.schema([("person_id", pa.int64()), ("ts", TEXT_TS)])
UTC_NAIVE = pa.timestamp("us")
WINDOWS_SCHEMA = pa.schema([("analysis", pa.int32()), ("start", UTC_NAIVE), ("stop", UTC_NAIVE)])


@dataclass
class GroupOutcomes:
    """Per person of one group, in person id order: one list per outcome key."""

    values: dict[str, list[Any]] = field(default_factory=lambda: {k: [] for k in OUTCOME_KEYS})

    @property
    def size(self) -> int:
        return len(self.values["orders"])


@dataclass
class AnalysisOutcomes:
    treated: GroupOutcomes = field(default_factory=GroupOutcomes)
    holdout: GroupOutcomes = field(default_factory=GroupOutcomes)


def _utc_text(session: Session, column: Any) -> Any:
    """A UTC time column as naive UTC text: SQLite stores exactly that; PostgreSQL is asked for it."""
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD HH24:MI:SS.US")
    return type_coerce(column, String)


def _naive_utc(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(tzinfo=None)


def _read(session: Session, query: AnySelect, schema: pa.Schema) -> pa.Table:
    """Run ``query`` and hand its rows to Arrow in chunks (columns in ``schema`` order)."""
    batches = []
    # Through the connection (Core), not the ORM session: plain tuples, no ORM loading machinery.
    result = session.connection().execute(query.execution_options(yield_per=CHUNK))
    for rows in result.partitions():
        columns = list(zip(*rows, strict=True))
        batches.append(
            pa.RecordBatch.from_arrays(
                [pa.array(values, type=f.type) for values, f in zip(columns, schema, strict=True)],
                schema=schema,
            )
        )
    return pa.Table.from_batches(batches, schema=schema)


def _sources(session: Session, analyses: Sequence[Analysis]) -> dict[str, pa.Table]:
    started = [a for a in analyses if a.started]
    if not started:
        return {
            "raw_events": EVENTS_SCHEMA.empty_table(),
            "raw_bank": BANK_SCHEMA.empty_table(),
            "raw_withdrawals": WITHDRAWALS_SCHEMA.empty_table(),
        }
    low, high = min(a.start for a in started), max(a.stop for a in started)
    people = cohort_people(started)
    at = _utc_text(session, Event.occurred_at)
    events = select(Event.person_id, Event.kind, at, Event.amount_minor, Event.currency).where(
        Event.kind.in_(("purchase", "complaint")),
        or_(Event.kind != "purchase", counts_as_spend()),
        Event.occurred_at > low,
        Event.occurred_at <= high,
        Event.person_id.in_(people),
    )
    bank = select(BankEntry.person_id, _utc_text(session, BankEntry.at), BankEntry.amount).where(
        BankEntry.at > low, BankEntry.at <= high, BankEntry.person_id.in_(people)
    )
    withdrawals = select(ConsentChange.person_id, _utc_text(session, ConsentChange.at)).where(
        ConsentChange.granted.is_(False),
        ConsentChange.at > low,
        ConsentChange.at <= high,
        ConsentChange.person_id.in_(people),
    )
    return {
        "raw_events": _read(session, events, EVENTS_SCHEMA),
        "raw_bank": _read(session, bank, BANK_SCHEMA),
        "raw_withdrawals": _read(session, withdrawals, WITHDRAWALS_SCHEMA),
    }


OUTCOMES_SQL = """
WITH events AS (
    SELECT person_id, kind, CAST(ts AS TIMESTAMP) AS ts, amount_minor, currency FROM raw_events
), bank AS (
    SELECT person_id, CAST(ts AS TIMESTAMP) AS ts, amount FROM raw_bank
), withdrawals AS (
    SELECT person_id, CAST(ts AS TIMESTAMP) AS ts FROM raw_withdrawals
), w AS (
    SELECT m.analysis, m.person_id, m.treated, x.start, x.stop
    FROM members AS m JOIN windows AS x USING (analysis)
), ev AS (
    SELECT w.analysis, w.person_id,
           count(*) FILTER (WHERE e.kind = 'purchase') AS orders,
           coalesce(sum(e.amount_minor) FILTER (WHERE e.kind = 'purchase' AND e.currency = $currency), 0)
               AS spend,
           count(*) FILTER (WHERE e.kind = 'complaint') AS complaints
    FROM w JOIN events AS e ON e.person_id = w.person_id AND e.ts > w.start AND e.ts <= w.stop
    GROUP BY w.analysis, w.person_id
), bk AS (
    SELECT w.analysis, w.person_id, sum(b.amount) AS bank_change
    FROM w JOIN bank AS b ON b.person_id = w.person_id AND b.ts > w.start AND b.ts <= w.stop
    GROUP BY w.analysis, w.person_id
), un AS (
    SELECT DISTINCT w.analysis, w.person_id
    FROM w JOIN withdrawals AS u ON u.person_id = w.person_id AND u.ts > w.start AND u.ts <= w.stop
)
SELECT w.analysis, w.treated,
       coalesce(ev.orders, 0) > 0 AS repeat_purchase,
       CAST(coalesce(ev.orders, 0) AS BIGINT) AS orders,
       CAST(coalesce(ev.spend, 0) AS BIGINT) AS spend,
       CAST(coalesce(bk.bank_change, 0) AS BIGINT) AS bank_change,
       CAST(coalesce(ev.complaints, 0) AS BIGINT) AS complaints,
       un.person_id IS NOT NULL AS unsubscribes
FROM w
LEFT JOIN ev USING (analysis, person_id)
LEFT JOIN bk USING (analysis, person_id)
LEFT JOIN un USING (analysis, person_id)
ORDER BY w.analysis, w.treated, w.person_id
"""


def outcomes_by_analysis(
    session: Session, analyses: Sequence[Analysis], members: pa.Table, *, currency: str
) -> list[AnalysisOutcomes]:
    """Every member's outcomes, grouped per analysis (in the order given) and per group."""
    windows = pa.Table.from_arrays(
        [
            pa.array(range(len(analyses)), pa.int32()),
            pa.array([_naive_utc(a.start) for a in analyses], UTC_NAIVE),
            pa.array([_naive_utc(a.stop) for a in analyses], UTC_NAIVE),
        ],
        schema=WINDOWS_SCHEMA,
    )
    con = duckdb.connect()
    try:
        for name, table in {"members": members, "windows": windows, **_sources(session, analyses)}.items():
            con.register(name, table)
        columns = con.execute(OUTCOMES_SQL, {"currency": currency}).fetchnumpy()
    finally:
        con.close()
    # Sorted by (analysis, treated): each group is one slice, found by binary search.
    keys = np.asarray(columns["analysis"], dtype=np.int64) * 2 + np.asarray(
        columns["treated"], dtype=np.int64
    )
    bounds = np.searchsorted(keys, np.arange(2 * len(analyses) + 1))
    values = {key: np.asarray(columns[key]) for key in OUTCOME_KEYS}
    found = [AnalysisOutcomes() for _ in analyses]
    for position, result in enumerate(found):
        for group, slot in ((result.holdout, 2 * position), (result.treated, 2 * position + 1)):
            for key in OUTCOME_KEYS:
                group.values[key] = values[key][bounds[slot] : bounds[slot + 1]].tolist()
    return found
