"""The Fellegi–Sunter model: comparison levels, m/u weights, thresholds and name term
frequencies, read from a versioned JSON file (hub/registry/linkage-model.json)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

DEFAULT_MODEL_PATH = Path(__file__).resolve().parent.parent / "linkage-model.json"


class Grade(StrEnum):
    CERTAIN = "CERTAIN"
    PROBABLE = "PROBABLE"
    POSSIBLE = "POSSIBLE"
    UNLIKELY = "UNLIKELY"


# Comparison levels, most similar first; the model file must give m and u for each.
LEVELS: dict[str, tuple[str, ...]] = {
    "name": ("EXACT", "PINYIN", "FUZZY", "DIFFERENT"),
    "sex": ("AGREE", "DIFFERENT"),
    "birth_date": ("EXACT", "SWAP", "TYPO", "DIFFERENT"),
    "id_number": ("EXACT", "CLOSE", "DIFFERENT"),
    "phone": ("EXACT", "GUARDIAN", "DIFFERENT"),
    "address": ("EXACT", "STREET", "FUZZY", "DIFFERENT"),
    "insurance_card": ("EXACT", "DIFFERENT"),
    "health_record_no": ("EXACT", "DIFFERENT"),
    "birth_certificate_no": ("EXACT", "DIFFERENT"),
    "mother_id": ("EXACT", "DIFFERENT"),
}


@dataclass(slots=True)
class NameFrequency:
    """Term frequencies for names (词频), so 王芳 agreeing weighs less than 覃平鹏.

    The frequency of a full name is looked up, else estimated as surname frequency x
    given-name frequency; the adjustment to the EXACT/PINYIN weight is capped.
    """

    surname: dict[str, float] = field(default_factory=dict)
    given: dict[str, float] = field(default_factory=dict)
    full: dict[str, float] = field(default_factory=dict)
    default_surname: float = 0.001
    default_given: tuple[float, float] = (0.0005, 0.00003)  # 1-char, 2+-char given names
    # A rare name may gain little (a decoy with the same rare name is what hurts), a
    # common one may lose more.
    cap_up_bits: float = 1.0
    cap_down_bits: float = 4.0
    mean: float = 2e-5  # frequency of an agreeing name between two random people

    def of(self, name: str) -> float:
        if name in self.full:
            return self.full[name]
        head, rest = (name[:2], name[2:]) if name[:2] in self.surname else (name[:1], name[1:])
        given = self.given.get(rest, self.default_given[0 if len(rest) <= 1 else 1])
        return self.surname.get(head, self.default_surname) * given


@dataclass(slots=True)
class LinkageModel:
    """Fellegi–Sunter parameters: log2(m/u) per comparison level, thresholds in bits."""

    version: str
    weights: dict[str, dict[str, float]]
    name_u_exact: float
    name_frequency: NameFrequency
    prior_log2_odds: float
    certain: float
    probable: float
    possible: float
    margin: float
    source: dict[str, Any] = field(default_factory=dict)
    # A phone more residents than a household share is a clinic's or a filler: no evidence.
    shared_phone_residents: int = 6

    @classmethod
    def load(cls, path: str | Path | None = None) -> LinkageModel:
        with open(path or DEFAULT_MODEL_PATH, encoding="utf-8") as fh:
            return cls.from_dict(json.load(fh))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LinkageModel:
        if data.get("format") != "fdhub-linkage-model/1":
            raise ValueError(f"not a linkage model file: format={data.get('format')!r}")
        weights: dict[str, dict[str, float]] = {}
        for name, levels in LEVELS.items():
            given = data["comparisons"][name]["levels"]
            weights[name] = {
                level: math.log2(given[level]["m"] / given[level]["u"]) for level in levels
            }
        nf = data.get("name_frequency", {})
        t = data["thresholds"]
        return cls(
            version=data["version"],
            weights=weights,
            name_u_exact=data["comparisons"]["name"]["levels"]["EXACT"]["u"],
            name_frequency=NameFrequency(
                surname=nf.get("surname", {}),
                given=nf.get("given", {}),
                full=nf.get("full", {}),
                default_surname=nf.get("default_surname", 0.001),
                default_given=(*nf.get("default_given", (0.0005, 0.00003))[:2],),
                cap_up_bits=nf.get("cap_up_bits", 1.0),
                cap_down_bits=nf.get("cap_down_bits", 4.0),
                mean=nf.get("mean", 2e-5),
            ),
            prior_log2_odds=data["prior_log2_odds"],
            certain=t["certain"],
            probable=t["probable"],
            possible=t["possible"],
            margin=t.get("margin", 8.0),
            shared_phone_residents=int(t.get("shared_phone_residents", 6)),
            source=dict(data.get("trained", {})),
        )

    def grade(self, weight: float) -> Grade:
        if weight >= self.certain:
            return Grade.CERTAIN
        if weight >= self.probable:
            return Grade.PROBABLE
        if weight >= self.possible:
            return Grade.POSSIBLE
        return Grade.UNLIKELY

    def probability(self, weight: float) -> float:
        x = weight + self.prior_log2_odds
        return 1.0 / (1.0 + 2.0 ** (-x)) if x > -60 else 0.0

    def name_tf_adjustment(self, name: str, observed: float | None = None) -> float:
        """Bits to add to a name agreement: negative for common names, a little positive
        for rare ones.

        The table says how common a name is nationally relative to the table's own mean
        (王芳 ~10x the mean); `observed`, the name's share of the registry's residents
        when the index knows it, says how common it is here relative to u(EXACT). The
        more cautious of the two wins.
        """
        nf = self.name_frequency
        bits = math.log2(nf.mean / nf.of(name))
        if observed is not None and observed > 0:
            bits = min(bits, math.log2(self.name_u_exact / observed))
        return max(-nf.cap_down_bits, min(nf.cap_up_bits, bits))
