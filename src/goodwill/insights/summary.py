"""Per-customer summary of purchases, set-based in DuckDB (the Spark version is in ``spark.py``).

Input: a relation ``purchases(customer_id, day DATE, amount)`` with one row per purchase (order),
``amount`` nullable. A purchase *occasion* is a customer's calendar day with at least one purchase:
same-day purchases count once and their values are summed (Fader and Hardie's convention for
CDNOW). Time is measured in days or weeks of 7 days.

- ``frequency`` x: repeat occasions (occasions after the first) up to the calibration end;
- ``recency`` t_x: first to last occasion; ``T``: first occasion to the calibration end;
- ``monetary``: mean value of the repeat occasions (NaN when there is none);
- ``orders``, ``total_spend``: every purchase up to the calibration end, first included.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

import duckdb
import numpy as np
import numpy.typing as npt

Period = Literal["day", "week"]
PERIOD_DAYS: dict[str, int] = {"day": 1, "week": 7}
EPOCH = date(1970, 1, 1)


def summary_sql(as_of: date, *, source: str = "purchases", dialect: str = "duckdb") -> str:
    """The summary query; the same text runs on DuckDB and Spark SQL (``min_by`` vs ``arg_min``)."""
    first_by = "arg_min" if dialect == "duckdb" else "min_by"
    day_number = (
        "datediff('day', DATE '1970-01-01', {col})"
        if dialect == "duckdb"
        else "datediff({col}, DATE '1970-01-01')"
    )
    span = "datediff('day', {a}, {b})" if dialect == "duckdb" else "datediff({b}, {a})"
    cutoff = f"DATE '{as_of.isoformat()}'"
    return f"""
    WITH occasions AS (
        SELECT customer_id, day, SUM(amount) AS value, COUNT(*) AS orders
        FROM {source}
        WHERE day <= {cutoff}
        GROUP BY customer_id, day
    ), customers AS (
        SELECT customer_id,
               MIN(day) AS first_day,
               MAX(day) AS last_day,
               COUNT(*) AS occasions,
               SUM(orders) AS orders,
               SUM(value) AS total,
               COUNT(value) AS valued,
               {first_by}(COALESCE(value, 0), day) AS first_value,
               {first_by}(CASE WHEN value IS NULL THEN 0 ELSE 1 END, day) AS first_valued
        FROM occasions
        GROUP BY customer_id
    )
    SELECT customer_id,
           {day_number.format(col="first_day")} AS first_day,
           {day_number.format(col="last_day")} AS last_day,
           occasions - 1 AS frequency,
           {span.format(a="first_day", b="last_day")} AS recency_days,
           {span.format(a="first_day", b=cutoff)} AS age_days,
           CASE WHEN valued - first_valued > 0
                THEN CAST(total - first_value AS DOUBLE) / (valued - first_valued)
                ELSE CAST('NaN' AS DOUBLE) END AS monetary,
           orders,
           CAST(COALESCE(total, 0) AS DOUBLE) AS total_spend
    FROM customers
    """


@dataclass(frozen=True)
class CustomerSummary:
    """Column arrays, one entry per customer, sorted by customer id."""

    customer_id: npt.NDArray[Any]
    first_day: npt.NDArray[np.int64]  # days since 1970-01-01
    last_day: npt.NDArray[np.int64]
    frequency: npt.NDArray[np.int64]
    recency_days: npt.NDArray[np.int64]
    age_days: npt.NDArray[np.int64]
    monetary: npt.NDArray[np.float64]
    orders: npt.NDArray[np.int64]
    total_spend: npt.NDArray[np.float64]
    as_of: date
    period: Period = "day"

    def __len__(self) -> int:
        return int(self.customer_id.size)

    @property
    def recency(self) -> npt.NDArray[np.float64]:
        result: npt.NDArray[np.float64] = self.recency_days / PERIOD_DAYS[self.period]
        return result

    @property
    def age(self) -> npt.NDArray[np.float64]:
        """T, the customer's age in periods at the calibration end."""
        result: npt.NDArray[np.float64] = self.age_days / PERIOD_DAYS[self.period]
        return result

    @property
    def days_since_last(self) -> npt.NDArray[np.int64]:
        result: npt.NDArray[np.int64] = (self.as_of - EPOCH).days - self.last_day
        return result


def from_columns(columns: dict[str, Any], as_of: date, period: Period) -> CustomerSummary:
    # Sorting here rather than in SQL: an ORDER BY over the wide result costs DuckDB several times
    # what one argsort of the ids costs NumPy, and Spark returns rows in no particular order anyway.
    order = np.argsort(np.asarray(columns["customer_id"]), kind="stable")

    def ints(name: str) -> npt.NDArray[np.int64]:
        return np.asarray(columns[name], dtype=np.int64)[order]

    return CustomerSummary(
        customer_id=np.asarray(columns["customer_id"])[order],
        first_day=ints("first_day"),
        last_day=ints("last_day"),
        frequency=ints("frequency"),
        recency_days=ints("recency_days"),
        age_days=ints("age_days"),
        monetary=np.asarray(columns["monetary"], dtype=np.float64)[order],
        orders=ints("orders"),
        total_spend=np.asarray(columns["total_spend"], dtype=np.float64)[order],
        as_of=as_of,
        period=period,
    )


def summarise(
    con: duckdb.DuckDBPyConnection, as_of: date, *, period: Period = "day", source: str = "purchases"
) -> CustomerSummary:
    """Summarise the relation ``source`` (a table, view or registered Arrow table) in one query."""
    if period not in PERIOD_DAYS:
        raise ValueError(f"period must be one of {', '.join(PERIOD_DAYS)}, not {period!r}")
    columns = con.sql(summary_sql(as_of, source=source)).fetchnumpy()
    return from_columns(columns, as_of, period)
