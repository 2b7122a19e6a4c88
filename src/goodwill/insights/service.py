"""Scoring the app's people and reading the stored results back (for the planner and the pages).

``score_people`` reads purchases in bulk, summarises them (DuckDB, or Spark), fits the models,
finds milestones and replaces the stored results in one unit of work (the caller's session).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import duckdb
import numpy as np
from sqlalchemy import delete, insert
from sqlalchemy.orm import Session

from goodwill.config import Business
from goodwill.insights import milestones as ms
from goodwill.insights import summary as summaries
from goodwill.insights.model import InsightMilestone, InsightRun, InsightScore
from goodwill.insights.overview import overview_of
from goodwill.insights.pipeline import ScoreOptions, Scores, score
from goodwill.insights.source import load_app_purchases
from goodwill.money import CURRENCY_EXPONENTS

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

Engine = Literal["duckdb", "spark"]
WRITE_CHUNK = 5_000
SPEND_THRESHOLDS_MAJOR = (100, 500, 1_000, 5_000)


def default_rules(currency: str) -> ms.MilestoneRules:
    """Default milestones; spend thresholds are 100, 500, 1,000 and 5,000 in the business currency."""
    unit = 10 ** CURRENCY_EXPONENTS[currency]
    return ms.MilestoneRules(spend_thresholds=tuple(t * unit for t in SPEND_THRESHOLDS_MAJOR))


@dataclass(frozen=True)
class ScoreReport:
    run_id: int
    as_of: date
    engine: str
    purchases: int
    customers: int
    milestones: int
    params: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "as_of": self.as_of.isoformat(),
            "engine": self.engine,
            "purchases": self.purchases,
            "customers": self.customers,
            "milestones": self.milestones,
            "bgnbd": self.params.get("bgnbd"),
            "gamma_gamma": self.params.get("gamma_gamma"),
            "notes": self.params.get("notes", []),
        }


def _summarise(
    con: duckdb.DuckDBPyConnection, options: ScoreOptions, engine: Engine, spark: SparkSession | None
) -> summaries.CustomerSummary:
    if engine == "duckdb":
        return summaries.summarise(con, options.as_of, period=options.period)
    from goodwill.insights.spark import spark_session, summarise_parquet

    with tempfile.TemporaryDirectory(prefix="goodwill-insights-") as folder:
        path = Path(folder) / "purchases.parquet"
        con.execute(f"COPY (SELECT customer_id, day, amount FROM purchases) TO '{path}' (FORMAT parquet)")
        return summarise_parquet(spark or spark_session(), str(path), options.as_of, period=options.period)


def _none_if_nan(values: np.ndarray[Any, Any], *, rounded: bool = False) -> list[Any]:
    out: list[Any] = []
    for value in values.tolist():
        if value != value or value in (float("inf"), float("-inf")):  # NaN or infinite
            out.append(None)
        else:
            out.append(round(value) if rounded else value)
    return out


def _score_rows(scores: Scores, run_id: int) -> list[dict[str, Any]]:
    s = scores.summary
    epoch = np.datetime64("1970-01-01", "D")
    columns = {
        "person_id": s.customer_id.astype(np.int64).tolist(),
        "first_purchase_on": (epoch + s.first_day).astype(object).tolist(),
        "last_purchase_on": (epoch + s.last_day).astype(object).tolist(),
        "orders": s.orders.tolist(),
        "frequency": s.frequency.tolist(),
        "recency_days": s.recency_days.tolist(),
        "age_days": s.age_days.tolist(),
        "total_spend_minor": np.rint(s.total_spend).astype(np.int64).tolist(),
        "r_score": scores.rfm.r.tolist(),
        "f_score": scores.rfm.f.tolist(),
        "m_score": scores.rfm.m.tolist(),
        "segment": scores.rfm.segment.tolist(),
        "p_alive": _none_if_nan(scores.p_alive),
        "expected_purchases": _none_if_nan(scores.expected_purchases),
        "clv_minor": _none_if_nan(scores.clv, rounded=True),
    }
    names = list(columns)
    return [
        dict(zip(names, row, strict=True)) | {"run_id": run_id} for row in zip(*columns.values(), strict=True)
    ]


def _bulk_insert(session: Session, table: Any, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), WRITE_CHUNK):
        session.execute(insert(table), rows[start : start + WRITE_CHUNK])


def score_people(
    session: Session,
    *,
    business: Business,
    options: ScoreOptions,
    engine: Engine = "duckdb",
    rules: ms.MilestoneRules | None = None,
    spark: SparkSession | None = None,
) -> ScoreReport:
    """Score everyone who bought, and replace the stored scores and milestones (a full replace)."""
    rules = rules or default_rules(business.currency)
    con = duckdb.connect()
    try:
        purchases = load_app_purchases(con, session, timezone=business.timezone, currency=business.currency)
        summary = _summarise(con, options, engine, spark)
        scores = score(summary, options)
        found = con.execute(ms.milestones_sql(rules, options.as_of)).fetchall()
        params: dict[str, Any] = {
            "bgnbd": scores.bgnbd.as_dict() if scores.bgnbd else None,
            "gamma_gamma": scores.gamma_gamma.as_dict() if scores.gamma_gamma else None,
            "notes": scores.notes,
            "overview": overview_of(con, scores, options.as_of),
        }
    finally:
        con.close()

    session.execute(delete(InsightMilestone))
    session.execute(delete(InsightScore))
    run = InsightRun(
        as_of=options.as_of,
        engine=engine,
        period=options.period,
        horizon_months=options.months,
        monthly_discount=options.monthly_discount,
        currency=business.currency,
        customers=len(summary),
        params=params,
    )
    session.add(run)
    session.flush()
    _bulk_insert(session, InsightScore.__table__, _score_rows(scores, run.id))
    milestone_rows = [
        {"person_id": int(pid), "run_id": run.id, "kind": kind, "value": int(value), "reached_on": reached}
        for pid, kind, value, reached in found
    ]
    _bulk_insert(session, InsightMilestone.__table__, milestone_rows)
    return ScoreReport(run.id, options.as_of, engine, purchases, len(summary), len(milestone_rows), params)
