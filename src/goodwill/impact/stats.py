"""Thanked versus held out: a difference, its interval, a test and a verdict in plain words.

Pure: plain sequences in (booleans for "did it happen", whole numbers for counts, points and minor
units), a `Comparison` out. No database and no settings: the caller passes the confidence, the
minimum group size and, for averages, the resample count and seed. The method, the rules and the
simulations that back them are in docs/impact.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from typing import Any, Literal

import numpy as np
from scipy import stats as sps

# Elements per bootstrap/permutation batch: bounds memory (about 16 MB of float64) for big groups.
_BATCH_ELEMENTS = 2_000_000
# A group with at most 1/8 as many distinct values as people is resampled by counting values.
_FEW_DISTINCT = 8


class Verdict(StrEnum):
    UP = "up"
    DOWN = "down"
    NO_CLEAR_DIFFERENCE = "no clear difference"
    TOO_SMALL = "too small to tell"


@dataclass(frozen=True)
class Outcome:
    """How one outcome is judged and put into words."""

    name: str
    kind: Literal["rate", "mean"]
    more: str  # "{}" is the size of the difference
    less: str
    unit: str  # after the ends of an interval; "" for money (the caller's formatter names it)
    # The smallest difference worth knowing about (d), in the outcome's units (rates in 0..1)...
    absolute: float
    # ...or this share of the held-out group's value, whichever is larger.
    relative: float = 0.0

    def meaningful(self, holdout_value: float | None) -> float:
        return max(self.absolute, self.relative * abs(holdout_value or 0.0))


_OUTCOMES = (
    Outcome("repeat_purchase", "rate", "came back {} points more often", "came back {} points less often",
            "points", absolute=0.05),
    Outcome("orders", "mean", "placed {} more orders each", "placed {} fewer orders each", "orders",
            absolute=0.01, relative=0.20),
    Outcome("spend", "mean", "spent {} more each", "spent {} less each", "", absolute=1.0, relative=0.20),
    Outcome("bank_change", "mean", "gained {} more bank points each", "gained {} fewer bank points each",
            "points", absolute=1.0),
    Outcome("complaints", "mean", "made {} more complaints each", "made {} fewer complaints each",
            "complaints", absolute=0.01),
    Outcome("unsubscribes", "rate", "unsubscribed {} points more often",
            "unsubscribed {} points less often", "points", absolute=0.01),
)  # fmt: skip
OUTCOMES: dict[str, Outcome] = {o.name: o for o in _OUTCOMES}


def plain_number(value: float) -> str:
    """Two significant digits below 1, fewer decimals as values grow: 0.012, 0.50, 1.23, 45.6, 1,234."""
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:,.0f}"
    if magnitude >= 1:
        return f"{value:.{2 if magnitude < 10 else 1}f}"
    if magnitude == 0:
        return "0"
    return f"{value:.{1 - math.floor(math.log10(magnitude))}f}"


@dataclass(frozen=True)
class Comparison:
    """Thanked minus held out for one outcome. Rates are shares in 0..1 (0.061 is 6.1 points);
    averages are per person in the outcome's own units (minor units for spend)."""

    metric: str
    kind: Literal["rate", "mean"]
    treated_n: int
    holdout_n: int
    treated_value: float | None  # None only when that group is empty
    holdout_value: float | None
    difference: float | None
    low: float | None
    high: float | None
    confidence: float
    p_value: float | None
    adjusted_p_value: float | None  # Holm-adjusted by `adjust_for_outcomes`; else the p-value itself
    outcomes_compared: int  # how many outcomes that adjustment covered; 1 when not adjusted
    meaningful: float  # d of the "too small to tell" rule, in the outcome's units
    min_group_size: int
    verdict: Verdict
    sentence: str
    format_value: Callable[[float], str] = field(default=plain_number, repr=False, compare=False)

    def as_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "format_value"}
        data["verdict"] = str(self.verdict)
        return data


