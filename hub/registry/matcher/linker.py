"""The linker: candidates from an index, scored per resident, and the decision (link,
new, or new plus a review)."""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable

from hub.registry.matcher.compare import combine, compare, ids_conflict, looks_like_twins, same_id
from hub.registry.matcher.features import Features, blocking_keys
from hub.registry.matcher.model import Grade, LinkageModel

ResidentId = int | str  # the registry's resident key; the linker only compares them


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
        sharing: set[ResidentId] = set()  # residents with this record's phone
        phone = features.phone
        for resident_id, record in candidates:
            by_resident.setdefault(resident_id, []).append(record)
            if phone and record.phone == phone:
                sharing.add(resident_id)
        # Every resident with the phone is a candidate (the phone is a blocking key), so
        # this counts them: more than a household's worth and the phone proves nothing.
        common_phone = len(sharing) > self.model.shared_phone_residents
        found = [
            c
            for resident_id, records in by_resident.items()
            if (c := self._score(features, resident_id, records, name_frequency, common_phone))
            is not None
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
        self,
        f: Features,
        resident_id: ResidentId,
        records: list[Features],
        freq: float | None,
        common_phone: bool = False,
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
            c = compare(self.model, f, record, freq, common_phone=common_phone)
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
