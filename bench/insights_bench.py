"""Insights benchmark: Goodwill's full scoring against the DuckDB floor and the ``lifetimes`` package.

    .venv/bin/python bench/insights_bench.py                  # 1M customers, ~6M purchases
    .venv/bin/python bench/insights_bench.py --customers 100000   # a quick run

Simulates BG/NBD + Gamma-Gamma purchases (seeded), writes them to Parquet (and CSV for lifetimes),
then times, each in its own process so peak memory is its own:
  (a) the floor: DuckDB's bare per-customer count/min/max/sum over the same Parquet file;
  (b) Goodwill: summary, RFM, BG/NBD and Gamma-Gamma fits, P(alive), CLV for everyone;
  (c) lifetimes 0.11.3 in its own venv (bench/.venv-lifetimes, created on first use): the same steps.
Prints per-step times, the ratios, the parameter agreement and peak memory.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
OUT = ROOT / "out" / "insights"
LIFETIMES_VENV = ROOT / ".venv-lifetimes"
LIFETIMES_PINS = ["lifetimes==0.11.3", "pandas<2", "numpy<2", "scipy<1.13"]
TRUE = {"r": 0.8, "alpha": 30.0, "a": 0.8, "b": 2.5, "p": 6.25, "q": 3.74, "v": 15.44}
MONTHS, DISCOUNT = 12, 0.01
REPEATS = 3  # (a) and (b) are cheap: best of 3, as the machine may be shared

LIFETIMES_SCRIPT = r"""
import json, resource, sys, time
import numpy as np, pandas as pd
from lifetimes import BetaGeoFitter, GammaGammaFitter
from lifetimes.utils import summary_data_from_transaction_data
csv, end, out = sys.argv[1], sys.argv[2], sys.argv[3]
tx = pd.read_csv(csv, parse_dates=["day"])
times = {}
t = time.perf_counter()
s = summary_data_from_transaction_data(tx, "customer_id", "day", monetary_value_col="amount",
                                       observation_period_end=end, freq="D")
times["summary"] = time.perf_counter() - t; t = time.perf_counter()
bgf = BetaGeoFitter().fit(s["frequency"], s["recency"], s["T"])
times["bgnbd"] = time.perf_counter() - t; t = time.perf_counter()
rep = s[(s["frequency"] > 0) & (s["monetary_value"] > 0)]
ggf = GammaGammaFitter().fit(rep["frequency"], rep["monetary_value"])
times["gamma_gamma"] = time.perf_counter() - t; t = time.perf_counter()
clv = ggf.customer_lifetime_value(bgf, s["frequency"], s["recency"], s["T"], s["monetary_value"],
                                  time=12, discount_rate=0.01, freq="D")