def verdict_for(
    *,
    treated_n: int,
    holdout_n: int,
    low: float | None,
    high: float | None,
    p_value: float | None,
    confidence: float,
    min_group_size: int,
    meaningful: float,
) -> Verdict:
    """Up or down when the interval leaves zero out AND the test agrees; otherwise too small when a
    group is under `min_group_size` or the interval's half-width (its margin of error) is over d =
    `meaningful` (even centred on zero it could not rule out a change of d either way)."""
    if low is None or high is None or p_value is None or min(treated_n, holdout_n) < min_group_size:
        return Verdict.TOO_SMALL
    significant = p_value < 1 - confidence
    if low > 0 and significant:
        return Verdict.UP
    if high < 0 and significant:
        return Verdict.DOWN
    if (high - low) / 2 > meaningful:
        return Verdict.TOO_SMALL
    return Verdict.NO_CLEAR_DIFFERENCE


def compare_rates(
    treated: Sequence[bool],
    holdout: Sequence[bool],
    *,
    metric: str,
    confidence: float,
    min_group_size: int,
    meaningful: float | None = None,
) -> Comparison:
    """Difference in proportions with Newcombe's hybrid score interval and Fisher's exact p-value."""
    outcome = _outcome(metric, "rate")
    _check_confidence(confidence)
    t, h = _flags("treated", treated), _flags("holdout", holdout)
    if t.size == 0 or h.size == 0:
        return _build(outcome, t, h, None, confidence, min_group_size, meaningful, plain_number)
    x1, x0 = int(t.sum()), int(h.sum())
    interval = newcombe_interval(x1, t.size, x0, h.size, confidence=confidence)
    p_value = float(sps.fisher_exact([[x1, t.size - x1], [x0, h.size - x0]]).pvalue)
    test = (*interval, min(p_value, 1.0))
    return _build(outcome, t, h, test, confidence, min_group_size, meaningful, plain_number)


def compare_means(
    treated: Sequence[int],
    holdout: Sequence[int],
    *,
    metric: str,
    confidence: float,
    min_group_size: int,
    resamples: int,
    seed: int,
    meaningful: float | None = None,
    format_value: Callable[[float], str] = plain_number,
) -> Comparison:
    """Difference in means with a percentile bootstrap interval (each group re-drawn on its own) and
    a studentized permutation p-value (Welch's t over re-randomisations), both from `seed`.

    `format_value` writes a non-negative number in the outcome's units for the sentence (for spend a
    money formatter over minor units; it may get fractions of a minor unit)."""
    outcome = _outcome(metric, "mean")
    _check_confidence(confidence)
    if resamples < 100:
        raise ValueError(f"resamples: at least 100 are needed, got {resamples}")
    t, h = _whole_numbers("treated", treated), _whole_numbers("holdout", holdout)
    if t.size == 0 or h.size == 0:
        return _build(outcome, t, h, None, confidence, min_group_size, meaningful, format_value)
    rng = np.random.default_rng(seed)
    differences = _resampled_means(t, resamples, rng) - _resampled_means(h, resamples, rng)
    low, high = np.quantile(differences, [(1 - confidence) / 2, (1 + confidence) / 2])
    test = (float(low), float(high), _permutation_p_value(t, h, resamples, rng))
    return _build(outcome, t, h, test, confidence, min_group_size, meaningful, format_value)


def adjust_for_outcomes(comparisons: Sequence[Comparison]) -> list[Comparison]:
    """Holm's step-down adjustment across the outcomes of one analysis; verdicts and sentences redone.

    The chance that ANY outcome is called up or down when thanks changed nothing stays at most
    1 - confidence. Intervals stay per outcome. Outcomes without a p-value are not counted."""
    tested = sorted((c.p_value, i) for i, c in enumerate(comparisons) if c.p_value is not None)
    adjusted: dict[int, float] = {}
    running = 0.0
    for rank, (p_value, index) in enumerate(tested):
        running = max(running, min(1.0, (len(tested) - rank) * p_value))
        adjusted[index] = running
    return [
        _finish(replace(c, adjusted_p_value=adjusted[i], outcomes_compared=len(tested)))
        if i in adjusted
        else c
        for i, c in enumerate(comparisons)
    ]


def newcombe_interval(
    successes_1: int, n_1: int, successes_0: int, n_0: int, *, confidence: float
) -> tuple[float, float]:
    """Newcombe (1998) method 10: p1 - p0, its limits built from each group's Wilson score interval."""
    z = float(sps.norm.ppf(0.5 + confidence / 2))
    p1, p0 = successes_1 / n_1, successes_0 / n_0
    l1, u1 = wilson_interval(successes_1, n_1, z)
    l0, u0 = wilson_interval(successes_0, n_0, z)
    return (
        p1 - p0 - math.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2),
        p1 - p0 + math.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2),
    )


