"""Online record linkage for the master patient index (主索引, MPI).

A source record becomes `Features` once (normalised, pinyin cached); `blocking_keys`
names the index entries under which candidate residents are found, so the cost per
record stays flat as the registry grows. `Linker` then decides in two tiers:

1. deterministic — a valid ID number (身份证号) consistent with the record's birth date
   and name is CERTAIN; two different valid ID numbers, or two different mothers' ID
   numbers, are never the same person; pairs a person has separated stay separated;
   twins (双胞胎: same mother, same birth date, different name or sex) are never
   merged automatically;
2. probabilistic — Fellegi–Sunter weights from `LinkageModel` (a versioned JSON file,
   re-estimated by `hub.registry.train`), compared against each of a candidate
   resident's source records, keeping the best level per field; a name's weight is
   lowered when the name is common (term frequency); a best candidate must clearly
   lead any other before it is linked.

Pure Python, no database: the SQL-backed index implements `CandidateIndex`, or
fetches candidates itself and calls `Linker.rank` and `Linker.decide`.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field, fields
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from rapidfuzz import fuzz
from rapidfuzz.distance import OSA, Levenshtein

from hub.registry.idnumber import contradictions
from hub.registry.normalize import (
    DateRelation,
    clean_identifier,
    date_relation,
    normalize_address,
    normalize_id,
    normalize_name,
    normalize_phone,
    normalize_sex,
    parse_date,
    ymd,
)

DEFAULT_MODEL_PATH = Path(__file__).with_name("linkage-model.json")
_MOTHER = frozenset({"母亲", "母", "妈妈", "mother", "MTH", "MOTHER"})

ResidentId = int | str  # the registry's resident key; the linker only compares them

# ---------------------------------------------------------------------------
# Features


@dataclass(slots=True)
class Features:
    """What linkage needs of one source record, computed once (比对特征).

    id_number is set only for a valid ID consistent with the record (birth date equal,
    or off by a typo/swap). An invalid ID (typo) goes to id_invalid and is compared,
    never trusted; a valid ID contradicting the record's birth date (the mother's
    number on a baby's record) goes to id_foreign and is not compared at all. With a
    trusted ID, birth date and sex are taken from it.
    """

    record_key: str = ""
    name: str = ""
    pinyin: str = ""
    loose: str = ""
    placeholder_parent: str | None = None
    sex: str | None = None
    birth: dt.date | None = None
    id_number: str | None = None
    id_invalid: str | None = None
    id_foreign: str | None = None
    phone: str | None = None
    phone_local: str | None = None
    address: str | None = None
    street: str | None = None
    unit: str | None = None
    insurance_card: str | None = None
    health_record_no: str | None = None
    birth_certificate_no: str | None = None
    mother_id: str | None = None
    mother_id_valid: bool = False
    guardian_name: str | None = None
    guardian_phone: str | None = None

    @classmethod
    def from_record(cls, record: Mapping[str, Any] | object) -> Features:
        """From the input format (source, source_id, name, sex, birth_date, id_number,
        phone, address, insurance_card, health_record_no, birth_certificate_no,
        mother_id_number, guardian_name, guardian_phone, guardian_relation,
        guardian_id_number), as a mapping or an object with those attributes
        (`hub.registry.records.ResidentRecord`); absent or empty means unknown."""

        def get(key: str) -> Any:
            if isinstance(record, Mapping):
                return record.get(key)
            return getattr(record, key, None)

        name = normalize_name(get("name"))
        sex = normalize_sex(get("sex")) or name.placeholder_sex
        birth = parse_date(get("birth_date"))
        id_number = id_invalid = id_foreign = None
        number = normalize_id(get("id_number"))
        if number.valid:
            clash = contradictions(number, birth_date=birth, sex=None)
            assert number.birth_date is not None
            if not clash or (
                birth is not None
                and date_relation(birth, number.birth_date) is not DateRelation.DIFFERENT
            ):
                # The check character vouches for the number's digits, so its birth
                # date and sex beat a mistyped date or sex field.
                id_number = number.value
                birth = number.birth_date
                sex = number.sex
            else:
                id_foreign = number.value  # e.g. the mother's number on a baby's record
        elif number.value:
            id_invalid = number.value
        phone = normalize_phone(get("phone"))
        address = normalize_address(get("address"))
        mother_raw = get("mother_id_number")
        if not mother_raw and str(get("guardian_relation") or "").strip() in _MOTHER:
            mother_raw = get("guardian_id_number")
        mother = normalize_id(mother_raw)
        guardian_phone = normalize_phone(get("guardian_phone"))
        guardian = normalize_name(get("guardian_name")).text or name.placeholder_parent
        source, source_id = get("source"), get("source_id")
        return cls(
            record_key=f"{source}:{source_id}" if source or source_id else "",
            name=name.text,
            pinyin=name.pinyin,
            loose=name.loose,
            placeholder_parent=name.placeholder_parent,
            sex=sex,
            birth=birth,
            id_number=id_number,
            id_invalid=id_invalid,
            id_foreign=id_foreign,
            phone=phone.value if phone and phone.usable else None,
            phone_local=phone.local if phone and phone.usable else None,
            address=address.text if address else None,
            street=address.street if address else None,
            unit=address.unit if address else None,
            insurance_card=clean_identifier(get("insurance_card")),
            health_record_no=clean_identifier(get("health_record_no")),
            birth_certificate_no=clean_identifier(get("birth_certificate_no")),
            mother_id=mother.value or None,
            mother_id_valid=mother.valid,
            guardian_name=guardian or None,
            guardian_phone=guardian_phone.value if guardian_phone else None,
        )

    @property
    def is_placeholder(self) -> bool:
        return self.placeholder_parent is not None

    @property
    def is_provisional(self) -> bool:
        """A newborn known only through the mother (no own ID): a provisional identity."""
        return self.id_number is None and self.mother_id is not None and self.birth is not None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; None fields are left out to keep stored rows small."""
        # Not asdict(): it deep-copies, and this runs for every stored record.
        out = {k: v for k in _FEATURE_FIELDS if (v := getattr(self, k)) is not None and v != ""}
        if self.birth is not None:
            out["birth"] = self.birth.isoformat()
        if not self.mother_id_valid:
            out.pop("mother_id_valid", None)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Features:
        values = dict(data)
        if isinstance(values.get("birth"), str):
            values["birth"] = dt.date.fromisoformat(values["birth"])
        return cls(**values)


