"""Sincerity check: precision and recall for "passes" on the labelled notes, per-kind detection, speed.

    .venv/bin/python bench/sincerity_eval.py            # table
    .venv/bin/python bench/sincerity_eval.py --json     # one JSON object
    .venv/bin/python bench/sincerity_eval.py --checks 50000

The labelled set (``tests/data/notes_labelled.jsonl``) was written by hand: each note's ``passes`` and
``kinds`` say what a person would decide, not what the rules say. The positive class is "passes".

Splits: ``dev`` (242 notes) was written before any rule and used to build them. ``holdout1``..``3``
(73, 45, 46 notes) were each written blind after a round of rule changes and measured once before
anything was tuned on them. Those first, untuned measurements are the honest estimate for new text:

    holdout1  precision 0.857  recall 1.000   (36 passes kept, 6 insincere let through)
    holdout2  precision 0.724  recall 1.000   (21 kept, 8 let through)
    holdout3  precision 0.759  recall 1.000   (22 kept, 7 let through)

Each round was then used to widen the rules, so the numbers this script prints for the holdouts are
now optimistic. What generalised: the checker never blocked a sincere note it had not seen (79 of 79
kept); what did not: soft asks and "we did X for you, so..." phrased in new ways slipped through.

Throughput: ``--checks`` calls of ``check_note`` cycling over the labelled notes after a warm-up pass,
as wall-clock notes/s (``perf_counter``) and as notes per CPU-second (``process_time``), since the
wall figure on a shared machine moves with everyone else's load.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

from goodwill.notes.sincerity import PROBLEM_KINDS, check_note

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "notes_labelled.jsonl"


def load(path: Path = DATA) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def run(row: dict[str, Any]) -> tuple[bool, set[str]]:
    check = check_note(
        row["text"],
        first_name=row["first_name"],
        facts=row["facts"],
        channel=row["channel"],
        known_names=row.get("known_names", ()),
    )
    return check.ok, {p.kind for p in check.problems}


def ratio(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def confusion(rows: list[dict[str, Any]], results: list[tuple[bool, set[str]]]) -> dict[str, Any]:
    counts = Counter[str]()
    for row, (ok, _) in zip(rows, results, strict=True):
        counts[("tp" if row["passes"] else "fp") if ok else ("fn" if row["passes"] else "tn")] += 1
    tp, fp, fn, tn = counts["tp"], counts["fp"], counts["fn"], counts["tn"]
    precision, recall = ratio(tp, tp + fp), ratio(tp, tp + fn)
    f1 = round(2 * precision * recall / (precision + recall), 4) if precision + recall else 0.0
    return {"n": len(rows), "precision": precision, "recall": recall, "f1": f1,
            "tp": tp, "fp": fp, "fn": fn, "tn": tn}  # fmt: skip


def per_kind(rows: list[dict[str, Any]], results: list[tuple[bool, set[str]]]) -> dict[str, dict[str, Any]]:
    """Recall: of the notes a person labelled with a kind, how many the check flagged with it.
    Precision: of the notes the check flagged with a kind, how many a person labelled with it."""
    labelled, flagged, both = Counter[str](), Counter[str](), Counter[str]()
    for row, (_, kinds) in zip(rows, results, strict=True):
        expected = set(row["kinds"])
        labelled.update(expected)
        flagged.update(kinds)
        both.update(expected & kinds)
    return {
        kind: {
            "labelled": labelled[kind],
            "detected": both[kind],
            "recall": ratio(both[kind], labelled[kind]),
            "flagged": flagged[kind],
            "precision": ratio(both[kind], flagged[kind]),
        }
        for kind in PROBLEM_KINDS
    }


def throughput(rows: list[dict[str, Any]], checks: int) -> dict[str, float]:
    for row in rows:  # warm-up: fold and stem caches
        run(row)
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(checks):
        run(rows[i % len(rows)])
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {
        "checks": checks,
        "seconds": round(wall, 3),
        "notes_per_second": round(checks / wall),
        "notes_per_cpu_second": round(checks / cpu) if cpu else 0,
    }


def evaluate(checks: int) -> dict[str, Any]:
    rows = load()
    results = [run(row) for row in rows]
    splits = sorted({row.get("split", "dev") for row in rows})
    by_split = {}
    for split in splits:
        picked = [i for i, row in enumerate(rows) if row.get("split", "dev") == split]
        by_split[split] = confusion([rows[i] for i in picked], [results[i] for i in picked])
    return {
        "all": confusion(rows, results),
        "splits": by_split,
        "kinds": per_kind(rows, results),
        "speed": throughput(rows, checks),
    }


def print_report(report: dict[str, Any]) -> None:
    print("passes (positive class)      n  precision  recall     f1    tp   fp   fn   tn")
    for name, c in [("all", report["all"]), *report["splits"].items()]:
        print(
            f"  {name:<22} {c['n']:>6} {c['precision']:>10.3f} {c['recall']:>7.3f} {c['f1']:>6.3f}"
            f" {c['tp']:>5} {c['fp']:>4} {c['fn']:>4} {c['tn']:>4}"
        )
    print("\nkind                labelled  detected  recall   flagged  precision")
    for kind, k in report["kinds"].items():
        print(
            f"  {kind:<18} {k['labelled']:>8} {k['detected']:>9} {k['recall']:>7.3f}"
            f" {k['flagged']:>9} {k['precision']:>10.3f}"
        )
    speed = report["speed"]
    print(
        f"\nthroughput: {speed['checks']:,} checks in {speed['seconds']} s:"
        f" {speed['notes_per_second']:,} notes/s wall, {speed['notes_per_cpu_second']:,} notes per CPU-second"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    parser.add_argument("--checks", type=int, default=20_000, help="checks to time (default 20,000)")
    args = parser.parse_args()
    report = evaluate(max(1, args.checks))
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_report(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
