"""Shared fitting machinery: compressing customers to distinct triples and maximising a likelihood."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def dot(a: FloatArray, b: FloatArray) -> float:
    """Sum of products without BLAS: on a busy machine a multi-threaded BLAS dot over 100,000
    values can take tens of milliseconds waiting for its threads; a plain reduction takes 0.1."""
    return float(np.add.reduce(a * b))


class FitError(ValueError):
    """The data cannot support a fit (too few customers, no repeat buyers...); the message says why."""


@dataclass(frozen=True)
class Triples:
    """Distinct (frequency, recency, T) rows, how many customers share each, and who is where."""

    frequency: FloatArray
    recency: FloatArray
    age: FloatArray
    weight: FloatArray
    # For every input customer, the row of its triple: per-customer results are ``values[index]``.
    index: IntArray


def _codes(values: FloatArray) -> tuple[IntArray, int]:
    """Dense integer codes that sort like the values, and how many codes there can be."""
    if values.size and np.array_equal(values, np.floor(values)):
        low, high = float(values.min()), float(values.max())
        if high - low < 10_000_000:  # whole numbers (days, counts): an offset, no sort needed
            return (values - low).astype(np.int64), int(high - low) + 1
    distinct, codes = np.unique(values, return_inverse=True)
    return codes.astype(np.int64), int(distinct.size)


def compress_triples(frequency: npt.ArrayLike, recency: npt.ArrayLike, age: npt.ArrayLike) -> Triples:
    """Group customers with identical (x, t_x, T), so likelihoods cost O(distinct triples), not O(customers).

    With day-grained purchases there are at most a few hundred thousand distinct triples however
    many customers there are. Each triple becomes one int64 key, so grouping is a single sort.
    """
    x = np.asarray(frequency, dtype=np.float64)
    t_x = np.asarray(recency, dtype=np.float64)
    big_t = np.asarray(age, dtype=np.float64)
    if not (x.shape == t_x.shape == big_t.shape):
        raise ValueError("frequency, recency and T must have the same length")
    if x.size == 0:
        empty = np.empty(0)
        return Triples(empty, empty, empty, empty, np.empty(0, dtype=np.int64))
    (cx, nx), (ct, nt), (cb, nb) = _codes(x), _codes(t_x), _codes(big_t)
    if float(nx) * nt * nb < 2.0**62:
        key = (cx * nt + ct) * nb + cb
        _, first, index, counts = np.unique(key, return_index=True, return_inverse=True, return_counts=True)
    else:  # astronomically many combinations: fall back to sorting rows
        _, first, index, counts = np.unique(
            np.column_stack([cx, ct, cb]), axis=0, return_index=True, return_inverse=True, return_counts=True
        )
    return Triples(
        x[first], t_x[first], big_t[first], counts.astype(np.float64), index.astype(np.int64).ravel()
    )


WARM_START_ABOVE = 60_000  # rows; below this a fit takes a few milliseconds anyway
WARM_START_ROWS = 20_000


def warm_start_rows(size: int) -> IntArray | None:
    """A fixed random subset of rows to fit first: its optimum is a start a few steps from the full one.

    On a million customers this halves the number of full-data evaluations. Seeded, so a fit is
    reproducible; the final estimate is the full-data optimum either way.
    """
    if size <= WARM_START_ABOVE:
        return None
    rows: IntArray = np.sort(np.random.default_rng(0).choice(size, WARM_START_ROWS, replace=False))
    return rows


def maximise(
    negative_ll_and_grad: Callable[[FloatArray], tuple[float, FloatArray]],
    start: FloatArray,
    *,
    what: str,
    hess_inv: FloatArray | None = None,
    want_hessian: bool = False,
) -> tuple[FloatArray, FloatArray | None]:
    """Minimise a mean negative log-likelihood over log-parameters (so every parameter stays positive).

    BFGS with the analytic gradient. The objective is a mean per customer, so ``gtol`` means the
    same thing for 2,000 customers as for 2 million; 1e-7 puts the estimate within ~1e-8 relative
    of the optimum in about 20 evaluations. A tighter tolerance only buys "precision loss" line
    searches that cost evaluations and change nothing. Returns the parameters and BFGS's inverse
    Hessian (in log-parameters, from differences of the analytic gradient at the optimum), which
    makes a good ``hess_inv`` for a second fit nearby: that fit then needs a handful of steps.
    """
    options: dict[str, object] = {"gtol": 1e-7, "maxiter": 1000}
    if hess_inv is not None:
        options["hess_inv0"] = hess_inv
    result = minimize(negative_ll_and_grad, np.log(start), jac=True, method="BFGS", options=options)
    gradient = np.asarray(result.jac, dtype=np.float64)
    converged = np.all(np.isfinite(result.x)) and np.all(np.isfinite(gradient))
    if not converged or np.max(np.abs(gradient)) > 1e-4:
        raise FitError(f"{what}: the fit did not converge ({result.message}); is there enough repeat buying?")
    params: FloatArray = np.exp(result.x)
    return params, _inverse_hessian(negative_ll_and_grad, result.x) if want_hessian else None


def _inverse_hessian(
    negative_ll_and_grad: Callable[[FloatArray], tuple[float, FloatArray]], at: FloatArray, step: float = 1e-5
) -> FloatArray | None:
    """Inverse of the Hessian by central differences of the gradient; None unless positive definite."""
    columns = []
    for i in range(at.size):
        shift = np.zeros_like(at)
        shift[i] = step
        ahead, behind = negative_ll_and_grad(at + shift)[1], negative_ll_and_grad(at - shift)[1]
        columns.append((ahead - behind) / (2 * step))
    hessian = np.array(columns, dtype=np.float64)
    hessian = (hessian + hessian.T) / 2
    try:
        np.linalg.cholesky(hessian)
        inverse = np.asarray(np.linalg.inv(hessian), dtype=np.float64)
    except np.linalg.LinAlgError:
        return None
    symmetric: FloatArray = (inverse + inverse.T) / 2
    return symmetric
