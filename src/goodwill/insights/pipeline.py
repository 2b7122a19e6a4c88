"""Score every customer from a summary: RFM, both model fits, P(alive), expected purchases and CLV.

Pure over arrays (no database): the app's ``score`` command, ``fit-file`` and the benchmark all
go through here, so they cannot drift apart.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from goodwill.insights import bgnbd, gamma_gamma, rfm
from goodwill.insights.clv import forecast
from goodwill.insights.fitting import FitError, FloatArray, compress_triples
from goodwill.insights.summary import PERIOD_DAYS, CustomerSummary, Period


@dataclass(frozen=True)
class ScoreOptions:
    as_of: date
    period: Period = "day"
    months: int = 12  # horizon of expected purchases and CLV, in months of 30 days
    monthly_discount: float = 0.01

    def __post_init__(self) -> None:
        if self.period not in PERIOD_DAYS:
            raise ValueError(f"period must be one of {', '.join(PERIOD_DAYS)}")
        if not 1 <= self.months <= 120:
            raise ValueError("the horizon must be between 1 and 120 months")
        if not 0 <= self.monthly_discount < 1:
            raise ValueError("the monthly discount rate must be in [0, 1)")


@dataclass
class Scores:
    summary: CustomerSummary
    rfm: rfm.RfmScores
    bgnbd: bgnbd.BgNbdParams | None
    gamma_gamma: gamma_gamma.GammaGammaParams | None
    p_alive: FloatArray  # NaN where no BG/NBD fit was possible
    expected_purchases: FloatArray
    spend_per_purchase: FloatArray  # Gamma-Gamma conditional expectation
    clv: FloatArray  # in the unit of the amounts; NaN without both models
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    distinct_triples: int = 0


def fit_models(
    summary: CustomerSummary,
) -> tuple[bgnbd.BgNbdParams | None, gamma_gamma.GammaGammaParams | None, list[str], int]:
    notes: list[str] = []
    # Compressed on whole days (one integer key, no float sorting), then put in periods.
    triples = compress_triples(summary.frequency, summary.recency_days, summary.age_days)
    days = PERIOD_DAYS[summary.period]
    bg: bgnbd.BgNbdParams | None = None
    gg: gamma_gamma.GammaGammaParams | None = None
    try:
        bg = bgnbd.fit(triples.frequency, triples.recency / days, triples.age / days, triples.weight)
    except FitError as exc:
        notes.append(str(exc))
    try:
        gg = gamma_gamma.fit(summary.frequency, summary.monetary)
    except FitError as exc:
        notes.append(str(exc))
    return bg, gg, notes, int(triples.weight.size)


def score(summary: CustomerSummary, options: ScoreOptions) -> Scores:
    clock = time.perf_counter()
    timings: dict[str, float] = {}

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = now - clock
        clock = now

    scores = rfm.score(summary.days_since_last, summary.frequency + 1, summary.total_spend)
    lap("rfm")
    bg, gg, notes, distinct = fit_models(summary)
    lap("fit")
    n = len(summary)
    nan = np.full(n, np.nan)
    alive, expected, discounted = nan, nan, nan
    if bg is not None:
        ahead = forecast(
            bg,
            summary.frequency,
            summary.recency,
            summary.age,
            months=options.months,
            monthly_discount=options.monthly_discount,
            period_days=PERIOD_DAYS[options.period],
        )
        alive, expected, discounted = ahead.p_alive, ahead.expected_purchases, ahead.discounted_purchases
    spend = gamma_gamma.expected_spend(gg, summary.frequency, summary.monetary) if gg is not None else nan
    if gg is not None and gg.population_mean is None:
        notes.append("Gamma-Gamma: q <= 1, so spend has no finite mean and CLV is left out")
    clv = discounted * spend
    lap("clv")
    return Scores(summary, scores, bg, gg, alive, expected, spend, clv, notes, timings, distinct)
