"""Discounted customer lifetime value over a horizon: BG/NBD purchases times Gamma-Gamma spend.

CLV = sum over months m = 1..H of E[purchases in month m] * E[spend per purchase] / (1 + d)^m,
with a month of 30 days (30/7 weeks) and d the monthly discount rate: the same discrete sum as
the ``lifetimes`` package. The costly part of E[purchases] (a hypergeometric function) depends on
(x, T) only, so it is computed once per distinct (x, T) pair and gathered; what depends on recency
is one cheap vector operation per customer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from goodwill.insights import bgnbd
from goodwill.insights.fitting import FloatArray, compress_triples

DAYS_PER_MONTH = 30


@dataclass(frozen=True)
class Forecast:
    p_alive: FloatArray
    expected_purchases: FloatArray  # over the whole horizon
    discounted_purchases: FloatArray  # the same, each month discounted: CLV = this x spend per purchase


def forecast(
    bg: bgnbd.BgNbdParams,
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    age: npt.ArrayLike,
    *,
    months: int = 12,
    monthly_discount: float = 0.01,
    period_days: int = 1,
) -> Forecast:
    if months < 1:
        raise ValueError("the horizon must be at least one month")
    x = np.asarray(frequency, dtype=np.float64)
    big_t = np.asarray(age, dtype=np.float64)
    pairs = compress_triples(x, np.zeros_like(x), big_t)  # distinct (x, T)
    month = DAYS_PER_MONTH / period_days
    edges = month * np.arange(1, months + 1, dtype=np.float64)
    curve = bgnbd.purchase_curve(bg, edges[None, :], pairs.frequency[:, None], pairs.age[:, None])
    per_month = np.diff(curve, axis=1, prepend=0.0)
    discount = (1 + monthly_discount) ** -np.arange(1, months + 1, dtype=np.float64)
    alive = 1.0 / (1.0 + bgnbd.alive_odds(bg, x, recency, big_t))
    return Forecast(
        p_alive=alive,
        expected_purchases=curve[pairs.index, -1] * alive,
        discounted_purchases=np.add.reduce(per_month * discount, axis=1)[pairs.index] * alive,
    )


def lifetime_value(
    bg: bgnbd.BgNbdParams,
    spend_per_purchase: npt.ArrayLike,
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    age: npt.ArrayLike,
    *,
    months: int = 12,
    monthly_discount: float = 0.01,
    period_days: int = 1,
) -> FloatArray:
    """Discounted value of the next ``months`` of purchases, in the unit of ``spend_per_purchase``."""
    ahead = forecast(
        bg, frequency, recency, age, months=months, monthly_discount=monthly_discount, period_days=period_days
    )
    result: FloatArray = ahead.discounted_purchases * np.asarray(spend_per_purchase, dtype=np.float64)
    return result
