"""BG/NBD: Fader, Hardie and Lee (2005), "Counting Your Customers the Easy Way", Marketing Science 24(2).

While alive a customer buys at a Poisson rate lambda ~ Gamma(r, alpha); after every purchase they
drop out with probability p ~ Beta(a, b). The likelihood, P(alive) and the conditional expected
number of purchases are the paper's equations (6), (13) and (10).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import betaln, digamma, gammaln, hyp2f1

from goodwill.insights.fitting import (
    FitError,
    FloatArray,
    IntArray,
    compress_triples,
    dot,
    maximise,
    warm_start_rows,
)


@dataclass(frozen=True)
class BgNbdParams:
    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float

    def as_dict(self) -> dict[str, float]:
        return {
            "r": self.r,
            "alpha": self.alpha,
            "a": self.a,
            "b": self.b,
            "log_likelihood": self.log_likelihood,
        }


@dataclass(frozen=True)
class _Data:
    """The triples plus their distinct x, t_x and T values, found once per fit (not per evaluation)."""

    x: FloatArray
    weight: FloatArray
    xs: FloatArray
    at_x: IntArray
    t_xs: FloatArray
    at_tx: IntArray
    ts: FloatArray
    at_t: IntArray

    @classmethod
    def of(cls, x: FloatArray, t_x: FloatArray, big_t: FloatArray, weight: FloatArray) -> _Data:
        xs, at_x = np.unique(x, return_inverse=True)
        t_xs, at_tx = np.unique(t_x, return_inverse=True)
        ts, at_t = np.unique(big_t, return_inverse=True)
        return cls(x, weight, xs, at_x, t_xs, at_tx, ts, at_t)


def _terms(params: FloatArray, data: _Data) -> tuple[float, FloatArray]:
    """Total log-likelihood and its gradient with respect to the log-parameters.

    What depends on x alone (gamma and beta functions), on T alone or on t_x alone is computed
    once per distinct value and gathered, so an evaluation costs a few vector operations per triple.
    """
    r, alpha, a, b = params
    xs, at = data.xs, data.at_x
    repeat = xs > 0
    b_prev = np.where(repeat, b + xs - 1, b)  # only used where x > 0
    # Per distinct x: log of the Gamma part and of both Beta ratios, and their derivatives.
    a1 = gammaln(r + xs) - gammaln(r) + r * np.log(alpha)
    l2 = betaln(a, b + xs) - betaln(a, b)
    l3 = np.where(repeat, betaln(a + 1, b_prev) - betaln(a, b), -np.inf)
    d_a1_r = digamma(r + xs) - digamma(r) + np.log(alpha)
    d_ab = digamma(a + b)
    d_l2_a = d_ab - digamma(a + b + xs)
    d_l2_b = digamma(b + xs) - digamma(a + b + xs) - digamma(b) + d_ab
    d_l3_a = digamma(a + 1) - digamma(a + b + xs) - digamma(a) + d_ab
    d_l3_b = np.where(repeat, digamma(b_prev) - digamma(a + b + xs) - digamma(b) + d_ab, 0.0)

    rx = r + data.x
    log_at = np.log(alpha + data.ts)[data.at_t]
    log_ax = np.log(alpha + data.t_xs)[data.at_tx]
    inv_at = (1.0 / (alpha + data.ts))[data.at_t]
    inv_ax = (1.0 / (alpha + data.t_xs))[data.at_tx]
    part2 = l2[at] - rx * log_at
    # d: log of (second term / first term) of the likelihood; -inf where x = 0 (no second term).
    d = l3[at] - rx * log_ax - part2
    # log(1 + e^d) and the weight e^d / (1 + e^d) from one exponential (transcendentals dominate).
    small = np.exp(-np.abs(d))
    ll = a1[at] + part2 + np.maximum(d, 0.0) + np.log1p(small)
    w3 = np.where(d >= 0, 1.0, small) / (1.0 + small)
    w2 = 1.0 - w3

    w = data.weight
    grad_r = d_a1_r[at] - w2 * log_at - w3 * log_ax
    grad_alpha = r / alpha - rx * (w2 * inv_at + w3 * inv_ax)
    grad_a = w2 * d_l2_a[at] + w3 * d_l3_a[at]
    grad_b = w2 * d_l2_b[at] + w3 * d_l3_b[at]
    grads = np.array([dot(w, g) for g in (grad_r, grad_alpha, grad_a, grad_b)]) * params
    return dot(w, ll), grads


def log_likelihood(
    params: BgNbdParams | FloatArray,
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    age: npt.ArrayLike,
    weight: npt.ArrayLike | None = None,
) -> float:
    p = np.array([params.r, params.alpha, params.a, params.b]) if isinstance(params, BgNbdParams) else params
    x = np.asarray(frequency, dtype=np.float64)
    w = np.ones_like(x) if weight is None else np.asarray(weight, dtype=np.float64)
    data = _Data.of(x, np.asarray(recency, dtype=np.float64), np.asarray(age, dtype=np.float64), w)
    return _terms(p, data)[0]


def _maximise(
    data: _Data, start: FloatArray, hess_inv: FloatArray | None = None, *, warm_up: bool = False
) -> tuple[FloatArray, FloatArray | None]:
    scale = float(data.weight.sum())

    def objective(log_params: FloatArray) -> tuple[float, FloatArray]:
        ll, grad = _terms(np.exp(log_params), data)
        return -ll / scale, -grad / scale

    return maximise(objective, start, what="BG/NBD", hess_inv=hess_inv, want_hessian=warm_up)


def fit(
    frequency: npt.ArrayLike, recency: npt.ArrayLike, age: npt.ArrayLike, weight: npt.ArrayLike | None = None
) -> BgNbdParams:
    """Maximum-likelihood BG/NBD parameters. Customers are compressed to distinct triples first."""
    x = np.asarray(frequency, dtype=np.float64)
    if x.size == 0:
        raise FitError("BG/NBD: no customers to fit")
    if weight is None:
        triples = compress_triples(x, recency, age)
        x, t_x, big_t, w = triples.frequency, triples.recency, triples.age, triples.weight
    else:
        t_x = np.asarray(recency, dtype=np.float64)
        big_t = np.asarray(age, dtype=np.float64)
        w = np.asarray(weight, dtype=np.float64)
    if np.any(t_x > big_t) or np.any(t_x < 0) or np.any(x < 0):
        raise FitError("BG/NBD: every customer needs 0 <= recency <= T and frequency >= 0")
    if not np.any(x > 0):
        raise FitError("BG/NBD: nobody bought twice, so repeat buying cannot be estimated")
    # Start where buying rates are about what was observed and dropout is moderate.
    mean_rate = dot(w, x) / max(dot(w, big_t), 1e-9)
    start = np.array([1.0, 1.0 / max(mean_rate, 1e-6), 1.0, 1.0])
    rows = warm_start_rows(x.size)
    hess_inv = None
    if rows is not None:  # a subset's optimum and curvature: the full fit then needs a few steps
        start, hess_inv = _maximise(_Data.of(x[rows], t_x[rows], big_t[rows], w[rows]), start, warm_up=True)
    data = _Data.of(x, t_x, big_t, w)
    best, _ = _maximise(data, start, hess_inv)
    ll, _ = _terms(best, data)
    return BgNbdParams(float(best[0]), float(best[1]), float(best[2]), float(best[3]), ll)


def _arrays(*values: npt.ArrayLike) -> list[FloatArray]:
    return [np.asarray(v, dtype=np.float64) for v in values]


def alive_odds(
    params: BgNbdParams, frequency: npt.ArrayLike, recency: npt.ArrayLike, age: npt.ArrayLike
) -> FloatArray:
    """Odds of having dropped out: P(alive) = 1 / (1 + odds); 0 for someone who never bought twice."""
    x, t_x, big_t = _arrays(frequency, recency, age)
    repeat = x > 0
    log_ratio = (params.r + x) * (np.log(params.alpha + big_t) - np.log(params.alpha + t_x))
    odds: FloatArray = np.where(
        repeat, params.a / np.where(repeat, params.b + x - 1, 1.0) * np.exp(log_ratio), 0.0
    )
    return odds


def p_alive(
    params: BgNbdParams, frequency: npt.ArrayLike, recency: npt.ArrayLike, age: npt.ArrayLike
) -> FloatArray:
    """P(still a customer | x, t_x, T), equation (13); 1 for someone who never bought twice."""
    result: FloatArray = 1.0 / (1.0 + alive_odds(params, frequency, recency, age))
    return result


def purchase_curve(
    params: BgNbdParams, horizon: npt.ArrayLike, frequency: npt.ArrayLike, age: npt.ArrayLike
) -> FloatArray:
    """The numerator of equation (10): expected purchases by ``horizon`` as if surely alive.

    It depends on (x, T) and the horizon only, not on recency, which lets callers compute it once
    per distinct (x, T) pair (the costly part: a Gauss hypergeometric function).
    """
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    x, big_t, t = _arrays(frequency, age, horizon)
    z = t / (alpha + big_t + t)
    hyp = hyp2f1(r + x, b + x, a + b + x - 1, z)
    curve: FloatArray = (a + b + x - 1) / (a - 1) * (1 - np.exp((r + x) * np.log1p(-z)) * hyp)
    return curve


def expected_purchases(
    params: BgNbdParams,
    horizon: float | FloatArray,
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    age: npt.ArrayLike,
) -> FloatArray:
    """E[purchases in (T, T + horizon] | x, t_x, T], equation (10)."""
    curve = purchase_curve(params, horizon, frequency, age)
    result: FloatArray = curve / (1.0 + alive_odds(params, frequency, recency, age))
    return result