_FEATURE_FIELDS = tuple(f.name for f in fields(Features))


def blocking_keys(f: Features) -> list[str]:
    """Index keys under which candidates for `f` are looked up (and `f` is stored).

    Each key is narrow (a handful of residents even in a large registry) and each one
    survives a different kind of error, so a true match shares at least one key.
    """
    keys: list[str] = []
    for ident in (f.id_number, f.id_invalid):
        if ident:
            keys.append(f"id:{ident}")
    if f.insurance_card:
        keys.append(f"ic:{f.insurance_card}")
    if f.health_record_no:
        keys.append(f"hr:{f.health_record_no}")
    if f.birth_certificate_no:
        keys.append(f"bc:{f.birth_certificate_no}")
    if f.phone:
        keys.append(f"ph:{f.phone}")
    if f.mother_id:
        keys.append(f"mo:{f.mother_id}")  # siblings are few; survives birth-date typos
    if f.guardian_name and f.birth:
        keys.append(f"gb:{f.guardian_name}:{ymd(f.birth)}")
    if f.birth and f.street:
        keys.append(f"bs:{ymd(f.birth)}:{f.street}")  # name changed or a stand-in name
    if f.pinyin and not f.is_placeholder:
        given = f.pinyin.partition(" ")[2]
        if f.birth:
            b = f.birth
            day_month = "".join(sorted((f"{b.month:02d}", f"{b.day:02d}")))
            keys.append(f"py:{f.pinyin}:{b.year}")  # homophones, traditional, day typos
            keys.append(f"nd:{f.name}:{day_month}")  # year typos, day/month swaps
            keys.append(f"sb:{f.pinyin.partition(' ')[0]}:{ymd(b)}")  # given-name typos
            if given:
                keys.append(f"gv:{given}:{ymd(b)}")  # surname typos
        if f.street:
            keys.append(f"ns:{f.pinyin}:{f.street}")  # birth date badly wrong
    return keys


