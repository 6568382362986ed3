"""`MatcherLinker`: the probabilistic matcher (hub.registry.matching) behind the registry's
`Linker` seam, over the SQL candidate index (hub.registry.mpi_index).

Per record: compute `Features`, fetch every record of every resident sharing a blocking
key with ONE query, then the pure `Linker.rank` and `Linker.decide`. Bulk linking
(hub.registry.bulk) fetches candidates for many records at once but decides through the
same `rank_and_decide`, so the CLI and the API cannot disagree.
"""

from __future__ import annotations

import os
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.registry import matching, mpi_index
from hub.registry.linking import Candidate, LinkDecision, LinkOutcome, MatchGrade
from hub.registry.matching import Features, Grade, LinkageModel, ResidentId
from hub.registry.models import DuplicateReview, Resident, SourceRecord

# How many candidates `decide` ranks: the best and enough rivals to see ambiguity.
DECIDE_DEPTH = 5
_GRADES = {
    Grade.CERTAIN: MatchGrade.CERTAIN,
    Grade.PROBABLE: MatchGrade.PROBABLE,
    Grade.POSSIBLE: MatchGrade.POSSIBLE,
}


class NameCounts:
    """How many active residents bear a name, for term-frequency weights (词频).

    Counts come from the registry and are cached for `ttl` seconds: a name's share moves
    slowly, and a stale count only nudges a weight. `note_new` keeps a bulk run's counts
    current without asking the database again.
    """

    min_residents = matching.Linker.min_residents_for_counts

    def __init__(self, ttl: float = 600.0, maxsize: int = 200_000) -> None:
        self.ttl = ttl
        self.maxsize = maxsize
        self._named: OrderedDict[str, tuple[float, int]] = OrderedDict()
        self._total: tuple[float, int] | None = None

    async def frequency(self, session: AsyncSession, name: str) -> float | None:
        await self.prefetch(session, [name] if name else [])
        return self.cached_frequency(name)

    async def prefetch(self, session: AsyncSession, names: Iterable[str]) -> None:
        now = time.monotonic()
        if self._total is None or now - self._total[0] > self.ttl / 10:
            # The highest id stands for the count: counting a million rows takes a while,
            # and merged-away residents barely move a term frequency.
            total = await session.scalar(select(func.max(Resident.id)))
            self._total = (now, int(total or 0))
        if self._total[1] < self.min_residents:
            return  # too few residents to say a name is common; not worth a query
        wanted = [n for n in dict.fromkeys(names) if n and not self._fresh(n, now)]
        for i in range(0, len(wanted), mpi_index.CHUNK):
            part = wanted[i : i + mpi_index.CHUNK]
            rows = dict(
                (
                    await session.execute(
                        # From the name index alone (merged-away residents counted too:
                        # they are few, and reading each row to exclude them is not).
                        select(Resident.name, func.count())
                        .where(mpi_index.one_of(session, Resident.name, part))
                        .group_by(Resident.name)
                    )
                ).all()
            )
            for name in part:
                self._put(name, now, int(rows.get(name, 0)))

    def cached_frequency(self, name: str) -> float | None:
        """Share of *other* residents bearing the name (the candidate itself excluded)."""
        if not name or self._total is None or self._total[1] < self.min_residents:
            return None
        entry = self._named.get(name)
        if entry is None:
            return None
        return max(entry[1] - 1, 0) / self._total[1]

    def note_new(self, name: str | None) -> None:
        """A resident was just created (bulk linking): count it without a query."""
        if self._total is not None:
            self._total = (self._total[0], self._total[1] + 1)
        if name and name in self._named:
            at, n = self._named[name]
            self._named[name] = (at, n + 1)

    def _fresh(self, name: str, now: float) -> bool:
        entry = self._named.get(name)
        return entry is not None and now - entry[0] <= self.ttl

    def _put(self, name: str, at: float, count: int) -> None:
        self._named[name] = (at, count)
        self._named.move_to_end(name)
        while len(self._named) > self.maxsize:
            self._named.popitem(last=False)


def model_path(settings: Any = None) -> Path | None:
    """HUB_LINKAGE_MODEL (settings.linkage_model), else the shipped model."""
    value = getattr(settings, "linkage_model", None) or os.environ.get("HUB_LINKAGE_MODEL")
    return Path(value) if value else None


