"""Goodwill reproduces the published CDNOW results from the raw transactions (tests/data/cdnow)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from goodwill.insights import bgnbd, gamma_gamma, summary

CDNOW = Path(__file__).parent.parent / "data" / "cdnow" / "CDNOW_sample.txt"
CALIBRATION_END = date(1997, 9, 30)  # end of week 39


def significant(value: float, digits: int = 3) -> float:
    return float(f"{value:.{digits - 1}e}")


@pytest.fixture(scope="module")
def cdnow() -> summary.CustomerSummary:
    rows = [line.split() for line in CDNOW.read_text().splitlines() if line.strip()]
    table = pa.table(
        {
            "customer_id": pa.array([int(r[1]) for r in rows], pa.int64()),
            "day": pa.array([datetime.strptime(r[2], "%Y%m%d").date() for r in rows], pa.date32()),
            "amount": pa.array([float(r[4]) for r in rows], pa.float64()),
        }
    )
    con = duckdb.connect()
    con.register("purchases", table)
    return summary.summarise(con, CALIBRATION_END, period="week")


def test_summary_matches_fader_hardie_rfm(cdnow: summary.CustomerSummary) -> None:
    assert len(cdnow) == 2357
    assert int((cdnow.frequency > 0).sum()) == 946  # the repeat customers of the Gamma-Gamma note
    first = 0  # sample customer 1: x = 2, t_x = 30.43, T = 38.86 in Fader and Hardie's spreadsheet
    assert cdnow.customer_id[first] == 1
    assert cdnow.frequency[first] == 2
    assert round(float(cdnow.recency[first]), 2) == 30.43
    assert round(float(cdnow.age[first]), 2) == 38.86
    assert cdnow.monetary[first] == pytest.approx((29.73 + 14.96) / 2)  # zbar: mean of the repeat purchases


def test_bgnbd_reproduces_fader_hardie_lee_2005(cdnow: summary.CustomerSummary) -> None:
    fitted = bgnbd.fit(cdnow.frequency, cdnow.recency, cdnow.age)
    assert significant(fitted.r) == 0.243
    assert significant(fitted.alpha, 4) == 4.414
    assert significant(fitted.a) == 0.793
    assert significant(fitted.b, 4) == 2.426
    assert round(fitted.log_likelihood, 1) == -9582.4


def test_bgnbd_conditional_expectation_matches_the_published_spreadsheet(
    cdnow: summary.CustomerSummary,
) -> None:
    fitted = bgnbd.fit(cdnow.frequency, cdnow.recency, cdnow.age)
    # Fader, Hardie and Lee's worked example: x = 2, t_x = 30.43, T = 38.86, next 39 weeks.
    expected = bgnbd.expected_purchases(fitted, 39.0, 2, 30.43, 38.86)
    assert round(float(expected), 3) == 1.226


def test_gamma_gamma_reproduces_fader_hardie_spend_model(cdnow: summary.CustomerSummary) -> None:
    fitted = gamma_gamma.fit(cdnow.frequency, cdnow.monetary)
    assert significant(fitted.p) == 6.25
    assert significant(fitted.q) == 3.74
    assert significant(fitted.v) == 15.4
    assert abs(fitted.v - 15.44) < 0.005


def test_fit_on_compressed_triples_equals_fit_on_customers(cdnow: summary.CustomerSummary) -> None:
    from goodwill.insights.fitting import compress_triples

    triples = compress_triples(cdnow.frequency, cdnow.recency, cdnow.age)
    assert triples.weight.sum() == len(cdnow)
    assert triples.weight.size < len(cdnow)
    per_customer = bgnbd.log_likelihood(
        np.array([0.243, 4.414, 0.793, 2.426]), cdnow.frequency, cdnow.recency, cdnow.age
    )
    compressed = bgnbd.log_likelihood(
        np.array([0.243, 4.414, 0.793, 2.426]),
        triples.frequency,
        triples.recency,
        triples.age,
        triples.weight,
    )
    assert compressed == pytest.approx(per_customer, rel=1e-12)