# ---------------------------------------------------------------------------
# Model


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


# ---------------------------------------------------------------------------
# Comparison


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
    model: LinkageModel, a: Features, b: Features, name_frequency: float | None = None
) -> Comparison:
    """Fellegi–Sunter comparison of two records: levels and match weight per field.

    name_frequency: how common `a.name` is in the registry, if known (see NameCounts).
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


# ---------------------------------------------------------------------------
# Index


class CandidateIndex(Protocol):
    """Where candidate residents are found: each stored record under its blocking keys."""

    def add(self, resident_id: ResidentId, features: Features) -> None:
        """Store a source record of `resident_id` under `blocking_keys(features)`."""
        ...

    def candidates(self, keys: Iterable[str]) -> Iterable[tuple[ResidentId, Features]]:
        """Every record of every resident that has a record under one of the keys.

        All of a candidate resident's records, not only those sharing a key: vetoes
        (another valid ID number) must see them all.
        """
        ...


@runtime_checkable
class NameCounts(Protocol):
    """Optional: an index that counts residents by name, for term-frequency weights."""

    def residents_named(self, name: str) -> int:
        """How many distinct residents have a record with this (normalised) name."""
        ...

    def resident_count(self) -> int: ...


class InMemoryIndex:
    """Keys -> residents, residents -> records; for tests, benchmarks and re-linking."""

    def __init__(self) -> None:
        self._by_key: dict[str, set[ResidentId]] = {}
        self._records: dict[ResidentId, list[Features]] = {}
        self._named: dict[str, set[ResidentId]] = {}
        self.records = 0

    def add(self, resident_id: ResidentId, features: Features) -> None:
        for key in blocking_keys(features):
            self._by_key.setdefault(key, set()).add(resident_id)
        self._records.setdefault(resident_id, []).append(features)
        if features.name:
            self._named.setdefault(features.name, set()).add(resident_id)
        self.records += 1

    def candidates(self, keys: Iterable[str]) -> Iterable[tuple[ResidentId, Features]]:
        seen: set[ResidentId] = set()
        for key in keys:
            for resident_id in self._by_key.get(key, ()):
                if resident_id not in seen:
                    seen.add(resident_id)
                    for record in self._records[resident_id]:
                        yield resident_id, record

    def residents_named(self, name: str) -> int:
        return len(self._named.get(name, ()))

    def resident_count(self) -> int:
        return len(self._records)

    def reassign(self, old: ResidentId, new: ResidentId) -> None:
        """After a merge: records of `old` now belong to `new`."""
        for residents in (*self._by_key.values(), *self._named.values()):
            if old in residents:
                residents.discard(old)
                residents.add(new)
        self._records.setdefault(new, []).extend(self._records.pop(old, []))


# ---------------------------------------------------------------------------
# Linker


class Outcome(StrEnum):
    LINKED = "LINKED"  # attach to an existing resident
    NEW = "NEW"  # create a resident
    REVIEW = "REVIEW"  # create a resident and a duplicate-review item (疑似重复)


@dataclass(frozen=True, slots=True)
class Candidate:
    resident_id: ResidentId
    score: float  # posterior probability of a match, 0..1
    grade: Grade
    weight: float  # match weight in bits
    reason: str = ""  # "id", "twins", "probabilistic"


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: Outcome
    resident_id: ResidentId | None
    candidates: list[Candidate]
    provisional: bool = False  # a newborn known only through the mother (临时身份)


Separated = Callable[[str, ResidentId], bool]


class Linker:
    """Match a record against the index and decide: link, new, or new + review.

    separated(record_key, resident_id) tells whether a person has split that record
    from that resident; such pairs are never linked again. A collection of
    (record_key, resident_id) pairs works too.

    With an index, `match`/`link` look candidates up themselves. Without one (an
    async SQL repository), fetch all records of the residents sharing a key of
    `blocking_keys(features)` and call `rank` and `decide`, which are pure.
    """

    min_residents_for_counts = 200

    def __init__(
        self,
        model: LinkageModel,
        index: CandidateIndex | None = None,
        separated: Separated | Collection[tuple[str, ResidentId]] | None = None,
    ) -> None:
        self.model = model
        self.index = index
        if separated is None:
            self._separated: Separated = lambda record, resident: False
        elif callable(separated):
            self._separated = separated
        else:
            pairs = frozenset(separated)
            self._separated = lambda record, resident: (record, resident) in pairs

    def match(self, features: Features, count: int = 5) -> list[Candidate]:
        """The best `count` candidate residents from the index, best first."""
        if self.index is None:
            raise RuntimeError("no index: fetch candidates and call rank()")
        found = self.index.candidates(blocking_keys(features))
        return self.rank(features, found, count, name_frequency=self._name_frequency(features))

    def link(self, features: Features) -> Decision:
        return self.decide(features, self.match(features))

    def rank(
        self,
        features: Features,
        candidates: Iterable[tuple[ResidentId, Features]],
        count: int = 5,
        *,
        name_frequency: float | None = None,
    ) -> list[Candidate]:
        """Score candidate residents given as (resident_id, record) pairs, all records
        of each resident; vetoed and separated residents are left out. Best first.

        name_frequency: share of other residents bearing `features.name`, if known.
        """
        by_resident: dict[ResidentId, list[Features]] = {}
        for resident_id, record in candidates:
            by_resident.setdefault(resident_id, []).append(record)
        found = [
            c
            for resident_id, records in by_resident.items()
            if (c := self._score(features, resident_id, records, name_frequency)) is not None
        ]
        found.sort(key=lambda c: c.weight, reverse=True)
        return found[:count]

    def decide(self, features: Features, found: list[Candidate]) -> Decision:
        """LINKED to the best resident if it is CERTAIN or PROBABLE and no other
        candidate comes close (within the model's margin, in bits): a namesake born a
        few days apart or a twin makes the evidence ambiguous, and a person decides.
        REVIEW when something is at least POSSIBLE, else NEW."""
        provisional = features.is_provisional
        linkable = [c for c in found if c.grade in (Grade.CERTAIN, Grade.PROBABLE)]
        if linkable:
            top = linkable[0]
            rivals = [c for c in found if c is not top and c.grade is not Grade.UNLIKELY]
            rival = rivals[0] if rivals else None
            if rival is None or (
                (top.reason == "id" and rival.reason != "id")
                or top.weight - rival.weight >= self.model.margin
            ):
                return Decision(Outcome.LINKED, top.resident_id, found, provisional)
            return Decision(Outcome.REVIEW, None, found, provisional)
        if any(c.grade is Grade.POSSIBLE for c in found):
            return Decision(Outcome.REVIEW, None, found, provisional)
        return Decision(Outcome.NEW, None, found, provisional)

    def _name_frequency(self, features: Features) -> float | None:
        """Share of *other* residents bearing this name (the candidate itself excluded)."""
        name = features.name
        if not name or not isinstance(self.index, NameCounts):
            return None
        total = self.index.resident_count()
        if total < self.min_residents_for_counts:
            return None  # too few residents to say a name is common
        return max(self.index.residents_named(name) - 1, 0) / total

    def _score(
        self, f: Features, resident_id: ResidentId, records: list[Features], freq: float | None
    ) -> Candidate | None:
        """Compare with each of the resident's records. Vetoes hold if any record
        triggers them; evidence is the best level per field over the records, so a
        field missing from one record is taken from another."""
        if f.record_key and self._separated(f.record_key, resident_id):
            return None
        best: dict[str, float] = {}
        certain = twins = False
        for record in records:
            if ids_conflict(f, record):
                return None  # one resident never holds two people's numbers
            c = compare(self.model, f, record, freq)
            for name, w in c.weights.items():
                if w > best.get(name, -math.inf):
                    best[name] = w
            certain = certain or same_id(f, record, c.levels["name"])
            twins = twins or looks_like_twins(f, record, c)
        weight = combine(best)
        if certain:
            weight = max(weight, self.model.certain)
            return Candidate(resident_id, 1.0, Grade.CERTAIN, weight, "id")
        grade = self.model.grade(weight)
        reason = "probabilistic"
        if twins and grade in (Grade.CERTAIN, Grade.PROBABLE):
            grade, reason = Grade.POSSIBLE, "twins"
        return Candidate(resident_id, self.model.probability(weight), grade, weight, reason)
