"""The maternal-child system's local codes and fulfilment items, read from the versioned
YAML files beside this module."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True, slots=True)
class Code:
    code: str
    display: str


@dataclass(frozen=True, slots=True)
class MaternalCodes:
    version: str
    tables: dict[str, dict[str, Code]]
    high_risk: frozenset[str]

    def lookup(self, table: str, local: str) -> Code | None:
        return self.tables.get(table, {}).get(str(local).strip())

    def display(self, table: str, code: str | None) -> str | None:
        return next(
            (c.display for c in self.tables.get(table, {}).values() if c.code == code), None
        )


@cache
def codes() -> MaternalCodes:
    data = _load("codes.yaml")
    tables = {
        name: {str(k): Code(str(v["code"]), str(v.get("display", ""))) for k, v in entries.items()}
        for name, entries in data.items()
        if isinstance(entries, dict)
    }
    return MaternalCodes(str(data["version"]), tables, frozenset(data.get("high_risk") or ()))


@cache
def _fulfilment() -> dict[str, Any]:
    return _load("fulfilment.yaml")


def fulfilment_version() -> str:
    return str(_fulfilment()["version"])


def item_for(region: str | None, kind: str, *, age_months: int | None = None) -> str | None:
    """The package item code a record of `kind` counts as in `region` (None: nothing)."""
    rule = (_fulfilment()["regions"].get(region or "") or {}).get(kind)
    if isinstance(rule, dict):
        by_age = rule.get("by_age_months") or {}
        found = by_age.get(age_months) if age_months is not None else None
        return str(found or rule.get("default")) if (found or rule.get("default")) else None
    return str(rule) if rule else None


def _load(name: str) -> dict[str, Any]:
    with (HERE / name).open(encoding="utf-8") as f:
        data: dict[str, Any] = yaml.safe_load(f)
    return data