times["clv"] = time.perf_counter() - t
np.save(out, np.column_stack([s.index.values.astype("float64"), clv.values]))
print(json.dumps({"times": times, "customers": len(s),
                  "bgnbd": {k: float(bgf.params_[k]) for k in ("r", "alpha", "a", "b")},
                  "gamma_gamma": {k: float(ggf.params_[k]) for k in ("p", "q", "v")},
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def step_floor(parquet: Path) -> dict[str, Any]:
    import duckdb

    con = duckdb.connect()
    best = float("inf")
    for _ in range(REPEATS):
        t = time.perf_counter()
        columns = con.sql(
            f"SELECT customer_id, count(*) AS n, min(day) AS first, max(day) AS last, sum(amount) AS total "
            f"FROM read_parquet('{parquet}') GROUP BY customer_id"
        ).fetchnumpy()
        best = min(best, time.perf_counter() - t)
    return {"times": {"floor": best}, "customers": int(columns["n"].size), "peak_mib": peak_mib()}


def step_goodwill(parquet: Path, as_of: str, clv_out: Path) -> dict[str, Any]:
    from datetime import date

    import duckdb
    import numpy as np

    from goodwill.insights.pipeline import ScoreOptions, score
    from goodwill.insights.summary import summarise

    con = duckdb.connect()
    con.execute(f"CREATE VIEW purchases AS SELECT * FROM read_parquet('{parquet}')")
    day = date.fromisoformat(as_of)
    runs = []
    for _ in range(REPEATS):
        t = time.perf_counter()
        summary = summarise(con, day, period="day")
        summary_time = time.perf_counter() - t
        scores = score(
            summary, ScoreOptions(as_of=day, period="day", months=MONTHS, monthly_discount=DISCOUNT)
        )
        runs.append({"summary": summary_time, **scores.timings, "total": time.perf_counter() - t})
    fastest = min(runs, key=lambda run: run["total"])
    np.save(clv_out, np.column_stack([summary.customer_id.astype("float64"), scores.clv]))
    assert scores.bgnbd is not None and scores.gamma_gamma is not None, scores.notes
    return {
        "times": fastest,
        "customers": len(summary),
        "distinct_triples": scores.distinct_triples,
        "bgnbd": {k: v for k, v in scores.bgnbd.as_dict().items() if k != "log_likelihood"},
        "gamma_gamma": {k: v for k, v in scores.gamma_gamma.as_dict().items() if k != "log_likelihood"},
        "peak_mib": peak_mib(),
    }


def run_step(*args: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def ensure_lifetimes_venv() -> Path:
    python = LIFETIMES_VENV / "bin" / "python"
    if not python.exists():
        print(f"creating {LIFETIMES_VENV} with {' '.join(LIFETIMES_PINS)} (once)...", flush=True)
        subprocess.run(["python3", "-m", "venv", str(LIFETIMES_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *LIFETIMES_PINS], check=True)
    return python


def generate(customers: int, seed: int) -> tuple[Path, Path, str, int]:
    import duckdb
    import pyarrow.parquet as pq

    from goodwill.insights.simulate import simulate

    OUT.mkdir(parents=True, exist_ok=True)
    sim = simulate(
        customers,
        r=TRUE["r"],
        alpha=TRUE["alpha"],
        a=TRUE["a"],
        b=TRUE["b"],
        p=TRUE["p"],
        q=TRUE["q"],
        v=TRUE["v"],
        seed=seed,
    )
    table = sim.transactions()
    parquet, csv = OUT / f"purchases-{customers}.parquet", OUT / f"purchases-{customers}.csv"
    pq.write_table(table, parquet)
    duckdb.connect().execute(f"COPY (SELECT * FROM read_parquet('{parquet}')) TO '{csv}' (HEADER)")
    as_of = (sim.start + timedelta(days=int(sim.end_day))).isoformat()
    return parquet, csv, as_of, table.num_rows


def compare_clv(ours: Path, theirs: Path) -> float:
    import numpy as np

    a, b = np.load(ours), np.load(theirs)
    a, b = a[np.argsort(a[:, 0])], b[np.argsort(b[:, 0])]
    assert np.array_equal(a[:, 0], b[:, 0]), "different customers"
    scale = np.maximum(np.abs(b[:, 1]), 1e-9)
    return float(np.max(np.abs(a[:, 1] - b[:, 1]) / scale))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--skip-lifetimes", action="store_true", help="Only (a) and (b).")
    parser.add_argument("--step", choices=["floor", "goodwill"], help=argparse.SUPPRESS)
    parser.add_argument("--parquet", help=argparse.SUPPRESS)
    parser.add_argument("--as-of", help=argparse.SUPPRESS)
    parser.add_argument("--clv-out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step == "floor":
        print(json.dumps(step_floor(Path(args.parquet))))
        return
    if args.step == "goodwill":
        print(json.dumps(step_goodwill(Path(args.parquet), args.as_of, Path(args.clv_out))))
        return

    print(f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    t = time.perf_counter()
    parquet, csv, as_of, purchases = generate(args.customers, args.seed)
    print(
        f"generated {args.customers:,} customers, {purchases:,} purchases in {time.perf_counter() - t:.1f} s "
        f"(calibration end {as_of})"
    )
    floor = run_step("--step", "floor", "--parquet", str(parquet))
    ours_clv = OUT / "clv-goodwill.npy"
    ours = run_step(
        "--step", "goodwill", "--parquet", str(parquet), "--as-of", as_of, "--clv-out", str(ours_clv)
    )
    print(f"(a) DuckDB floor        {floor['times']['floor']:8.2f} s   peak {floor['peak_mib']:7.0f} MiB")
    steps = ", ".join(f"{k} {v:.2f}" for k, v in ours["times"].items() if k != "total")
    print(
        f"(b) Goodwill full score {ours['times']['total']:8.2f} s   peak {ours['peak_mib']:7.0f} MiB   "
        f"({steps}; "
        f"{ours['distinct_triples']:,} distinct triples for {ours['customers']:,} customers)"
    )
    print(
        f"    (b)/(a) = {ours['times']['total'] / floor['times']['floor']:.1f}x the floor (goal: within 5x)"
    )
    print(
        f"    Goodwill: {json.dumps(ours['bgnbd'])} {json.dumps(ours['gamma_gamma'])}; simulated with {TRUE}"
    )
    if args.skip_lifetimes:
        return
    python = ensure_lifetimes_venv()
    theirs_clv = OUT / "clv-lifetimes.npy"
    done = subprocess.run(
        [str(python), "-c", LIFETIMES_SCRIPT, str(csv), as_of, str(theirs_clv)],
        check=True,
        capture_output=True,
        text=True,
    )
    theirs = json.loads(done.stdout.strip().splitlines()[-1])
    total = sum(theirs["times"].values())
    steps = ", ".join(f"{k} {v:.2f}" for k, v in theirs["times"].items())
    print(f"(c) lifetimes           {total:8.2f} s   peak {theirs['peak_mib']:7.0f} MiB   ({steps})")
    print(f"    (c)/(b) = {total / ours['times']['total']:.1f}x faster than lifetimes (goal: at least 20x)")
    worst = 0.0
    for model in ("bgnbd", "gamma_gamma"):
        for name, value in ours[model].items():
            relative = abs(value - theirs[model][name]) / abs(theirs[model][name])
            worst = max(worst, relative)
            print(
                f"    {model}.{name}: goodwill {value:.6g}  lifetimes {theirs[model][name]:.6g}  "
                f"rel {relative:.1e}"
            )
    print(
        f"    largest parameter difference {worst:.1e} (goal: 1e-3); "
        f"largest per-customer CLV difference {compare_clv(ours_clv, theirs_clv):.1e} relative"
    )
    print(f"load average at end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
