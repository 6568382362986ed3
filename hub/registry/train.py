"""Re-estimate the linkage model's m/u probabilities with Splink on DuckDB (模型训练).

u comes from random sampling of record pairs, m from expectation maximisation over a
few blocking rules; no labels are needed. The comparison levels are the SQL twins of
those in `hub.registry.matching`, computed on the same `Features`, and the result is
written in the model file format that `LinkageModel.load` reads. Thresholds, prior
and the name frequency table are carried over from a base model, since a sample of
records cannot tell how large the registry will be.

    .venv/bin/python -m hub.registry.train records.jsonl out-model.json
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from hub.registry.matching import DEFAULT_MODEL_PATH, LEVELS, Features
from hub.registry.normalize import ymd

_NULL = "is_null_level"


def _level(label: str, sql: str, *, null: bool = False) -> dict[str, Any]:
    level: dict[str, Any] = {"sql_condition": sql, "label_for_charts": label}
    if null:
        level[_NULL] = True
    return level


def _equal(column: str) -> list[dict[str, Any]]:
    return [
        _level("NULL", f"{column}_l IS NULL OR {column}_r IS NULL", null=True),
        _level("EXACT", f"{column}_l = {column}_r"),
        _level("DIFFERENT", "ELSE"),
    ]


def comparison_levels() -> dict[str, list[dict[str, Any]]]:
    """Splink levels per comparison, in the order of `matching.LEVELS`, NULL first."""
    return {
        "name": [
            _level(
                "NULL",
                "name_l IS NULL OR name_r IS NULL OR placeholder_l <> placeholder_r",
                null=True,
            ),
            _level("EXACT", "name_l = name_r"),
            _level("PINYIN", "pinyin_l = pinyin_r"),
            _level(
                "FUZZY",
                "loose_l = loose_r OR (greatest(length(name_l), length(name_r)) >= 3"
                " AND levenshtein(name_l, name_r) <= 1)",
            ),
            _level("DIFFERENT", "ELSE"),
        ],
        "sex": [
            _level("NULL", "sex_l IS NULL OR sex_r IS NULL", null=True),
            _level("AGREE", "sex_l = sex_r"),
            _level("DIFFERENT", "ELSE"),
        ],
        "birth_date": [
            _level("NULL", "birth_l IS NULL OR birth_r IS NULL", null=True),
            _level("EXACT", "birth_l = birth_r"),
            _level(
                "SWAP",
                "substr(birth_l, 1, 4) = substr(birth_r, 1, 4)"
                " AND substr(birth_l, 5, 2) = substr(birth_r, 7, 2)"
                " AND substr(birth_l, 7, 2) = substr(birth_r, 5, 2)",
            ),
            _level("TYPO", "damerau_levenshtein(birth_l, birth_r) = 1"),
            _level("DIFFERENT", "ELSE"),
        ],
        "id_number": [
            _level("NULL", "id_any_l IS NULL OR id_any_r IS NULL", null=True),
            _level("EXACT", "id_any_l = id_any_r"),
            _level("CLOSE", "damerau_levenshtein(id_any_l, id_any_r) <= 1"),
            _level("DIFFERENT", "ELSE"),
        ],
        "phone": [
            _level(
                "NULL",
                "(phone_l IS NULL OR phone_r IS NULL) AND coalesce(phone_l = guardian_phone_r"
                " OR phone_r = guardian_phone_l OR guardian_phone_l = guardian_phone_r, false)"
                " = false",
                null=True,
            ),
            _level("EXACT", "phone_l = phone_r OR phone_local_l = phone_local_r"),
            _level(
                "GUARDIAN",
                "phone_l = guardian_phone_r OR phone_r = guardian_phone_l"
                " OR guardian_phone_l = guardian_phone_r",
            ),
            _level("DIFFERENT", "ELSE"),
        ],
        "address": [
            _level("NULL", "address_l IS NULL OR address_r IS NULL", null=True),
            _level("EXACT", "address_l = address_r OR (street_l = street_r AND unit_l = unit_r)"),
            _level("STREET", "street_l = street_r"),
            _level(
                "FUZZY",
                "levenshtein(address_l, address_r)"
                " <= 0.15 * greatest(length(address_l), length(address_r))",
            ),
            _level("DIFFERENT", "ELSE"),
        ],
        "insurance_card": _equal("insurance_card"),
        "health_record_no": _equal("health_record_no"),
        "birth_certificate_no": _equal("birth_certificate_no"),
        "mother_id": _equal("mother_id"),
    }


def _row(n: int, f: Features) -> dict[str, Any]:
    return {
        "unique_id": n,
        "name": f.name or None,
        "pinyin": f.pinyin or None,
        "loose": f.loose or None,
        "placeholder": f.is_placeholder,
        "sex": f.sex,
        "birth": ymd(f.birth) if f.birth else None,
        "id_any": f.id_number or f.id_invalid,
        "phone": f.phone,
        "phone_local": f.phone_local,
        "guardian_phone": f.guardian_phone,
        "address": f.address,
        "street": f.street,
        "unit": f.unit,
        "insurance_card": f.insurance_card,
        "health_record_no": f.health_record_no,
        "birth_certificate_no": f.birth_certificate_no,
        "mother_id": f.mother_id,
    }


def _clip(p: float | None, fallback: float) -> float:
    if p is None or not math.isfinite(p):
        return fallback
    return min(max(p, 1e-7), 1 - 1e-7)


def train(
    records_iter: Iterable[Mapping[str, Any]],
    out_path: str | Path,
    *,
    base_model: str | Path | None = None,
    max_pairs: float = 2e6,
    seed: int = 42,
    m_floor: float = 0.002,
    version: str | None = None,
) -> dict[str, Any]:
    """Estimate m/u from raw records (the linkage input format) and write a model file.

    Returns the model written. Levels Splink could not estimate (too few pairs) keep
    the base model's values; m is floored at `m_floor` so that no single disagreement
    (an insurance card typo the sample never showed) becomes an absolute veto.
    """
    import pandas as pd
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on
    from splink.comparison_library import CustomComparison

    rows = [_row(n, Features.from_record(r)) for n, r in enumerate(records_iter)]
    if len(rows) < 2:
        raise ValueError("need at least two records to train")
    with open(base_model or DEFAULT_MODEL_PATH, encoding="utf-8") as fh:
        base: dict[str, Any] = json.load(fh)

    levels = comparison_levels()
    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=[
            CustomComparison(list[Any](levels[name]), output_column_name=name) for name in LEVELS
        ],
        blocking_rules_to_generate_predictions=[block_on("birth"), block_on("id_any")],
        retain_intermediate_calculation_columns=False,
    )
    logging.getLogger("splink").setLevel(logging.WARNING)
    db_api = DuckDBAPI()
    frame = db_api.register(pd.DataFrame(rows))
    linker = Linker(frame, settings)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("id_any"), block_on("name", "birth")], recall=0.8
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=max_pairs, seed=seed)
    # Each session blocks on some fields and estimates m for all the others.
    for rule in (block_on("birth"), block_on("id_any"), block_on("pinyin"), block_on("phone")):
        linker.training.estimate_parameters_using_expectation_maximisation(
            rule, estimate_without_term_frequencies=True
        )
    trained = linker.misc.save_model_to_json()

    model: dict[str, Any] = json.loads(json.dumps(base))
    # Random pairs of a small sample contain true matches (a person has ~2 records),
    # which inflates u of the agreeing levels; take them out with the estimated match
    # rate, and floor u at what the sample can resolve.
    rate = float(trained.get("probability_two_random_records_match") or 0.0)
    pairs = len(rows) * (len(rows) - 1) / 2
    u_floor = max(1e-7, 1.0 / min(pairs, max_pairs))
    for comparison in trained["comparisons"]:
        name = comparison["output_column_name"]
        target = model["comparisons"][name]["levels"]
        estimated: dict[str, tuple[float, float]] = {}
        for level in comparison["comparison_levels"]:
            label = level.get("label_for_charts")
            if level.get(_NULL) or label not in target:
                continue
            m = _clip(level.get("m_probability"), target[label]["m"])
            u = _clip(level.get("u_probability"), target[label]["u"])
            u = max((u - rate * m) / (1 - rate), u_floor)
            estimated[label] = (max(m, m_floor), u)
        m_total = sum(m for m, _ in estimated.values())
        u_total = sum(u for _, u in estimated.values())
        for label, (m, u) in estimated.items():
            target[label] = {"m": round(m / m_total, 8), "u": float(f"{u / u_total:.6g}")}
    model["version"] = version or f"{dt.date.today():%Y-%m-%d}.splink"
    model["trained"] = {
        "by": "splink",
        "splink_version": _splink_version(),
        "records": len(rows),
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "base_model": base.get("version"),
        "probability_two_random_records_match": trained.get("probability_two_random_records_match"),
    }
    Path(out_path).write_text(json.dumps(model, ensure_ascii=False, indent=1), encoding="utf-8")
    return model


def _splink_version() -> str:
    import splink

    return str(getattr(splink, "__version__", "unknown"))


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Re-estimate the linkage model with Splink.")
    parser.add_argument("records", help="JSONL of source records")
    parser.add_argument("out", help="model file to write")
    parser.add_argument("--base", help="model to take thresholds and name frequencies from")
    args = parser.parse_args(argv)
    with open(args.records, encoding="utf-8") as fh:
        records = [json.loads(line) for line in fh if line.strip()]
    model = train(records, args.out, base_model=args.base)
    print(f"wrote {args.out} ({model['version']}, {len(records)} records)")


if __name__ == "__main__":
    main()
