"""The summary step on Apache Spark, for purchase histories larger than one machine.

The same SQL as DuckDB runs through Spark SQL over Parquet; only the small result (one row per
customer) comes back to the driver, and the models are then fitted on compressed triples as usual.
Point ``master`` at a cluster (``spark://host:7077``, ``yarn``, ``k8s://...``) and ``parquet`` at
object storage (``s3a://bucket/purchases/``, with the hadoop-aws package and credentials set in
the cluster's own Spark configuration) to run at scale; see docs/insights.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np

from goodwill.insights.summary import PERIOD_DAYS, CustomerSummary, Period, from_columns, summary_sql

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def spark_session(
    master: str = "local[2]", conf: Mapping[str, str] | None = None, app_name: str = "goodwill-insights"
) -> SparkSession:
    """A Spark session; in local mode bound to 127.0.0.1 so it needs no resolvable host name."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise RuntimeError("Spark is not installed: pip install 'goodwill[spark]'") from exc
    builder = SparkSession.builder.appName(app_name).master(master)
    settings: dict[str, str] = {"spark.sql.session.timeZone": "UTC", "spark.ui.enabled": "false"}
    if master.startswith("local"):
        settings.update(
            {
                "spark.driver.host": "127.0.0.1",
                "spark.driver.bindAddress": "127.0.0.1",
                "spark.sql.shuffle.partitions": "4",
            }
        )
    settings.update(conf or {})
    for key, value in settings.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def summarise_parquet(
    spark: SparkSession, parquet: str, as_of: date, *, period: Period = "day"
) -> CustomerSummary:
    """Summarise Parquet files with columns ``customer_id``, ``day`` (date) and ``amount``."""
    if period not in PERIOD_DAYS:
        raise ValueError(f"period must be one of {', '.join(PERIOD_DAYS)}, not {period!r}")
    view = "goodwill_purchases"
    spark.read.parquet(parquet).createOrReplaceTempView(view)
    try:
        rows = spark.sql(summary_sql(as_of, source=view, dialect="spark")).toArrow()
    finally:
        spark.catalog.dropTempView(view)
    columns: dict[str, Any] = {name: rows.column(name).to_numpy() for name in rows.column_names}
    columns["monetary"] = np.asarray(columns["monetary"], dtype=np.float64)
    return from_columns(columns, as_of, period)