class MatcherLinker:
    """The registry's `Linker`: the probabilistic matcher over the SQL index."""

    def __init__(self, model: LinkageModel, *, names: NameCounts | None = None) -> None:
        self.model = model
        self.core = matching.Linker(model)
        self.names = names or NameCounts()
        # record key -> the decision made for it, until `index` stores the record (and
        # opens a duplicate review when the decision was REVIEW). Bounded: a decision
        # whose transaction failed is simply forgotten.
        self._pending: OrderedDict[str, matching.Decision] = OrderedDict()

    @classmethod
    def from_settings(cls, settings: Any = None) -> MatcherLinker:
        return cls(LinkageModel.load(model_path(settings)))

    @staticmethod
    def features(record: Mapping[str, Any] | object) -> Features:
        return Features.from_record(record)

    def rank_and_decide(
        self,
        f: Features,
        candidates: Iterable[tuple[ResidentId, Features]],
        name_frequency: float | None,
        count: int = DECIDE_DEPTH,
    ) -> matching.Decision:
        """The one decision, for the online and the bulk path."""
        ranked = self.core.rank(f, candidates, count, name_frequency=name_frequency)
        return self.core.decide(f, ranked)

    async def _ranked(self, session: AsyncSession, f: Features, count: int) -> list[Any]:
        rows = await mpi_index.candidates(session, mpi_index.keys_of(f), record_key=f.record_key)
        freq = await self.names.frequency(session, f.name)
        return self.core.rank(f, ((rid, feat) for rid, _, feat in rows), count, name_frequency=freq)

    async def match(self, session: AsyncSession, record: Any, count: int) -> list[Candidate]:
        """Candidates best first, CERTAIN/PROBABLE/POSSIBLE only; writes nothing."""
        ranked = await self._ranked(session, self.features(record), max(count, 1))
        return [public(c) for c in ranked if c.grade is not Grade.UNLIKELY][:count]

    async def decide(self, session: AsyncSession, record: Any) -> LinkDecision:
        f = self.features(record)
        decision = self.core.decide(f, await self._ranked(session, f, DECIDE_DEPTH))
        if f.record_key:
            self._pending[f.record_key] = decision
            while len(self._pending) > 10_000:
                self._pending.popitem(last=False)
        return to_link_decision(decision)

    async def index(self, session: AsyncSession, source_record: SourceRecord) -> None:
        f = self.features(
            {
                "source": source_record.source,
                "source_id": source_record.source_id,
                **source_record.payload,
            }
        )
        await mpi_index.index(session, source_record, f)
        decision = self._pending.pop(f.record_key, None)
        if decision is not None and decision.outcome is matching.Outcome.REVIEW:
            review = review_row(decision, source_record.resident_id, source_record.id)
            if review is not None:
                session.add(review)

    async def unindex(self, session: AsyncSession, source_record: SourceRecord) -> None:
        await mpi_index.unindex(session, source_record)


def public(c: matching.Candidate) -> Candidate:
    return Candidate(int(c.resident_id), round(c.score, 6), _GRADES[c.grade], c.reason)


def to_link_decision(d: matching.Decision) -> LinkDecision:
    found = [public(c) for c in d.candidates if c.grade is not Grade.UNLIKELY]
    outcome = LinkOutcome(d.outcome.value)
    rid = int(d.resident_id) if d.resident_id is not None else None
    return LinkDecision(outcome, rid, found, d.provisional)


def review_candidates(d: matching.Decision) -> list[dict[str, Any]]:
    return [
        {
            "resident_id": int(c.resident_id),
            "score": round(c.score, 6),
            "grade": c.grade.value,
            "reason": c.reason,
        }
        for c in d.candidates
        if c.grade is not Grade.UNLIKELY
    ]


def review_row(
    d: matching.Decision, resident_id: int, source_record_id: int
) -> DuplicateReview | None:
    found = [c for c in review_candidates(d) if c["resident_id"] != resident_id]
    if not found:
        return None
    return DuplicateReview(
        resident_id=resident_id,
        source_record_id=source_record_id,
        candidates=found,
        top_score=found[0]["score"],
    )
