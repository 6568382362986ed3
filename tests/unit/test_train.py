"""Re-estimating the linkage model with Splink writes a model the matcher can load."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hub.registry.matching import LEVELS, LinkageModel
from hub.registry.train import train

SAMPLE = Path("/work/shared/data/linkage-sample.jsonl")


@pytest.mark.skipif(not SAMPLE.exists(), reason="no sample data")
def test_train_on_sample_writes_loadable_model(tmp_path: Path) -> None:
    with SAMPLE.open(encoding="utf-8") as fh:
        records = [json.loads(line) for line in fh]
    out = tmp_path / "model.json"
    written = train(records, out)
    model = LinkageModel.load(out)
    assert model.version == written["version"]
    assert written["trained"]["by"] == "splink"
    assert written["trained"]["records"] == len(records)
    for name, levels in LEVELS.items():
        assert set(model.weights[name]) == set(levels)
        # agreement must count for a match, disagreement against one
        assert model.weights[name][levels[0]] > 0 > model.weights[name][levels[-1]]
    assert model.weights["birth_date"]["EXACT"] > model.weights["birth_date"]["TYPO"]
    assert model.weights["name"]["EXACT"] > model.weights["name"]["DIFFERENT"]


def test_train_needs_records(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        train([], tmp_path / "model.json")
