"""`hub linkage train`: a new versioned model from the registry's own records, which the
matcher loads from HUB_LINKAGE_MODEL."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from hub.registry.linkfile import link_file
from hub.registry.matching import LinkageModel
from hub.registry.mpi import MatcherLinker
from hub.registry.training import train_from_registry

SAMPLE = Path("/work/shared/data/linkage-sample.jsonl")


@pytest.mark.skipif(not SAMPLE.exists(), reason="the shared linkage sample is not here")
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_train_from_the_registry_writes_a_model_the_hub_serves(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = asyncio.run(link_file(SAMPLE, tmp_path / "c.csv", db_url, parallel=False))
    assert report.records == 814
    path, model = asyncio.run(train_from_registry(db_url, tmp_path / "models", sample=600))
    assert path.exists() and path.parent == tmp_path / "models"
    assert model["version"] in path.name and model["trained"]["by"] == "splink"
    assert 0 < model["trained"]["records"] <= 600
    monkeypatch.setenv("HUB_LINKAGE_MODEL", str(path))
    linker = MatcherLinker.from_settings(None)
    assert linker.model.version == model["version"] == LinkageModel.load(path).version