def wilson_interval(successes: int, n: int, z: float) -> tuple[float, float]:
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def _resampled_means(values: np.ndarray, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Means of `resamples` re-draws with replacement at the group's own size (the random assignment
    fixed the sizes, so each group is re-drawn on its own)."""
    distinct, counts = np.unique(values, return_counts=True)
    if distinct.size * _FEW_DISTINCT <= values.size:
        # Counts (orders, complaints) take few values: draw how often each is picked, not who.
        picked = rng.multinomial(values.size, counts / values.size, size=resamples)
        return np.asarray(picked @ distinct, dtype=np.float64) / values.size
    out = np.empty(resamples)
    batch = max(1, _BATCH_ELEMENTS // values.size)
    for start in range(0, resamples, batch):
        k = min(batch, resamples - start)
        out[start : start + k] = values[rng.integers(0, values.size, (k, values.size))].mean(axis=1)
    return out


def _permutation_p_value(t: np.ndarray, h: np.ndarray, resamples: int, rng: np.random.Generator) -> float:
    """Two-sided p-value of Welch's t over random re-assignments of the pooled people: twice the
    smaller one-sided share, the equal-tailed convention of the interval (and of scipy).

    Exact under "thanks changed nothing for anyone" whatever the shape of the data (many zeros, a few
    big spenders), because the assignment really was random; studentizing keeps it right for "equal
    means, unequal spread" in large groups (Janssen 1997; Chung and Romano 2013)."""
    pooled = np.concatenate([t, h])
    pooled -= pooled.mean()  # centred: sums of squares stay accurate for big minor units
    n1, n0 = t.size, h.size
    ddof = 1 if min(n1, n0) > 1 else 0
    total, total_squares = pooled.sum(), np.sum(pooled**2)

    def welch(sum_1: np.ndarray, squares_1: np.ndarray) -> np.ndarray:
        sum_0, squares_0 = total - sum_1, total_squares - squares_1
        var_1 = np.maximum(squares_1 - sum_1**2 / n1, 0) / (n1 - ddof)
        var_0 = np.maximum(squares_0 - sum_0**2 / n0, 0) / (n0 - ddof)
        gap, error = sum_1 / n1 - sum_0 / n0, np.sqrt(var_1 / n1 + var_0 / n0)
        gap = np.where(np.abs(gap) > 1e-9 * (1 + np.sqrt(total_squares)), gap, 0.0)  # rounding is no gap
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(error > 0, gap / error, np.where(gap == 0, 0.0, np.sign(gap) * np.inf))

    observed = welch(np.array([pooled[:n1].sum()]), np.array([np.sum(pooled[:n1] ** 2)]))[0]
    stats = welch(*_permuted_sums(pooled, n1, resamples, rng))
    # A small tolerance, so re-assignments that tie the observed one count on both sides.
    slack = 1e-9 * max(1.0, abs(observed)) if np.isfinite(observed) else 0.0
    above, below = np.sum(stats >= observed - slack), np.sum(stats <= observed + slack)
    return min(1.0, 2 * (int(min(above, below)) + 1) / (resamples + 1))


