"""Comparing two records field by field (levels and weights), and the rules that hold
whatever the weights: ID numbers, mothers, twins."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from rapidfuzz import fuzz
from rapidfuzz.distance import OSA, Levenshtein

from hub.registry.matcher.features import Features
from hub.registry.matcher.model import LinkageModel
from hub.registry.normalize import date_relation


@dataclass(frozen=True, slots=True)
class Comparison:
    """Levels found for one pair of records (None: a side is missing) and their weights."""

    levels: dict[str, str | None]
    weights: dict[str, float]

    @property
    def weight(self) -> float:
        return combine(self.weights)


def combine(weights: Mapping[str, float]) -> float:
    """Total match weight. Fields are summed, except the family ones: siblings share
    the mother's number, the address and the guardian's phone, so once the mother's
    number agrees the other two add only a little (they are not independent)."""
    total = sum(weights.values())
    mother = weights.get("mother_id", 0.0)
    if mother > 0:
        family = [w for k in ("address", "guardian") if (w := weights.get(k, 0.0)) > 0]
        total -= 0.75 * sum(family)
    return total


def name_level(a: Features, b: Features) -> str | None:
    if not a.name or not b.name:
        return None
    if a.is_placeholder != b.is_placeholder:
        return None  # 李娜之子 vs the child's real name says nothing either way
    if a.name == b.name:
        return "EXACT"
    if a.is_placeholder and a.placeholder_parent == b.placeholder_parent:
        return "DIFFERENT"  # 李娜之子 vs 李娜之女: another child of the same mother
    if a.pinyin == b.pinyin:
        return "PINYIN"
    if a.loose == b.loose:
        return "FUZZY"
    longest = max(len(a.name), len(b.name))
    if longest >= 3 and Levenshtein.distance(a.name, b.name, score_cutoff=1) <= 1:
        return "FUZZY"
    if longest >= 3 and sorted(a.pinyin.split()) == sorted(b.pinyin.split()):
        return "FUZZY"  # characters exchanged
    return "DIFFERENT"


def _birth_level(a: Features, b: Features) -> str | None:
    if a.birth is None or b.birth is None:
        return None
    return date_relation(a.birth, b.birth).value


def _id_level(a: Features, b: Features) -> str | None:
    x, y = a.id_number or a.id_invalid, b.id_number or b.id_invalid
    if not x or not y:
        return None
    if x == y:
        return "EXACT"
    # One wrong or two swapped digits. Not two: twins' numbers differ only in the
    # sequence digit and the check character.
    if OSA.distance(x, y, score_cutoff=1) <= 1:
        return "CLOSE"
    return "DIFFERENT"


def _phone_level(a: Features, b: Features) -> str | None:
    if a.phone and b.phone:
        if a.phone == b.phone or a.phone_local == b.phone_local:
            return "EXACT"
    if (a.phone and a.phone in (b.guardian_phone,)) or (b.phone and b.phone in (a.guardian_phone,)):
        return "GUARDIAN"
    if a.guardian_phone and a.guardian_phone == b.guardian_phone:
        return "GUARDIAN"
    if a.phone and b.phone:
        return "DIFFERENT"
    return None


def _address_level(a: Features, b: Features) -> str | None:
    if not a.address or not b.address:
        return None
    if a.address == b.address:
        return "EXACT"
    if a.street and a.street == b.street:
        if a.unit and a.unit == b.unit:
            return "EXACT"
        return "STREET"
    if fuzz.ratio(a.address, b.address, score_cutoff=85) >= 85:
        return "FUZZY"
    return "DIFFERENT"


def _equal_level(x: str | None, y: str | None) -> str | None:
    if not x or not y:
        return None
    return "EXACT" if x == y else "DIFFERENT"


def compare(
    model: LinkageModel,
    a: Features,
    b: Features,
    name_frequency: float | None = None,
    *,
    common_phone: bool = False,
) -> Comparison:
    """Fellegi–Sunter comparison of two records: levels and match weight per field.

    name_frequency: how common `a.name` is in the registry, if known (see NameCounts).
    common_phone: `a.phone` is shared by more residents than a household (Linker.rank).
    A guardian-phone agreement is kept under its own key, "guardian", so `combine`
    can treat it as family evidence.
    """
    phone = _phone_level(a, b)
    levels: dict[str, str | None] = {
        "name": name_level(a, b),
        "sex": None if not a.sex or not b.sex else ("AGREE" if a.sex == b.sex else "DIFFERENT"),
        "birth_date": _birth_level(a, b),
        "id_number": _id_level(a, b),
        "phone": phone,
        "address": _address_level(a, b),
        "insurance_card": _equal_level(a.insurance_card, b.insurance_card),
        "health_record_no": _equal_level(a.health_record_no, b.health_record_no),
        "birth_certificate_no": _equal_level(a.birth_certificate_no, b.birth_certificate_no),
        "mother_id": _equal_level(a.mother_id, b.mother_id),
    }
    table = model.weights
    weights = {name: table[name][level] for name, level in levels.items() if level is not None}
    if phone == "GUARDIAN":
        weights["guardian"] = weights.pop("phone")
    elif phone == "EXACT" and common_phone:
        weights["phone"] = 0.0  # shared by too many residents to tell anyone apart
    if levels["name"] in ("EXACT", "PINYIN"):
        weights["name"] += model.name_tf_adjustment(a.name, name_frequency)
    return Comparison(levels, weights)


# ---------------------------------------------------------------------------
# Rules


def ids_conflict(a: Features, b: Features) -> bool:
    """Two different valid ID numbers, or two different valid mothers' numbers."""
    if a.id_number and b.id_number and a.id_number != b.id_number:
        return True
    return bool(a.mother_id_valid and b.mother_id_valid and a.mother_id != b.mother_id)


def same_id(a: Features, b: Features, name: str | None) -> bool:
    """Deterministic link: same consistent valid ID and the names do not disagree."""
    return bool(a.id_number and a.id_number == b.id_number and name != "DIFFERENT")


def _minor(birth: dt.date | None) -> bool:
    """Under 18: children live with their twin; adults sharing an address and a birth
    date with a one-character name difference are far more often one person."""
    return birth is not None and (dt.date.today() - birth).days < 18 * 365


def looks_like_twins(a: Features, b: Features, c: Comparison) -> bool:
    """Same family and birth date, but another child (双胞胎).

    Twins are often named alike (万家豪/万家乐), so with a shared family (the mother, or
    for children the home) any name that is not the same or a homophone counts as
    another child, and so does a stand-in name (李娜之女) of the other sex; a similar
    name of the other sex does even without a family link.
    """
    levels = c.levels
    if levels["birth_date"] != "EXACT":
        return False
    identifiers = ("id_number", "insurance_card", "health_record_no", "birth_certificate_no")
    if any(levels[k] == "EXACT" for k in identifiers):
        return False  # a personal identifier agrees: one child, not two
    name, sex_differs = levels["name"], levels["sex"] == "DIFFERENT"
    if sex_differs and name in ("FUZZY", "DIFFERENT"):
        return True  # 陆华伟 (女) / 陆华帆 (男): a name typo and a sex error at once is rarer
    same_mother = levels["mother_id"] == "EXACT" or (
        levels["phone"] == "GUARDIAN"
        or bool(a.guardian_name and a.guardian_name == b.guardian_name)
    )
    if same_mother:
        return name in ("FUZZY", "DIFFERENT") or (name is None and sex_differs)
    household = levels["address"] in ("EXACT", "STREET") or levels["phone"] == "EXACT"
    if household and _minor(a.birth):
        return name in ("FUZZY", "DIFFERENT")
    return False
