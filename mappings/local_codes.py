"""Versioned maps of source systems' local codes to standard ones (data in YAML files).

`CodeMap.load("his/lab-codes.yaml")` reads `mappings/his/lab-codes.yaml`. Lookups are
by (coding system, code) as the source sent them; a miss returns None and the caller
keeps the local code and reports it — nothing is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True, slots=True)
class Mapped:
    code: str  # the standard code (LOINC)
    display: str
    unit: str | None
    system: str = "LOINC"


@dataclass(frozen=True, slots=True)
class CodeMap:
    name: str
    version: str
    entries: dict[str, Mapped]

    def lookup(self, system: str, code: str) -> Mapped | None:
        return self.entries.get(f"{system.strip().upper()}:{code.strip().upper()}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CodeMap:
        entries = {}
        for key, value in (data.get("codes") or {}).items():
            system, _, code = str(key).partition(":")
            entries[f"{system.strip().upper()}:{code.strip().upper()}"] = Mapped(
                str(value["loinc"]), str(value.get("display", "")), value.get("unit")
            )
        return cls(str(data.get("name", "")), str(data.get("version", "")), entries)

    @staticmethod
    @cache
    def load(relative: str) -> CodeMap:
        with (HERE / relative).open(encoding="utf-8") as f:
            return CodeMap.from_dict(yaml.safe_load(f))
