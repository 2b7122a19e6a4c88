"""RFM quintile scores and the segment map."""

from __future__ import annotations

import numpy as np

from goodwill.insights import rfm


def test_quintiles_split_distinct_values_evenly() -> None:
    scores = rfm.quintile_scores(np.arange(10))
    assert scores.tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]


def test_ties_share_a_score_and_the_lowest_value_scores_one() -> None:
    # Most customers bought once: they must all get the same (lowest) frequency score.
    occasions = [1] * 7 + [2, 3, 9]
    scores = rfm.quintile_scores(occasions)
    assert set(scores[:7].tolist()) == {1}
    assert scores[7:].tolist() == [4, 5, 5]


def test_a_single_customer_scores_one_everywhere_and_is_lost_or_new() -> None:
    one = rfm.score([0], [1], [1000])
    assert (one.r.tolist(), one.f.tolist(), one.m.tolist()) == ([1], [1], [1])
    assert one.segment.tolist() == ["lost"]


def test_recency_scores_favour_recent_buyers() -> None:
    scores = rfm.score(days_since_last=[400, 3, 90, 30, 200], occasions=[1] * 5, total_spend=[10] * 5)
    assert scores.r.tolist() == [1, 5, 3, 4, 2]


def test_the_segment_map_names_every_cell_with_the_eleven_segments() -> None:
    named = {name for row in rfm.SEGMENT_GRID for name in row}
    assert named == set(rfm.SEGMENTS)
    assert len(named) == 11
    assert rfm.segment_for(5, 5, 5) == "champions"
    assert rfm.segment_for(5, 1, 1) == "new"
    assert rfm.segment_for(1, 5, 4) == "cant_lose_them"
    assert rfm.segment_for(1, 1, 1) == "lost"
    assert rfm.segment_for(3, 3, 2) == "needs_attention"
    assert rfm.segment_label("cant_lose_them") == "Can't lose them"


def test_segments_of_a_small_base() -> None:
    # Best customer: recent, frequent, big spender; worst: long gone, once, little.
    scores = rfm.score(
        days_since_last=[1, 2, 300, 400, 5, 250],
        occasions=[12, 1, 10, 1, 4, 2],
        total_spend=[9000, 20, 8000, 15, 900, 60],
    )
    segments = scores.segment.tolist()
    assert segments[0] == "champions"
    assert segments[1] == "promising"  # second most recent of six: R = 4, one small order
    assert scores.r[1] == 4
    assert segments[2] == "cant_lose_them"
    assert segments[3] == "lost"
