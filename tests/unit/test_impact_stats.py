"""Impact statistics by example: published intervals and p-values, edge cases, determinism, wording."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as sps

from goodwill.impact.stats import (
    OUTCOMES,
    Comparison,
    Verdict,
    adjust_for_outcomes,
    compare_means,
    compare_rates,
    newcombe_interval,
    plain_number,
    verdict_for,
)


def flags(successes: int, n: int) -> list[bool]:
    return [True] * successes + [False] * (n - successes)


def rates(x1: int, n1: int, x0: int, n0: int, **options: object) -> Comparison:
    settings: dict[str, object] = {"metric": "repeat_purchase", "confidence": 0.95, "min_group_size": 30}
    return compare_rates(flags(x1, n1), flags(x0, n0), **(settings | options))  # type: ignore[arg-type]


def means(treated: object, holdout: object, **options: object) -> Comparison:
    settings: dict[str, object] = {
        "metric": "orders", "confidence": 0.95, "min_group_size": 30, "resamples": 999, "seed": 7,
    }  # fmt: skip
    return compare_means(treated, holdout, **(settings | options))  # type: ignore[arg-type]


# --- Textbook cases ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "published"),
    [
        # Newcombe (1998), Statistics in Medicine 17:873-890, Table II, method 10.
        ((56, 70, 48, 80), (0.0524, 0.3339)),
        ((9, 10, 3, 10), (0.1705, 0.8090)),
        # 0/10 against 0/10: the limits are the Wilson upper limit of 0/10, z^2 / (10 + z^2).
        ((0, 10, 0, 10), (-0.2775, 0.2775)),
    ],
)
def test_newcombe_interval_matches_published_values(
    table: tuple[int, int, int, int], published: tuple[float, float]
) -> None:
    low, high = newcombe_interval(*table, confidence=0.95)
    assert (round(low, 4), round(high, 4)) == published


def test_rates_give_the_published_interval_and_fishers_exact_p_value() -> None:
    result = rates(56, 70, 48, 80)
    assert (result.treated_value, result.holdout_value) == (0.8, 0.6)
    assert result.difference == pytest.approx(0.2)
    assert (round(result.low or 0, 4), round(result.high or 0, 4)) == (0.0524, 0.3339)
    assert result.p_value == pytest.approx(sps.fisher_exact([[56, 14], [48, 32]]).pvalue)


def test_fishers_tea_tasting_table_has_the_textbook_p_value() -> None:
    # Fisher's lady tasting tea (Agresti, Categorical Data Analysis, 3.5.1): two-sided P = 34/70.
    result = rates(3, 4, 1, 4, min_group_size=2)
    assert result.p_value == pytest.approx(34 / 70)
    assert result.verdict is Verdict.TOO_SMALL


def test_means_of_constants_differ_exactly_and_no_re_assignment_is_as_extreme() -> None:
    result = means([5] * 40, [3] * 40)
    assert (result.difference, result.low, result.high) == (2.0, 2.0, 2.0)
    # Only the observed assignment (1 in 10^23) splits fives from threes: one-sided 1 / (resamples + 1).
    assert result.p_value == pytest.approx(2 / 1000)
    assert result.verdict is Verdict.UP


def test_identical_groups_differ_by_zero_with_p_value_one() -> None:
    orders = [0, 0, 0, 1, 0, 2, 0, 1, 0, 0, 3, 0] * 10
    result = means(orders, list(reversed(orders)), meaningful=1.0)
    assert result.difference == 0
    assert result.p_value is not None and result.p_value > 0.9
    assert result.low is not None and result.high is not None and result.low < 0 < result.high
    assert result.verdict is Verdict.NO_CLEAR_DIFFERENCE
    same = rates(40, 200, 40, 200)
    assert (same.difference, same.p_value) == (0, 1)


def test_bootstrap_interval_agrees_with_scipy_percentile_bootstrap() -> None:
    rng = np.random.default_rng(11)
    treated = np.where(rng.random(400) < 0.3, np.rint(rng.lognormal(8, 1, 400)), 0).astype(int)
    holdout = np.where(rng.random(150) < 0.3, np.rint(rng.lognormal(8, 1, 150)), 0).astype(int)
    ours = means(treated.tolist(), holdout.tolist(), metric="spend", resamples=20_000)
    theirs = sps.bootstrap(
        (treated, holdout), lambda t, h, axis=-1: t.mean(axis) - h.mean(axis), method="percentile",
        n_resamples=20_000, vectorized=True, rng=3,
    ).confidence_interval  # fmt: skip
    spread = float(np.std(treated) / 20 + np.std(holdout) / 12)  # about a tenth of a standard error
    assert ours.low == pytest.approx(theirs.low, abs=spread)
    assert ours.high == pytest.approx(theirs.high, abs=spread)


@pytest.mark.parametrize("kind", ["counts (few distinct values)", "spend (many distinct values)"])
def test_permutation_p_value_agrees_with_scipy_welch_permutation_test(kind: str) -> None:
    rng = np.random.default_rng(5)
    orders = rng.poisson(0.55, 300), rng.poisson(0.4, 120)
    spend = tuple(
        np.where(rng.random(n) < share, np.rint(rng.lognormal(8, 1, n)), 0).astype(int)
        for n, share in ((300, 0.35), (120, 0.25))
    )
    (treated, holdout), metric = (orders, "orders") if kind.startswith("counts") else (spend, "spend")
    ours = means(treated.tolist(), holdout.tolist(), metric=metric, resamples=20_000)
    theirs = sps.ttest_ind(
        treated, holdout, equal_var=False, method=sps.PermutationMethod(n_resamples=20_000, rng=1)
    ).pvalue
    assert 0.005 < theirs < 0.5  # a p-value where the comparison means something
    assert ours.p_value == pytest.approx(theirs, abs=0.01)


# --- Determinism ------------------------------------------------------------------------------


def test_same_seed_same_answer_other_seed_other_draws() -> None:
    rng = np.random.default_rng(1)
    treated, holdout = rng.poisson(0.5, 200).tolist(), rng.poisson(0.4, 80).tolist()
    first, again = means(treated, holdout, seed=42), means(treated, holdout, seed=42)
    assert first.as_dict() == again.as_dict()
    other = means(treated, holdout, seed=43)
    assert (other.low, other.high, other.p_value) != (first.low, first.high, first.p_value)


# --- Edge cases -------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [False, True], ids=["nobody came back", "everybody came back"])
def test_all_or_nothing_rates(value: bool) -> None:
    result = compare_rates(
        [value] * 100, [value] * 100, metric="repeat_purchase", confidence=0.95, min_group_size=30
    )
    assert (result.difference, result.p_value) == (0, 1)
    # Wilson's limit for 0/100 is 3.7 points: an interval within the 5-point threshold.
    assert (round(result.low or 0, 3), round(result.high or 0, 3)) == (-0.037, 0.037)
    assert result.verdict is Verdict.NO_CLEAR_DIFFERENCE
    assert rates(0, 40, 0, 40).verdict is Verdict.TOO_SMALL  # 8.8 points either side: too wide


def test_all_zero_averages_have_a_zero_interval() -> None:
    result = means([0] * 50, [0] * 50, metric="spend")
    assert (result.difference, result.low, result.high, result.p_value) == (0, 0, 0, 1)
    assert result.verdict is Verdict.NO_CLEAR_DIFFERENCE


@pytest.mark.parametrize("empty", ["treated", "holdout"])
def test_an_empty_group_is_too_small_to_tell_and_has_no_numbers(empty: str) -> None:
    some = [1, 0, 2] * 20
    treated, holdout = ([], some) if empty == "treated" else (some, [])
    for result in (means(treated, holdout), compare_rates(
        [bool(v) for v in treated], [bool(v) for v in holdout], metric="unsubscribes",
        confidence=0.95, min_group_size=30,
    )):  # fmt: skip
        assert result.verdict is Verdict.TOO_SMALL
        assert (result.difference, result.low, result.high, result.p_value) == (None, None, None, None)
        assert result.sentence.endswith("there is nothing to compare.")
        json.dumps(result.as_dict(), allow_nan=False)  # no NaN sneaks into the JSON


def test_groups_under_the_minimum_are_too_small_even_with_a_big_difference() -> None:
    result = rates(29, 29, 0, 29)
    assert result.low is not None and result.low > 0.5
    assert result.verdict is Verdict.TOO_SMALL
    assert rates(30, 30, 0, 30).verdict is Verdict.UP


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: rates(1, 40, 1, 40, metric="spend"), "metric: 'spend' is not a rate outcome"),
        (lambda: means([1] * 40, [1] * 40, metric="nope"), "metric: 'nope' is not a mean outcome"),
        (lambda: means([1.5] * 40, [1] * 40), "treated: expected a flat list of whole numbers"),
        (lambda: compare_rates([2, 0], [1, 0], metric="repeat_purchase", confidence=0.95, min_group_size=1),
         "treated: expected a flat list of true/false"),
        (lambda: rates(1, 40, 1, 40, confidence=95), "confidence: must be between 0 and 1"),
        (lambda: means([1] * 40, [1] * 40, resamples=10), "resamples: at least 100 are needed"),
    ],
)  # fmt: skip
def test_bad_input_names_the_argument(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        call()  # type: ignore[operator]


# --- Verdict rules ----------------------------------------------------------------------------

BASE = {"treated_n": 500, "holdout_n": 500, "confidence": 0.95, "min_group_size": 30, "meaningful": 0.05}


@pytest.mark.parametrize(
    ("low", "high", "p_value", "changes", "expected"),
    [
        (0.012, 0.11, 0.01, {}, Verdict.UP),
        (-0.11, -0.012, 0.01, {}, Verdict.DOWN),
        (-0.021, 0.034, 0.6, {}, Verdict.NO_CLEAR_DIFFERENCE),
        (-0.06, 0.045, 0.6, {}, Verdict.TOO_SMALL),  # margin of error 5.25 points > 5
        (-0.02, 0.07, 0.3, {}, Verdict.NO_CLEAR_DIFFERENCE),  # exactly 4.5 either side
        (0.003, 0.08, 0.07, {}, Verdict.NO_CLEAR_DIFFERENCE),  # interval and test disagree: no claim
        (0.01, 0.40, 0.01, {}, Verdict.UP),  # wide but clear: a real difference of uncertain size
        (0.2, 0.6, 0.001, {"holdout_n": 29}, Verdict.TOO_SMALL),
        (None, None, None, {"holdout_n": 0}, Verdict.TOO_SMALL),
    ],
)
def test_verdict_rules(
    low: float | None, high: float | None, p_value: float | None, changes: dict[str, int], expected: Verdict
) -> None:
    options = BASE | changes
    assert verdict_for(low=low, high=high, p_value=p_value, **options) is expected  # type: ignore[arg-type]


# --- Wording ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("comparison", "sentence"),
    [
        (lambda: rates(56, 70, 48, 80), "People we thanked came back 20.0 points more often "
         "(95% interval 5.2 to 33.4 points): a real difference, not chance."),
        (lambda: rates(48, 80, 56, 70), "People we thanked came back 20.0 points less often "
         "(95% interval 5.2 to 33.4 points): a real difference, not chance."),
        (lambda: rates(3, 12, 1, 3), "Too small to tell: with 12 thanked and 3 held out, the interval runs "
         "from -57.0 to +30.9 points (at least 30 are needed in each group)."),
        (lambda: rates(0, 40, 0, 40), "Too small to tell: with 40 thanked and 40 held out, the interval "
         "runs from -8.8 to +8.8 points: more than 5.0 points either side of the estimate."),
        (lambda: rates(200, 1000, 205, 1000),
         "No clear difference: the interval includes zero (-4.0 to +3.0 points)."),
        (lambda: rates(5, 40, 0, 40, meaningful=0.5), "No clear difference: the interval (+1.3 to +26.1 "
         "points) leaves zero out, but the test does not confirm it (p = 0.055)."),
        (lambda: rates(30, 1000, 10, 1000, metric="unsubscribes"), "People we thanked unsubscribed "
         "2.0 points more often (95% interval 0.8 to 3.3 points): a real difference, not chance."),
        (lambda: means([5] * 40, [3] * 40), "People we thanked placed 2.00 more orders each "
         "(95% interval 2.00 to 2.00 orders): a real difference, not chance."),
        (lambda: means([1250] * 40, [1000] * 40, metric="spend", format_value=lambda v: f"EUR {v / 100:.2f}"),
         "People we thanked spent EUR 2.50 more each (95% interval EUR 2.50 to EUR 2.50): "
         "a real difference, not chance."),
    ],
)  # fmt: skip
def test_sentences(comparison: object, sentence: str) -> None:
    assert comparison().sentence == sentence  # type: ignore[operator]


def test_every_outcome_can_be_said_both_ways() -> None:
    for name, outcome in OUTCOMES.items():
        if outcome.kind == "rate":
            up, down = rates(60, 100, 20, 100, metric=name), rates(20, 100, 60, 100, metric=name)
        else:
            up, down = means([9] * 40, [3] * 40, metric=name), means([3] * 40, [9] * 40, metric=name)
        assert (up.verdict, down.verdict) == (Verdict.UP, Verdict.DOWN)
        assert " more " in up.sentence and (" less " in down.sentence or " fewer " in down.sentence)


@pytest.mark.parametrize(
    ("value", "text"),
    [(0, "0"), (0.0123, "0.012"), (0.5, "0.50"), (1.234, "1.23"), (45.66, "45.7"), (1234.4, "1,234")],
)
def test_plain_number(value: float, text: str) -> None:
    assert plain_number(value) == text


# --- Several outcomes at once -----------------------------------------------------------------


def test_holm_adjusts_p_values_across_outcomes_and_redoes_the_verdicts() -> None:
    results = [
        rates(56, 70, 48, 80),  # p = 0.0125: up on its own
        rates(30, 100, 20, 100, metric="unsubscribes"),
        means([5] * 40, [3] * 40),  # p = 0.001
    ]
    raw = [r.p_value or 0 for r in results]
    adjusted = adjust_for_outcomes(results)
    order = sorted(range(3), key=lambda i: raw[i])
    expected, running = [0.0] * 3, 0.0
    for rank, i in enumerate(order):  # Holm: (m - rank) * p, never below an earlier one
        running = max(running, min(1.0, (3 - rank) * raw[i]))
        expected[i] = running
    assert [a.adjusted_p_value for a in adjusted] == pytest.approx(expected)
    assert [a.p_value for a in adjusted] == raw  # the raw p-values stay for the record
    assert all(a.outcomes_compared == 3 for a in adjusted)
    assert adjusted[2].verdict is Verdict.UP  # 0.003 is still clear
    # 2 x 0.0125 = 0.025: still clear with three outcomes; with six it would not be.
    assert adjusted[0].verdict is Verdict.UP


def test_an_up_that_does_not_survive_six_outcomes_says_so() -> None:
    clear = rates(230, 1000, 190, 1000)  # p = 0.032: up on its own
    assert clear.verdict is Verdict.UP
    quiet = [rates(40, 100, 40, 100, metric="unsubscribes")] * 5  # p = 1
    adjusted = adjust_for_outcomes([clear, *quiet])
    assert adjusted[0].adjusted_p_value == pytest.approx(6 * clear.p_value)  # type: ignore[operator]
    assert adjusted[0].verdict is Verdict.NO_CLEAR_DIFFERENCE
    assert adjusted[0].sentence == (
        "No clear difference: the interval (+0.4 to +7.6 points) leaves zero out, "
        "but the test does not confirm it (p = 0.19, adjusted for 6 outcomes)."
    )


def test_outcomes_without_numbers_are_not_counted_in_the_adjustment() -> None:
    empty = compare_rates([], [True], metric="unsubscribes", confidence=0.95, min_group_size=30)
    adjusted = adjust_for_outcomes([rates(56, 70, 48, 80), empty])
    assert adjusted[0].adjusted_p_value == adjusted[0].p_value
    assert adjusted[1] == empty


def test_docs_state_the_thresholds_the_code_uses() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "impact.md").read_text()
    table = docs.split("| outcome | d, the smallest difference worth knowing about |", 1)[1].split("\n\n", 1)[
        0
    ]
    rows = {line.split("|")[1].strip(" `"): line.split("|")[2] for line in table.splitlines()[2:]}
    assert set(rows) == set(OUTCOMES)
    for name, outcome in OUTCOMES.items():
        if outcome.kind == "rate":
            expected = f"{outcome.absolute * 100:g} point"
        elif outcome.relative:
            expected = f"{outcome.relative * 100:g}% of the held-out average"
        else:
            expected = f"{outcome.absolute:g} "
        assert expected in rows[name], (name, rows[name])
