"""Purchase histories simulated under BG/NBD with Gamma-Gamma spend, for tests and the benchmark.

Customer i is born on a day uniform in [0, birth_days), buys at time 0 and then at Poisson rate
lambda_i ~ Gamma(r, alpha) until it drops out, which happens after each purchase with probability
p_i ~ Beta(a, b); each purchase is worth Gamma(p, nu_i) with nu_i ~ Gamma(q, v). Times are in
days and continuous; ``transactions`` turns them into calendar days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pyarrow as pa

from goodwill.insights.fitting import FloatArray, IntArray


@dataclass(frozen=True)
class Simulation:
    customer_id: IntArray  # per purchase
    time: FloatArray  # per purchase: days since the start of the window
    amount: FloatArray  # per purchase
    # Per customer, the exact (continuous) quantities the models see, for parameter recovery.
    frequency: FloatArray
    recency: FloatArray
    age: FloatArray
    mean_repeat_spend: FloatArray
    start: date
    end_day: float

    def transactions(self, *, cents: bool = True) -> pa.Table:
        """One row per purchase: customer_id, day (date32), amount (rounded to cents)."""
        days = np.floor(self.time).astype("int64") + (self.start - date(1970, 1, 1)).days
        amount = np.round(self.amount, 2) if cents else self.amount
        return pa.table(
            {
                "customer_id": pa.array(self.customer_id, pa.int64()),
                "day": pa.array(days.astype("int32"), pa.int32()).cast(pa.date32()),
                "amount": pa.array(amount, pa.float64()),
            }
        )

    @property
    def calibration_end(self) -> date:
        return self.start + timedelta(days=int(np.floor(self.end_day)))


def simulate(
    customers: int,
    *,
    r: float,
    alpha: float,
    a: float,
    b: float,
    p: float = 6.25,
    q: float = 3.74,
    v: float = 15.44,
    birth_days: float = 365.0,
    window_days: float = 730.0,
    seed: int = 0,
    start: date = date(2024, 1, 1),
) -> Simulation:
    rng = np.random.default_rng(seed)
    birth = rng.uniform(0.0, birth_days, customers)
    age = window_days - birth
    rate = rng.gamma(r, 1.0 / alpha, customers)
    dropout = rng.beta(a, b, customers)
    # Dropout can follow each *repeat* purchase (not the first, at time 0): J ~ Geometric(p) repeats at most.
    allowed = rng.geometric(dropout)
    nu = rng.gamma(q, 1.0 / v, customers)

    ids = [np.arange(customers)]
    offsets = [np.zeros(customers)]
    clock = np.zeros(customers)
    active = np.flatnonzero(allowed > 0)
    bought = np.zeros(customers, dtype=np.int64)
    while active.size:
        clock[active] += rng.exponential(1.0, active.size) / rate[active]
        still = clock[active] <= age[active]
        active = active[still]
        ids.append(active)
        offsets.append(clock[active].copy())
        bought[active] += 1
        active = active[bought[active] < allowed[active]]

    customer = np.concatenate(ids)
    offset = np.concatenate(offsets)
    order = np.lexsort((offset, customer))
    customer, offset = customer[order], offset[order]
    amount = rng.gamma(p, 1.0, customer.size) / nu[customer]
    repeat = offset > 0
    frequency = np.bincount(customer, weights=repeat, minlength=customers).astype(np.float64)
    recency = np.zeros(customers)
    np.maximum.at(recency, customer, offset)
    spend = np.bincount(customer, weights=np.where(repeat, amount, 0.0), minlength=customers)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_spend = np.where(frequency > 0, spend / np.maximum(frequency, 1), np.nan)
    return Simulation(
        customer_id=customer.astype(np.int64) + 1,
        time=birth[customer] + offset,
        amount=amount,
        frequency=frequency,
        recency=recency,
        age=age,
        mean_repeat_spend=mean_spend,
        start=start,
        end_day=window_days,
    )
