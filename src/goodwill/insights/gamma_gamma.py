"""Gamma-Gamma spend model: Fader, Hardie and Lee (2005), "RFM and CLV: Using Iso-Value Curves for
Customer Base Analysis", JMR 42(4); the likelihood as in Fader and Hardie (2013), "The Gamma-Gamma
Model of Monetary Value" (brucehardie.com/notes/025).

Each transaction's value is Gamma(p, nu) with nu ~ Gamma(q, v) across customers; it is fitted on
the mean value zbar of each repeat customer's x repeat transactions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import digamma, gammaln

from goodwill.insights.fitting import FitError, FloatArray, dot, maximise, warm_start_rows


@dataclass(frozen=True)
class GammaGammaParams:
    p: float
    q: float
    v: float
    log_likelihood: float

    def as_dict(self) -> dict[str, float]:
        return {"p": self.p, "q": self.q, "v": self.v, "log_likelihood": self.log_likelihood}

    @property
    def population_mean(self) -> float | None:
        """E[transaction value] across customers; infinite (None) when q <= 1."""
        return self.v * self.p / (self.q - 1) if self.q > 1 else None


@dataclass(frozen=True)
class _Data:
    """What the likelihood needs, computed once per fit rather than once per evaluation."""

    x: FloatArray
    zbar: FloatArray
    xs: FloatArray  # distinct x
    wx: FloatArray  # customers per distinct x
    sum_log_z_by_x: FloatArray  # sum of log(zbar) per distinct x
    sum_x_log_z: float

    @classmethod
    def of(cls, x: FloatArray, zbar: FloatArray) -> _Data:
        xs, at = np.unique(x, return_inverse=True)
        log_z = np.log(zbar)
        return cls(
            x,
            zbar,
            xs,
            np.bincount(at).astype(np.float64),
            np.bincount(at, weights=log_z).astype(np.float64),
            dot(x, log_z),
        )


def _terms(params: FloatArray, d: _Data) -> tuple[float, FloatArray]:
    """Log-likelihood and gradient over log-parameters; only log(v + x zbar) is per customer."""
    p, q, v = params
    px = p * d.xs
    per_x = gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(v) + px * np.log(d.xs)
    d_per_x_p = d.xs * (digamma(px + q) - digamma(px) + np.log(d.xs))
    d_per_x_q = digamma(px + q) - digamma(q) + np.log(v)

    denominator = v + d.x * d.zbar
    log_denominator = np.log(denominator)
    sum_log_den = float(log_denominator.sum())
    sum_x_log_den = dot(d.x, log_denominator)
    ll = dot(d.wx, per_x) + dot(px - 1, d.sum_log_z_by_x) - p * sum_x_log_den - q * sum_log_den
    grad_p = dot(d.wx, d_per_x_p) + d.sum_x_log_z - sum_x_log_den
    grad_q = dot(d.wx, d_per_x_q) - sum_log_den
    grad_v = float(d.wx.sum()) * q / v - float(((p * d.x + q) / denominator).sum())
    return float(ll), np.array([grad_p, grad_q, grad_v]) * params


def _usable(frequency: npt.ArrayLike, monetary: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    x = np.asarray(frequency, dtype=np.float64)
    m = np.asarray(monetary, dtype=np.float64)
    keep = (x > 0) & np.isfinite(m) & (m > 0)
    return x[keep], m[keep]


def log_likelihood(params: GammaGammaParams, frequency: npt.ArrayLike, monetary: npt.ArrayLike) -> float:
    x, m = _usable(frequency, monetary)
    return _terms(np.array([params.p, params.q, params.v]), _Data.of(x, m))[0]


def _maximise(
    data: _Data, start: FloatArray, hess_inv: FloatArray | None = None, *, warm_up: bool = False
) -> tuple[FloatArray, FloatArray | None]:
    scale = float(data.x.size)

    def objective(log_params: FloatArray) -> tuple[float, FloatArray]:
        ll, grad = _terms(np.exp(log_params), data)
        return -ll / scale, -grad / scale

    return maximise(objective, start, what="Gamma-Gamma", hess_inv=hess_inv, want_hessian=warm_up)


def fit(frequency: npt.ArrayLike, monetary: npt.ArrayLike) -> GammaGammaParams:
    """Fit on repeat customers (x > 0) with a positive mean repeat spend; others carry no information."""
    x, m = _usable(frequency, monetary)
    if x.size < 3:
        raise FitError("Gamma-Gamma: fewer than 3 repeat customers with a positive spend")
    # Start from p = 2, q = 3 and the v that matches the observed mean spend.
    start = np.array([2.0, 3.0, max(float(m.mean()), 1e-9)])
    rows = warm_start_rows(x.size)
    hess_inv = None
    if rows is not None:  # a subset's optimum and curvature: the full fit then needs a few steps
        start, hess_inv = _maximise(_Data.of(x[rows], m[rows]), start, warm_up=True)
    data = _Data.of(x, m)
    best, _ = _maximise(data, start, hess_inv)
    ll, _ = _terms(best, data)
    return GammaGammaParams(float(best[0]), float(best[1]), float(best[2]), ll)


def expected_spend(params: GammaGammaParams, frequency: npt.ArrayLike, monetary: npt.ArrayLike) -> FloatArray:
    """E[value of a transaction | x, zbar]: a weighted mean of zbar and the population mean (eq. 5).

    Someone with no repeat purchase (x = 0) gets the population mean. NaN when q <= 1 (no finite mean).
    """
    x = np.asarray(frequency, dtype=np.float64)
    m = np.nan_to_num(np.asarray(monetary, dtype=np.float64), nan=0.0)
    mean = params.population_mean
    if mean is None:
        return np.full(x.shape, np.nan)
    own = params.p * x / (params.p * x + params.q - 1)
    result: FloatArray = (1 - own) * mean + own * m
    return result