def _permuted_sums(
    pooled: np.ndarray, n1: int, resamples: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Sum and sum of squares of `n1` people drawn without replacement, `resamples` times."""
    distinct, counts = np.unique(pooled, return_counts=True)
    if distinct.size * _FEW_DISTINCT <= pooled.size:
        picked = rng.multivariate_hypergeometric(counts, n1, size=resamples, method="marginals")
        return picked @ distinct, picked @ distinct**2
    sums, squares = np.empty(resamples), np.empty(resamples)
    batch = max(1, _BATCH_ELEMENTS // pooled.size)
    for start in range(0, resamples, batch):
        k = min(batch, resamples - start)
        first = rng.permuted(np.tile(pooled, (k, 1)), axis=1)[:, :n1]
        sums[start : start + k], squares[start : start + k] = first.sum(axis=1), np.sum(first**2, axis=1)
    return sums, squares


def _build(
    outcome: Outcome,
    t: np.ndarray,
    h: np.ndarray,
    test: tuple[float, float, float] | None,  # low, high, p-value; None when a group is empty
    confidence: float,
    min_group_size: int,
    meaningful: float | None,
    format_value: Callable[[float], str],
) -> Comparison:
    treated_value = float(t.mean()) if t.size else None
    holdout_value = float(h.mean()) if h.size else None
    difference = None if treated_value is None or holdout_value is None else treated_value - holdout_value
    low, high, p_value = test if test is not None else (None, None, None)
    threshold = outcome.meaningful(holdout_value) if meaningful is None else meaningful
    draft = Comparison(
        metric=outcome.name, kind=outcome.kind, treated_n=int(t.size), holdout_n=int(h.size),
        treated_value=treated_value, holdout_value=holdout_value, difference=difference,
        low=low, high=high, confidence=confidence, p_value=p_value, adjusted_p_value=p_value,
        outcomes_compared=1, meaningful=threshold, min_group_size=min_group_size,
        verdict=Verdict.TOO_SMALL, sentence="", format_value=format_value,
    )  # fmt: skip
    return _finish(draft)


def _finish(draft: Comparison) -> Comparison:
    verdict = verdict_for(
        treated_n=draft.treated_n, holdout_n=draft.holdout_n, low=draft.low, high=draft.high,
        p_value=draft.adjusted_p_value, confidence=draft.confidence, min_group_size=draft.min_group_size,
        meaningful=draft.meaningful,
    )  # fmt: skip
    return replace(draft, verdict=verdict, sentence=_sentence(draft, verdict))


def _sentence(c: Comparison, verdict: Verdict) -> str:
    outcome = OUTCOMES[c.metric]
    unit = f" {outcome.unit}" if outcome.unit else ""
    groups = f"with {c.treated_n:,} thanked and {c.holdout_n:,} held out"
    if c.low is None or c.high is None or c.difference is None or c.adjusted_p_value is None:
        return f"Too small to tell: {groups}, there is nothing to compare."

    def size(value: float) -> str:
        return f"{abs(value) * 100:.1f}" if c.kind == "rate" else c.format_value(abs(value))

    def signed(value: float) -> str:
        return ("-" if value < 0 else "+" if value > 0 else "") + size(value)

    interval = f"{signed(c.low)} to {signed(c.high)}{unit}"
    if verdict is Verdict.TOO_SMALL and min(c.treated_n, c.holdout_n) < c.min_group_size:
        needed = f"at least {c.min_group_size:,} are needed in each group"
        return f"Too small to tell: {groups}, the interval runs from {interval} ({needed})."
    if verdict is Verdict.TOO_SMALL:
        wide = f"more than {size(c.meaningful)}{unit} either side of the estimate"
        return f"Too small to tell: {groups}, the interval runs from {interval}: {wide}."
    if verdict in (Verdict.UP, Verdict.DOWN):
        said = (outcome.more if verdict is Verdict.UP else outcome.less).format(size(c.difference))
        near, far = sorted((abs(c.low), abs(c.high)))
        level = f"{c.confidence * 100:.3g}% interval {size(near)} to {size(far)}{unit}"
        return f"People we thanked {said} ({level}): a real difference, not chance."
    if c.low <= 0 <= c.high:
        return f"No clear difference: the interval includes zero ({interval})."
    adjusted = f", adjusted for {c.outcomes_compared} outcomes" if c.outcomes_compared > 1 else ""
    test = f"the test does not confirm it (p = {c.adjusted_p_value:.2g}{adjusted})"
    return f"No clear difference: the interval ({interval}) leaves zero out, but {test}."


def _outcome(metric: str, kind: str) -> Outcome:
    outcome = OUTCOMES.get(metric)
    if outcome is None or outcome.kind != kind:
        known = ", ".join(name for name, o in OUTCOMES.items() if o.kind == kind)
        raise ValueError(f"metric: {metric!r} is not a {kind} outcome (one of: {known})")
    return outcome


def _check_confidence(confidence: float) -> None:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence: must be between 0 and 1, got {confidence}")


def _flags(name: str, values: Sequence[bool]) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1 or (array.size and not np.isin(array, (0, 1)).all()):
        raise ValueError(f"{name}: expected a flat list of true/false (or 0/1) values")
    return array.astype(bool)


def _whole_numbers(name: str, values: Sequence[int]) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1 or (array.size and array.dtype.kind not in "biu"):
        raise ValueError(f"{name}: expected a flat list of whole numbers (counts, points or minor units)")
    return array.astype(np.float64)
