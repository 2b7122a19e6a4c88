"""Simulated businesses whose true uplift is known (zero and positive).

Over many seeds: the 95% intervals cover the true difference about 95% of the time, thanks that
change nothing are rarely called "up" or "down", a real uplift in a large business is found, and
"too small to tell" appears for small groups and not for large ones. Every seed is fixed, so the
file is deterministic; the tolerances are binomial bands computed below, not guesses.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cache

import numpy as np
import pytest
from scipy import stats as sps

from goodwill.impact.stats import Comparison, Verdict, compare_means, compare_rates

CONFIDENCE = 0.95
MIN_GROUP = 30
RATE_SEEDS = 200
MEAN_SEEDS = 100
RESAMPLES = 400  # fewer than the default 2,000 to stay fast; coverage barely depends on it
SIZES = (200, 2000)  # people per group, drawn per business
# Each band holds the count it bounds with probability 0.999 when the method is right: a failure
# means the method is off, not that the seeds were unlucky.
RISK = 0.001

# Repeat purchase: 20% of held-out people come back; thanked people 20% (no uplift) or 26%.
BASE_RATE = 0.20
# Spend per person: 30% buy, amounts lognormal (median 40.00 in minor units, sigma 1: skewed, a few
# big spenders); thanks multiply the amounts of thanked buyers by a known factor.
BUYERS, MEDIAN, SIGMA = 0.30, 4000.0, 1.0
# Orders per person: negative binomial (gamma-mixed Poisson) with mean 0.4, multiplied by the uplift.
ORDERS_MEAN, ORDERS_SHAPE = 0.4, 0.5


def band(trials: int, rate: float) -> tuple[float, float]:
    """Shares between which a Binomial(trials, rate) count falls with probability 1 - RISK."""
    low = sps.binom.ppf(RISK / 2, trials, rate)
    high = sps.binom.isf(RISK / 2, trials, rate)
    return float(low) / trials, float(high) / trials


def spend(rng: np.random.Generator, n: int, uplift: float) -> np.ndarray:
    bought = rng.random(n) < BUYERS
    return np.where(bought, np.rint(rng.lognormal(math.log(MEDIAN * uplift), SIGMA, n)), 0).astype(np.int64)


def true_spend_difference(uplift: float) -> float:
    return BUYERS * MEDIAN * math.exp(SIGMA**2 / 2) * (uplift - 1)


def orders(rng: np.random.Generator, n: int, uplift: float) -> np.ndarray:
    return rng.poisson(rng.gamma(ORDERS_SHAPE, ORDERS_MEAN * uplift / ORDERS_SHAPE, n)).astype(np.int64)


def group_sizes(rng: np.random.Generator, sizes: tuple[int, int] | None) -> tuple[int, int]:
    if sizes is not None:
        return sizes
    treated_n, holdout_n = rng.integers(SIZES[0], SIZES[1] + 1, size=2)
    return int(treated_n), int(holdout_n)


@cache
def rate_runs(
    treated_rate: float,
    sizes: tuple[int, int] | None = None,
    seeds: int = RATE_SEEDS,
    min_group: int = MIN_GROUP,
) -> tuple[Comparison, ...]:
    runs = []
    for seed in range(seeds):
        rng = np.random.default_rng([1, seed])
        treated_n, holdout_n = group_sizes(rng, sizes)
        treated = rng.random(treated_n) < treated_rate
        holdout = rng.random(holdout_n) < BASE_RATE
        runs.append(
            compare_rates(
                treated.tolist(),
                holdout.tolist(),
                metric="repeat_purchase",
                confidence=CONFIDENCE,
                min_group_size=min_group,
            )
        )
    return tuple(runs)


Draw = Callable[[np.random.Generator, int, float], np.ndarray]
OUTCOMES: dict[str, Draw] = {"spend": spend, "orders": orders}


@cache
def mean_runs(
    metric: str, uplift: float, sizes: tuple[int, int] | None = None, seeds: int = MEAN_SEEDS
) -> tuple[Comparison, ...]:
    draw, runs = OUTCOMES[metric], []
    for seed in range(seeds):
        rng = np.random.default_rng([2, seed])
        treated_n, holdout_n = group_sizes(rng, sizes)
        runs.append(
            compare_means(
                draw(rng, treated_n, uplift),
                draw(rng, holdout_n, 1.0),
                metric=metric,
                confidence=CONFIDENCE,
                min_group_size=MIN_GROUP,
                resamples=RESAMPLES,
                seed=seed,
            )
        )
    return tuple(runs)


def coverage(runs: tuple[Comparison, ...], truth: float) -> float:
    covered = [c.low is not None and c.high is not None and c.low <= truth <= c.high for c in runs]
    return sum(covered) / len(runs)


def share(runs: tuple[Comparison, ...], *verdicts: Verdict) -> float:
    return sum(c.verdict in verdicts for c in runs) / len(runs)


def test_the_bands_are_what_the_brief_expects() -> None:
    # 200 seeds: a right 95% interval covers in 89.5%..99% of them; 5% false alarms stay under 10.5%.
    assert band(RATE_SEEDS, 0.95) == (0.895, 0.99)
    assert band(RATE_SEEDS, 0.05)[1] == pytest.approx(0.105)


@pytest.mark.parametrize("treated_rate", [BASE_RATE, 0.26], ids=["zero uplift", "6 points uplift"])
def test_rate_interval_covers_the_true_difference_at_the_stated_rate(treated_rate: float) -> None:
    low, high = band(RATE_SEEDS, CONFIDENCE)
    assert low <= coverage(rate_runs(treated_rate), treated_rate - BASE_RATE) <= high


def test_rate_with_zero_uplift_is_rarely_called_up_or_down() -> None:
    assert share(rate_runs(BASE_RATE), Verdict.UP, Verdict.DOWN) <= band(RATE_SEEDS, 1 - CONFIDENCE)[1]


def test_rate_uplift_in_a_large_business_is_found() -> None:
    runs = rate_runs(0.26, sizes=(2000, 2000), seeds=100)
    # Normal-approximation power of a 6-point difference at 2,000 a group is 0.996; Fisher's test
    # is a little more cautious, so ask for 90%. Never the wrong way.
    assert share(runs, Verdict.UP) >= 0.9
    assert share(runs, Verdict.DOWN, Verdict.TOO_SMALL) == 0


def test_rates_of_small_groups_are_too_small_to_tell() -> None:
    assert share(rate_runs(0.26, sizes=(15, 5), seeds=100), Verdict.TOO_SMALL) == 1
    # Even if a business allowed groups that small, the interval alone never lets it read as
    # "no clear difference": only a difference large enough to show through is reported.
    assert share(rate_runs(0.26, sizes=(15, 5), seeds=100, min_group=2), Verdict.NO_CLEAR_DIFFERENCE) == 0
    assert share(rate_runs(BASE_RATE, sizes=(2000, 2000), seeds=100), Verdict.TOO_SMALL) == 0


@pytest.mark.parametrize("uplift", [1.0, 1.3], ids=["zero uplift", "30% more spend"])
def test_spend_interval_covers_the_true_difference_at_the_stated_rate(uplift: float) -> None:
    low, high = band(MEAN_SEEDS, CONFIDENCE)
    assert low <= coverage(mean_runs("spend", uplift), true_spend_difference(uplift)) <= high


@pytest.mark.parametrize("uplift", [1.0, 1.3], ids=["zero uplift", "30% more orders"])
def test_orders_interval_covers_the_true_difference_at_the_stated_rate(uplift: float) -> None:
    low, high = band(MEAN_SEEDS, CONFIDENCE)
    assert low <= coverage(mean_runs("orders", uplift), ORDERS_MEAN * (uplift - 1)) <= high


@pytest.mark.parametrize("metric", ["spend", "orders"])
def test_averages_with_zero_uplift_are_rarely_called_up_or_down(metric: str) -> None:
    assert share(mean_runs(metric, 1.0), Verdict.UP, Verdict.DOWN) <= band(MEAN_SEEDS, 1 - CONFIDENCE)[1]


def test_spend_uplift_in_a_large_business_is_found() -> None:
    runs = mean_runs("spend", 1.5, sizes=(2000, 2000), seeds=50)
    assert share(runs, Verdict.UP) >= 0.9
    assert share(runs, Verdict.DOWN) == 0


def test_spend_of_small_groups_is_too_small_to_tell_and_of_large_ones_is_not() -> None:
    assert share(mean_runs("spend", 1.3, sizes=(15, 5), seeds=50), Verdict.TOO_SMALL) == 1
    assert share(mean_runs("spend", 1.0, sizes=(5000, 5000), seeds=20), Verdict.TOO_SMALL) == 0
