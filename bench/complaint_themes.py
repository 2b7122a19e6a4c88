"""How well the complaint themes match the hand-labelled complaints, and how long finding them takes.

    .venv/bin/python bench/complaint_themes.py            # tables
    .venv/bin/python bench/complaint_themes.py --json     # one JSON object
    .venv/bin/python bench/complaint_themes.py --seeds 10 # stability over more seeds
    .venv/bin/python bench/complaint_themes.py --scale 20000  # also time 20,000 complaints

The labelled set (``tests/data/complaints_labelled.csv``, columns ``text,theme``) was written by hand:
complaints a small shop gets, in 12 themes, of different lengths, tones and spellings, some naming two
problems (labelled by the main one). ``find_themes`` never sees the labels; they are only compared
with its grouping afterwards:

- adjusted Rand index (ARI): agreement on which pairs of complaints belong together, 0 for chance, 1 perfect;
- normalised mutual information (NMI): how much the grouping tells about the true theme, 0 to 1;
- purity: the share of complaints in the majority true theme of their group;
- per true theme, precision and recall of the majority mapping: each group stands for its majority
  theme; precision is the share of the complaints in a theme's groups that really are that theme,
  recall the share of the theme's complaints that landed in them. Other maps to no theme.

Both with ``k`` chosen automatically and with ``k`` = the number of true themes, for seed 0 (what the
application runs), plus mean and lowest ARI/NMI over ``--seeds`` seeds, and the time taken. ``--split`` also
scores each half of a stratified 50/50 split (fixed seed ``SPLIT_SEED``): changes to the method are to be
chosen on the *tune* half only, so the *held-out* half gives the figures for complaints it was not tuned on.
``--scale N`` also times the automatic run on N complaints (the service groups at most 20,000), made
by splicing the start of one labelled complaint to part of another (seeded), so the words are real.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any

from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
from sklearn.model_selection import train_test_split

from goodwill.complaints.themes import find_themes

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "complaints_labelled.csv"
SPLIT_SEED = 0  # fixed: the tune/held-out halves must stay the same from one measurement to the next


def load(path: Path = DATA) -> tuple[list[str], list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [row["text"] for row in rows], [row["theme"] for row in rows]


def quality(truth: list[str], found: list[int], other: int | None) -> dict[str, Any]:
    """ARI, NMI, purity and the per-theme precision/recall of the majority mapping."""
    groups: dict[int, Counter[str]] = {}
    for label, group in zip(truth, found, strict=True):
        groups.setdefault(group, Counter())[label] += 1
    majority = {group: counts.most_common(1)[0][0] for group, counts in groups.items() if group != other}
    purity = sum(counts.most_common(1)[0][1] for counts in groups.values()) / len(truth)
    per_theme = {}
    for theme in sorted(set(truth)):
        predicted = [t for t, g in zip(truth, found, strict=True) if majority.get(g) == theme]
        hits = sum(1 for t in predicted if t == theme)
        per_theme[theme] = {
            "precision": round(hits / len(predicted), 3) if predicted else None,
            "recall": round(hits / truth.count(theme), 3),
            "groups": sum(1 for g in majority.values() if g == theme),
        }
    return {
        "ari": round(adjusted_rand_score(truth, found), 4),
        "nmi": round(normalized_mutual_info_score(truth, found), 4),
        "purity": round(purity, 4),
        "per_theme": per_theme,
    }


def measure(texts: list[str], truth: list[str], k: int | None, seeds: int) -> dict[str, Any]:
    started = time.perf_counter()
    model = find_themes(texts, k=k, seed=0)
    seconds = time.perf_counter() - started
    other = next((t.index for t in model.themes if t.is_other), None)
    result = quality(truth, [a.theme for a in model.assignments], other)
    result.update(
        k_asked=k,
        k_found=model.k,
        chosen_by=model.chosen_by,
        silhouette=model.silhouette,
        seconds=round(seconds, 2),
        other=model.themes[other].size if other is not None else 0,
        themes=[{"label": t.label, "size": t.size, "keywords": list(t.keywords)} for t in model.themes],
    )
    scores = []
    for seed in range(seeds):
        found = [a.theme for a in find_themes(texts, k=k, seed=seed).assignments]
        scores.append((adjusted_rand_score(truth, found), normalized_mutual_info_score(truth, found)))
    result["seeds"] = {
        "n": seeds,
        "ari_mean": round(statistics.fmean(s[0] for s in scores), 4),
        "ari_min": round(min(s[0] for s in scores), 4),
        "nmi_mean": round(statistics.fmean(s[1] for s in scores), 4),
        "nmi_min": round(min(s[1] for s in scores), 4),
    }
    return result


def halves(truth: list[str]) -> dict[str, list[int]]:
    """Positions of the tune half and the held-out half, stratified by true theme, always the same."""
    tune, held_out = train_test_split(
        list(range(len(truth))), test_size=0.5, stratify=truth, random_state=SPLIT_SEED
    )
    return {"tune": sorted(tune), "held_out": sorted(held_out)}


def split(texts: list[str], truth: list[str], seeds: int) -> dict[str, Any]:
    """Automatic k and the true k on each half of the stratified split."""
    report: dict[str, Any] = {}
    for name, positions in halves(truth).items():
        part_texts, part_truth = [texts[i] for i in positions], [truth[i] for i in positions]
        report[name] = {
            "complaints": len(positions),
            "automatic_k": measure(part_texts, part_truth, None, seeds),
            "true_k": measure(part_texts, part_truth, len(set(part_truth)), seeds),
        }
    return report


def scale(texts: list[str], n: int) -> dict[str, Any]:
    rng = random.Random(2024)
    spliced = []
    for _ in range(n):
        first, second = rng.choice(texts).split(), rng.choice(texts).split()
        spliced.append(
            " ".join(first[: rng.randint(3, len(first))] + second[: rng.randint(0, len(second) // 2)])
        )
    started = time.perf_counter()
    model = find_themes(spliced)
    return {"complaints": n, "k_found": model.k, "seconds": round(time.perf_counter() - started, 2)}


def show(name: str, result: dict[str, Any]) -> None:
    seeds = result["seeds"]
    print(f"\n## {name}: {result['k_found']} themes ({result['chosen_by']}), {result['seconds']} s")
    print(
        f"ARI {result['ari']:.3f}  NMI {result['nmi']:.3f}  purity {result['purity']:.3f}  "
        f"silhouette {result['silhouette']}  in Other: {result['other']}"
    )
    print(
        f"over {seeds['n']} seeds: ARI mean {seeds['ari_mean']:.3f} (lowest {seeds['ari_min']:.3f}), "
        f"NMI mean {seeds['nmi_mean']:.3f} (lowest {seeds['nmi_min']:.3f})"
    )
    print(f"{'true theme':<28}{'precision':>10}{'recall':>8}{'groups':>8}")
    for theme, row in result["per_theme"].items():
        precision = "-" if row["precision"] is None else f"{row['precision']:.2f}"
        print(f"{theme:<28}{precision:>10}{row['recall']:>8.2f}{row['groups']:>8}")
    print("themes found (size: label):")
    for theme in result["themes"]:
        print(f"  {theme['size']:>4}: {theme['label']}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--seeds", type=int, default=5, help="seeds for the stability figures (default 5)")
    parser.add_argument(
        "--split", action="store_true", help="also score the tune and the held-out half of a stratified split"
    )
    parser.add_argument(
        "--scale", type=int, default=0, help="also time the automatic run on this many complaints"
    )
    args = parser.parse_args()
    texts, truth = load()
    true_k = len(set(truth))
    report = {
        "complaints": len(texts),
        "true_themes": true_k,
        "automatic_k": measure(texts, truth, None, args.seeds),
        "true_k": measure(texts, truth, true_k, args.seeds),
    }
    if args.split:
        report["split"] = split(texts, truth, args.seeds)
    if args.scale:
        report["scale"] = scale(texts, args.scale)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{len(texts)} labelled complaints in {true_k} themes ({DATA.name})")
    show("automatic k", report["automatic_k"])
    show(f"k = {true_k} (the number of true themes)", report["true_k"])
    for name, part in report.get("split", {}).items():
        show(f"{name} half ({part['complaints']}), automatic k", part["automatic_k"])
        show(f"{name} half ({part['complaints']}), k = {true_k}", part["true_k"])
    if args.scale:
        big = report["scale"]
        print(f"\n## scale: {big['complaints']:,} complaints, {big['k_found']} themes, {big['seconds']} s")


if __name__ == "__main__":
    main()
