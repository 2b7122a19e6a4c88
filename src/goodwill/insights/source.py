"""Purchases from the application database, handed to DuckDB in bulk (never row by row through the ORM).

DuckDB's sqlite/postgres scanners are not available offline, so the events are read with the
DB-API cursor in chunks into Arrow, and all the rules below run set-based in DuckDB:

- a purchase is a ``purchase`` event; one whose order was cancelled (``orders.cancelled_at`` or an
  ``order_cancelled`` event for the same order) is not a purchase;
- ``refund`` events are netted against their order (``order_id``): the purchase is worth its amount
  less the refunds, never below zero, and a fully refunded order is not a purchase at all. A refund
  without an order cannot be placed and is ignored;
- amounts in another currency than the business's count as purchases of unknown value;
- the purchase day is the calendar day in the business time zone.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import duckdb
import pyarrow as pa
from sqlalchemy.orm import Session

CHUNK = 100_000
KINDS = ("purchase", "refund", "order_cancelled")

RAW_SCHEMA = pa.schema(
    [
        ("person_id", pa.int64()),
        ("kind", pa.string()),
        ("occurred_at", pa.string()),  # naive UTC, as text on every backend (cast by DuckDB)
        ("amount_minor", pa.int64()),
        ("currency", pa.string()),
        ("order_id", pa.int64()),
        ("order_cancelled", pa.int64()),
    ]
)


def _event_query(dialect: str) -> str:
    # PostgreSQL: the UTC wall-clock as text, so both backends hand over the same thing.
    at = (
        "to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')"
        if dialect == "postgresql"
        else "e.occurred_at"
    )
    kinds = ", ".join(f"'{k}'" for k in KINDS)
    return f"""
        SELECT e.person_id, e.kind, {at}, e.amount_minor, e.currency, e.order_id,
               CASE WHEN o.cancelled_at IS NULL THEN 0 ELSE 1 END
        FROM events e LEFT JOIN orders o ON o.id = e.order_id
        WHERE e.kind IN ({kinds})
    """


def _batches(session: Session) -> Iterator[pa.RecordBatch]:
    connection = session.connection()
    cursor: Any = connection.connection.cursor()
    try:
        cursor.execute(_event_query(connection.dialect.name))
        while rows := cursor.fetchmany(CHUNK):
            columns = list(zip(*rows, strict=True))
            yield pa.RecordBatch.from_arrays(
                [pa.array(values, type=f.type) for values, f in zip(columns, RAW_SCHEMA, strict=True)],
                schema=RAW_SCHEMA,
            )
    finally:
        cursor.close()


PURCHASES_SQL = """
CREATE OR REPLACE TABLE purchases AS
WITH ev AS (
    SELECT person_id, kind, amount_minor, currency, order_id, order_cancelled,
           CAST(timezone($tz, timezone('UTC', CAST(occurred_at AS TIMESTAMP))) AS DATE) AS day
    FROM raw_events
), cancelled AS (
    SELECT DISTINCT order_id FROM ev WHERE kind = 'order_cancelled' AND order_id IS NOT NULL
), refunds AS (
    SELECT order_id, SUM(amount_minor) AS refunded FROM ev
    WHERE kind = 'refund' AND order_id IS NOT NULL AND amount_minor IS NOT NULL AND currency = $currency
    GROUP BY order_id
)
SELECT p.person_id AS customer_id, p.day, p.order_id,
       CASE WHEN p.amount_minor IS NULL OR p.currency IS DISTINCT FROM $currency THEN NULL
            ELSE CAST(greatest(p.amount_minor - coalesce(r.refunded, 0), 0) AS BIGINT) END AS amount
FROM ev AS p LEFT JOIN refunds AS r ON r.order_id = p.order_id
WHERE p.kind = 'purchase'
  AND p.order_cancelled = 0
  AND NOT EXISTS (SELECT 1 FROM cancelled AS c WHERE c.order_id = p.order_id)
  AND NOT (p.currency IS NOT DISTINCT FROM $currency AND p.amount_minor > 0
           AND coalesce(r.refunded, 0) >= p.amount_minor)
"""


def load_app_purchases(
    con: duckdb.DuckDBPyConnection, session: Session, *, timezone: str, currency: str
) -> int:
    """Create DuckDB table ``purchases(customer_id, day, order_id, amount)``; returns its row count."""
    reader = pa.RecordBatchReader.from_batches(RAW_SCHEMA, _batches(session))
    raw = reader.read_all()
    con.register("raw_events", raw)
    try:
        con.execute(PURCHASES_SQL, {"tz": timezone, "currency": currency})
    finally:
        con.unregister("raw_events")
    return int(con.execute("SELECT count(*) FROM purchases").fetchall()[0][0])
