"""RFM: quintile scores for recency, frequency and monetary value, and the named segment map.

Scores are 1 (worst) to 5 (best): ``1 + floor(5 * share of customers strictly worse)``. Ties
share a score, so everyone with a single purchase gets the same frequency score (the lowest),
instead of being split arbitrarily as rank-based quintiles would.

- R: days since the last purchase (fewer is better);
- F: purchase occasions, the first included (more is better);
- M: total spend (more is better).

The segment follows from R and the rounded-up mean of F and M (``FM``), by ``SEGMENT_GRID``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

SEGMENTS: dict[str, str] = {
    "champions": "bought recently, buy often and spend the most",
    "loyal": "buy often and spend well, still fairly recent",
    "potential_loyalist": "recent customers with average frequency and spend",
    "new": "bought for the first time very recently",
    "promising": "recent, but have not bought much yet",
    "needs_attention": "average recency, frequency and spend",
    "about_to_sleep": "below-average recency and little buying",
    "at_risk": "bought often and spent well, but a while ago",
    "cant_lose_them": "were among the best customers and have not come back for a long time",
    "hibernating": "last bought long ago, with little buying",
    "lost": "the lowest recency, frequency and spend",
}

# SEGMENT_GRID[R - 1][FM - 1]: rows R = 1..5 (5 = most recent), columns FM = 1..5.
SEGMENT_GRID: tuple[tuple[str, ...], ...] = (
    ("lost", "hibernating", "at_risk", "cant_lose_them", "cant_lose_them"),
    ("hibernating", "hibernating", "at_risk", "at_risk", "cant_lose_them"),
    ("about_to_sleep", "about_to_sleep", "needs_attention", "loyal", "loyal"),
    ("promising", "potential_loyalist", "potential_loyalist", "loyal", "loyal"),
    ("new", "potential_loyalist", "potential_loyalist", "champions", "champions"),
)


def segment_label(segment: str) -> str:
    return "Can't lose them" if segment == "cant_lose_them" else segment.replace("_", " ").capitalize()


def quintile_scores(values: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """1..5 by the share of customers with a strictly smaller value (ties share a score)."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return np.empty(0, dtype=np.int64)
    low, high = float(v.min()), float(v.max())
    if high - low < 1_000_000 and np.array_equal(v, np.floor(v)):
        # Whole numbers in a modest range (days, purchase counts): count instead of sorting.
        offset = (v - low).astype(np.int64)
        counts = np.bincount(offset)
        below = (np.cumsum(counts) - counts)[offset]
    else:
        below = np.searchsorted(np.sort(v), v, side="left")
    scores: npt.NDArray[np.int64] = 1 + np.minimum(4, (5 * below) // v.size).astype(np.int64)
    return scores


def segment_for(r_score: int, f_score: int, m_score: int) -> str:
    return SEGMENT_GRID[r_score - 1][(f_score + m_score + 1) // 2 - 1]


@dataclass(frozen=True)
class RfmScores:
    r: npt.NDArray[np.int64]
    f: npt.NDArray[np.int64]
    m: npt.NDArray[np.int64]
    segment: npt.NDArray[np.str_]


def score(days_since_last: npt.ArrayLike, occasions: npt.ArrayLike, total_spend: npt.ArrayLike) -> RfmScores:
    r = quintile_scores(-np.asarray(days_since_last, dtype=np.float64))
    f = quintile_scores(occasions)
    m = quintile_scores(total_spend)
    grid = np.array(SEGMENT_GRID)
    segment = grid[r - 1, (f + m + 1) // 2 - 1] if r.size else np.empty(0, dtype=np.str_)
    return RfmScores(r, f, m, segment)
