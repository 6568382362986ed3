"""The package item a valid dose counts as, per region, from fulfilment.yaml beside this
module."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent


@cache
def _rules() -> dict[str, Any]:
    with (HERE / "fulfilment.yaml").open(encoding="utf-8") as f:
        data: dict[str, Any] = yaml.safe_load(f)
    return data


def version() -> str:
    return str(_rules()["version"])


def item_for(region: str | None) -> str | None:
    """The package item code a valid dose counts as in `region` (None: nothing)."""
    code = (_rules().get("regions") or {}).get(region or "")
    return str(code) if code else None
