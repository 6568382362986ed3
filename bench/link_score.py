"""Pairwise precision / recall / F1 of a `hub link` clusters CSV against a truth CSV.

    .venv/bin/python bench/link_score.py clusters.csv /work/shared/data/linkage-sample-truth.csv

clusters: source,source_id,person_id (what `hub link --out` writes);
truth: source,source_id,true_person. Records missing from the clusters count as
singletons (every true pair involving them is missed).
"""

from __future__ import annotations

import argparse
import csv
from collections import defaultdict
from collections.abc import Iterable


def pairs(clusters: Iterable[list[str]]) -> int:
    return sum(len(m) * (len(m) - 1) // 2 for m in clusters)


def score(clusters_csv: str, truth_csv: str) -> dict[str, float]:
    with open(truth_csv, encoding="utf-8") as fh:
        truth = {(r["source"], r["source_id"]): r["true_person"] for r in csv.DictReader(fh)}
    with open(clusters_csv, encoding="utf-8") as fh:
        found = {(r["source"], r["source_id"]): r["person_id"] for r in csv.DictReader(fh)}
    by_pred: dict[str, list[str]] = defaultdict(list)
    by_true: dict[str, list[str]] = defaultdict(list)
    both: dict[tuple[str, str], list[str]] = defaultdict(list)
    for key, person in truth.items():
        by_true[person].append(key[1])
        if key in found:
            by_pred[found[key]].append(key[1])
            both[(found[key], person)].append(key[1])
    predicted, actual, correct = (
        pairs(by_pred.values()),
        pairs(by_true.values()),
        pairs(both.values()),
    )
    precision = correct / predicted if predicted else 1.0
    recall = correct / actual if actual else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"records": len(truth), "linked": len(found.keys() & truth.keys()),
            "true_pairs": actual, "predicted_pairs": predicted, "correct_pairs": correct,
            "precision": precision, "recall": recall, "f1": f1}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("clusters")
    parser.add_argument("truth")
    args = parser.parse_args()
    s = score(args.clusters, args.truth)
    print(f"records={s['records']} (in clusters {s['linked']}) pairs true={s['true_pairs']} "
          f"predicted={s['predicted_pairs']} correct={s['correct_pairs']}")  # fmt: skip
    print(f"precision={s['precision']:.4f} recall={s['recall']:.4f} F1={s['f1']:.4f}")


if __name__ == "__main__":
    main()
