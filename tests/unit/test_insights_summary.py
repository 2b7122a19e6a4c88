"""The per-customer summary in DuckDB: occasions, units, values, calibration end."""

from __future__ import annotations

from datetime import date

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from goodwill.insights.summary import CustomerSummary, summarise


def summary_of(
    rows: list[tuple[int, date, float | None]], as_of: date, period: str = "day"
) -> CustomerSummary:
    table = pa.table(
        {
            "customer_id": pa.array([r[0] for r in rows], pa.int64()),
            "day": pa.array([r[1] for r in rows], pa.date32()),
            "amount": pa.array([r[2] for r in rows], pa.float64()),
        }
    )
    con = duckdb.connect()
    con.register("purchases", table)
    return summarise(con, as_of, period=period)  # type: ignore[arg-type]


def test_one_purchase_has_no_repeat_and_no_monetary_value() -> None:
    s = summary_of([(7, date(2024, 1, 10), 25.0)], date(2024, 1, 31))
    assert s.customer_id.tolist() == [7]
    assert (s.frequency[0], s.recency_days[0], s.age_days[0]) == (0, 0, 21)
    assert np.isnan(s.monetary[0])
    assert (s.orders[0], s.total_spend[0]) == (1, 25.0)


def test_same_day_purchases_are_one_occasion_with_their_values_added() -> None:
    rows = [
        (1, date(2024, 1, 1), 10.0),
        (1, date(2024, 1, 5), 20.0),
        (1, date(2024, 1, 5), 30.0),
        (1, date(2024, 1, 9), 40.0),
    ]
    s = summary_of(rows, date(2024, 1, 15))
    assert s.frequency[0] == 2  # 5 Jan and 9 Jan
    assert s.monetary[0] == pytest.approx((50.0 + 40.0) / 2)
    assert (s.orders[0], s.total_spend[0], s.recency_days[0]) == (4, 100.0, 8)


def test_purchases_after_the_calibration_end_are_left_out() -> None:
    rows = [(1, date(2024, 1, 1), 10.0), (1, date(2024, 2, 1), 10.0), (2, date(2024, 3, 1), 5.0)]
    s = summary_of(rows, date(2024, 1, 31))
    assert s.customer_id.tolist() == [1]
    assert s.frequency[0] == 0


def test_unknown_values_count_as_occasions_but_not_in_the_mean_spend() -> None:
    rows = [(1, date(2024, 1, 1), None), (1, date(2024, 1, 2), 30.0), (1, date(2024, 1, 3), None)]
    s = summary_of(rows, date(2024, 1, 10))
    assert s.frequency[0] == 2
    assert s.monetary[0] == 30.0
    assert s.total_spend[0] == 30.0


def test_weeks_are_days_over_seven() -> None:
    s = summary_of(
        [(1, date(2024, 1, 1), 1.0), (1, date(2024, 1, 11), 1.0)], date(2024, 1, 15), period="week"
    )
    assert s.recency[0] == pytest.approx(10 / 7)
    assert s.age[0] == 2.0
    assert s.days_since_last[0] == 4


def test_an_unknown_period_is_refused() -> None:
    with pytest.raises(ValueError, match="period"):
        summary_of([(1, date(2024, 1, 1), 1.0)], date(2024, 1, 2), period="month")
