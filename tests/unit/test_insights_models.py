"""BG/NBD, Gamma-Gamma and CLV: gradients, recovery of known parameters, and the forecast formulas."""

from __future__ import annotations

import numpy as np
import pytest

from goodwill.insights import bgnbd, clv, gamma_gamma
from goodwill.insights.fitting import FitError
from goodwill.insights.simulate import simulate

TRUE_BG = {"r": 0.8, "alpha": 40.0, "a": 0.8, "b": 2.5}
TRUE_GG = {"p": 6.25, "q": 3.74, "v": 15.44}


@pytest.fixture(scope="module")
def simulated() -> object:
    return simulate(40_000, **TRUE_BG, **TRUE_GG, seed=11)


def test_bgnbd_recovers_the_parameters_it_was_simulated_with(simulated: object) -> None:
    fitted = bgnbd.fit(simulated.frequency, simulated.recency, simulated.age)  # type: ignore[attr-defined]
    # With 40,000 customers the standard errors are about 1-2 %; 6 % leaves room for chance only.
    for name, truth in TRUE_BG.items():
        assert getattr(fitted, name) == pytest.approx(truth, rel=0.06), name


def test_gamma_gamma_recovers_the_parameters_it_was_simulated_with(simulated: object) -> None:
    s = simulated
    fitted = gamma_gamma.fit(s.frequency, s.mean_repeat_spend)  # type: ignore[attr-defined]
    for name, truth in TRUE_GG.items():
        assert getattr(fitted, name) == pytest.approx(truth, rel=0.08), name


def test_day_grained_summary_recovers_the_parameters_too() -> None:
    """The real path: calendar days, DuckDB summary, compressed fit (slow buyers: few same-day purchases)."""
    import duckdb

    from goodwill.insights.summary import summarise

    s = simulate(30_000, r=0.5, alpha=60.0, a=0.7, b=3.0, seed=5)
    con = duckdb.connect()
    con.register("purchases", s.transactions())
    summary = summarise(con, s.calibration_end, period="week")
    fitted = bgnbd.fit(summary.frequency, summary.recency, summary.age)
    assert fitted.r == pytest.approx(0.5, rel=0.1)
    assert fitted.alpha == pytest.approx(60.0 / 7, rel=0.1)  # weeks instead of days
    assert fitted.a == pytest.approx(0.7, rel=0.15)
    assert fitted.b == pytest.approx(3.0, rel=0.15)


def _numeric_gradient(f: object, x: np.ndarray, step: float = 1e-6) -> np.ndarray:
    grad = np.zeros_like(x)
    for i in range(x.size):
        up, down = x.copy(), x.copy()
        up[i] += step
        down[i] -= step
        grad[i] = (f(up) - f(down)) / (2 * step)  # type: ignore[operator]
    return grad


def test_bgnbd_gradient_is_the_derivative_of_the_likelihood() -> None:
    rng = np.random.default_rng(3)
    x = rng.integers(0, 6, 200).astype(float)
    big_t = rng.uniform(5, 40, 200)
    t_x = np.where(x > 0, big_t * rng.uniform(0, 1, 200), 0.0)
    w = np.ones(200)
    data = bgnbd._Data.of(x, t_x, big_t, w)
    log_params = np.log([0.6, 5.0, 0.9, 2.2])
    _, analytic = bgnbd._terms(np.exp(log_params), data)

    def ll(lp: np.ndarray) -> float:
        return bgnbd._terms(np.exp(lp), data)[0]

    assert analytic == pytest.approx(_numeric_gradient(ll, log_params), rel=1e-5, abs=1e-6)


def test_gamma_gamma_gradient_is_the_derivative_of_the_likelihood() -> None:
    rng = np.random.default_rng(4)
    x = rng.integers(1, 8, 300).astype(float)
    zbar = rng.gamma(4.0, 10.0, 300)
    data = gamma_gamma._Data.of(x, zbar)
    log_params = np.log([5.0, 3.0, 12.0])
    _, analytic = gamma_gamma._terms(np.exp(log_params), data)

    def ll(lp: np.ndarray) -> float:
        return gamma_gamma._terms(np.exp(lp), data)[0]

    assert analytic == pytest.approx(_numeric_gradient(ll, log_params), rel=1e-5, abs=1e-6)


PARAMS = bgnbd.BgNbdParams(0.243, 4.414, 0.793, 2.426, 0.0)


def test_p_alive_is_one_without_repeat_purchases_and_falls_with_silence() -> None:
    assert bgnbd.p_alive(PARAMS, 0, 0.0, 30.0) == 1.0
    recent, silent = bgnbd.p_alive(PARAMS, [3, 3], [29.0, 5.0], [30.0, 30.0])
    assert 0 < silent < recent < 1


def test_expected_purchases_grow_with_the_horizon_and_start_at_zero() -> None:
    horizons = np.array([0.0, 1.0, 10.0, 52.0, 104.0])
    values = bgnbd.expected_purchases(PARAMS, horizons, 4, 20.0, 38.0)
    assert values[0] == 0.0
    assert np.all(np.diff(values) > 0)


def test_clv_is_the_discounted_sum_of_monthly_expected_purchases_times_spend() -> None:
    x, t_x, big_t = np.array([0.0, 2.0, 7.0]), np.array([0.0, 30.0, 200.0]), np.array([100.0, 120.0, 210.0])
    spend = np.array([20.0, 35.0, 50.0])
    value = clv.lifetime_value(PARAMS, spend, x, t_x, big_t, months=12, monthly_discount=0.02, period_days=1)
    brute = np.zeros(3)
    for month in range(1, 13):
        step = bgnbd.expected_purchases(PARAMS, 30.0 * month, x, t_x, big_t) - bgnbd.expected_purchases(
            PARAMS, 30.0 * (month - 1), x, t_x, big_t
        )
        brute += spend * step / 1.02**month
    assert value == pytest.approx(brute, rel=1e-10)
    ahead = clv.forecast(PARAMS, x, t_x, big_t, months=12, period_days=1)
    assert ahead.expected_purchases == pytest.approx(bgnbd.expected_purchases(PARAMS, 360.0, x, t_x, big_t))


def test_expected_spend_shrinks_towards_the_population_mean() -> None:
    params = gamma_gamma.GammaGammaParams(6.25, 3.74, 15.44, 0.0)
    mean = params.population_mean
    assert mean is not None
    nobody, one, many = gamma_gamma.expected_spend(params, [0, 1, 50], [np.nan, 100.0, 100.0])
    assert nobody == pytest.approx(mean)
    assert mean < one < many < 100.0


def test_fits_refuse_data_without_repeat_buying() -> None:
    with pytest.raises(FitError, match="nobody bought twice"):
        bgnbd.fit([0, 0, 0], [0, 0, 0], [5, 6, 7])
    with pytest.raises(FitError, match="fewer than 3"):
        gamma_gamma.fit([1, 0], [10.0, np.nan])
