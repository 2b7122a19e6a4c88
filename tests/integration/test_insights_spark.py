"""The summary on Apache Spark (local mode, reading Parquet) gives the same results as DuckDB."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow.parquet as pq
import pytest
from test_insights_score import _score, build_shop, stored_scores

from goodwill.db import Database
from goodwill.insights.simulate import simulate
from goodwill.insights.spark import spark_session, summarise_parquet
from goodwill.insights.summary import summarise


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One local Spark session for the whole run (it takes 10-20 s to start)."""
    warehouse = tmp_path_factory.mktemp("spark-warehouse")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SPARK_LOCAL_IP", "127.0.0.1")
        session = spark_session(
            "local[2]", {"spark.sql.warehouse.dir": str(warehouse), "spark.ui.showConsoleProgress": "false"}
        )
        yield session
        session.stop()


def test_spark_summary_equals_duckdb_summary(spark: Any, tmp_path: Path) -> None:
    sim = simulate(3_000, r=0.9, alpha=20.0, a=0.8, b=2.5, seed=21)
    table = sim.transactions()
    path = tmp_path / "purchases.parquet"
    pq.write_table(table, path)
    as_of = date(2025, 6, 1)  # inside the window: later purchases must be left out by both
    for period in ("day", "week"):
        on_spark = summarise_parquet(spark, str(path), as_of, period=period)
        con = duckdb.connect()
        con.execute(f"CREATE VIEW purchases AS SELECT * FROM read_parquet('{path}')")
        on_duckdb = summarise(con, as_of, period=period)
        assert len(on_spark) == len(on_duckdb) > 1000
        for column in (
            "customer_id",
            "first_day",
            "last_day",
            "frequency",
            "recency_days",
            "age_days",
            "orders",
        ):
            assert np.array_equal(getattr(on_spark, column), getattr(on_duckdb, column)), column
        assert np.allclose(on_spark.monetary, on_duckdb.monetary, rtol=1e-12, equal_nan=True)
        assert np.allclose(on_spark.total_spend, on_duckdb.total_spend, rtol=1e-12)
        assert np.array_equal(on_spark.recency, on_duckdb.recency)


def test_score_with_the_spark_engine_stores_what_duckdb_stores(db: Database, spark: Any) -> None:
    build_shop(db, crowd=80)
    with_duckdb = _score(db)
    by_duckdb = stored_scores(db)
    with_spark = _score(db, engine="spark", spark=spark)
    by_spark = stored_scores(db)
    assert with_spark["engine"] == "spark"
    assert with_spark["customers"] == with_duckdb["customers"]
    assert with_spark["milestones"] == with_duckdb["milestones"]
    for name, value in with_duckdb["bgnbd"].items():
        assert with_spark["bgnbd"][name] == pytest.approx(value, rel=1e-9), name
    assert by_spark.keys() == by_duckdb.keys()
    for person, row in by_duckdb.items():
        other = vars(by_spark[person])
        for column, value in vars(row).items():
            if column == "run_id":
                continue
            assert other[column] == (pytest.approx(value, rel=1e-9) if isinstance(value, float) else value), (
                column
            )
