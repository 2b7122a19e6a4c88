"""The numbers behind the Insights page, computed once per scoring run and kept with the run.

Keeping them with the run means the page reads one row, however many customers there are.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np

from goodwill.insights.rfm import SEGMENT_GRID, SEGMENTS

if TYPE_CHECKING:
    from goodwill.insights.pipeline import Scores

MONTHS_SHOWN = 24

REPEAT_RATE_SQL = """
WITH days AS (SELECT DISTINCT customer_id, day FROM purchases WHERE day <= $as_of),
firsts AS (SELECT customer_id, MIN(day) AS first_day FROM days GROUP BY customer_id),
months AS (SELECT customer_id, date_trunc('month', day) AS month, MIN(day) AS first_in_month
           FROM days GROUP BY customer_id, date_trunc('month', day))
SELECT strftime(month, '%Y-%m') AS month, COUNT(*) AS buyers,
       COUNT(*) FILTER (WHERE first_in_month > first_day) AS returning
FROM months JOIN firsts USING (customer_id)
GROUP BY month ORDER BY month DESC LIMIT $limit
"""


def repeat_rate(con: duckdb.DuckDBPyConnection, as_of: date) -> list[dict[str, Any]]:
    """Per month: how many people bought, and how many of them had bought before (returning)."""
    rows = con.execute(REPEAT_RATE_SQL, {"as_of": as_of, "limit": MONTHS_SHOWN}).fetchall()
    return [{"month": m, "buyers": int(b), "returning": int(r)} for m, b, r in reversed(rows)]


def overview_of(con: duckdb.DuckDBPyConnection, scores: Scores, as_of: date) -> dict[str, Any]:
    r, fm = scores.rfm.r, (scores.rfm.f + scores.rfm.m + 1) // 2
    grid = np.zeros((5, 5), dtype=np.int64)
    np.add.at(grid, (r - 1, fm - 1), 1)
    segment_counts = {name: 0 for name in SEGMENTS}
    for i, row in enumerate(SEGMENT_GRID):
        for j, name in enumerate(row):
            segment_counts[name] += int(grid[i, j])

    alive = scores.p_alive[np.isfinite(scores.p_alive)]
    p_alive_bins = np.histogram(alive, bins=10, range=(0.0, 1.0))[0] if alive.size else np.zeros(10)
    clv = np.sort(scores.clv[np.isfinite(scores.clv)])
    deciles: list[dict[str, float]] = []
    if clv.size:
        total = float(clv.sum())
        for part in np.array_split(clv, min(10, clv.size)):
            deciles.append({"mean": float(part.mean()), "share": float(part.sum() / total) if total else 0.0})
    return {
        "grid": grid.tolist(),
        "segments": segment_counts,
        "p_alive_bins": [int(n) for n in p_alive_bins],
        "clv_deciles": deciles,
        "clv_total": float(clv.sum()) if clv.size else None,
        "repeat_rate": repeat_rate(con, as_of),
    }
