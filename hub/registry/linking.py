"""The seam between the registry and the matcher (MPI).

`RegistryService` asks a `Linker` where a new source record belongs. The foundation's
`IdentifierLinker` links by a valid ID number only; the probabilistic matcher plugs in here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from hub.registry import idnumber, repository
from hub.registry.models import IdentifierSystem, SourceRecord
from hub.registry.records import ResidentRecord


class LinkOutcome(StrEnum):
    LINKED = "LINKED"  # certain: attached to an existing resident
    NEW = "NEW"  # nobody like this yet: a new resident
    REVIEW = "REVIEW"  # probable/possible: a new resident plus a duplicate-review item


class MatchGrade(StrEnum):
    CERTAIN = "CERTAIN"
    PROBABLE = "PROBABLE"
    POSSIBLE = "POSSIBLE"


@dataclass(frozen=True, slots=True)
class Candidate:
    resident_id: int
    score: float  # 0..1
    grade: MatchGrade
    reason: str = ""  # "id" (same valid ID number), "probabilistic", "twins"


@dataclass(slots=True)
class LinkDecision:
    outcome: LinkOutcome
    resident_id: int | None = None
    candidates: list[Candidate] = field(default_factory=list)
    provisional: bool = False  # a newborn known only through the mother (临时身份)


class Linker(Protocol):
    async def match(
        self, session: AsyncSession, record: ResidentRecord, count: int
    ) -> list[Candidate]:
        """Candidates for a record, best first, writing nothing (FHIR Patient $match)."""
        ...

    async def decide(self, session: AsyncSession, record: ResidentRecord) -> LinkDecision:
        """Where a new source record belongs."""
        ...

    async def index(self, session: AsyncSession, source_record: SourceRecord) -> None:
        """Make a stored source record findable by later records."""
        ...

    async def unindex(self, session: AsyncSession, source_record: SourceRecord) -> None: ...


class IdentifierLinker:
    """Deterministic only: a valid ID number already known → that resident."""

    async def match(
        self, session: AsyncSession, record: ResidentRecord, count: int
    ) -> list[Candidate]:
        number = idnumber.parse(record.id_number)
        if not number.valid:
            return []
        ids = await repository.by_identifier(session, IdentifierSystem.ID_CARD, number.value)
        return [Candidate(i, 1.0, MatchGrade.CERTAIN) for i in ids[:count]]

    async def decide(self, session: AsyncSession, record: ResidentRecord) -> LinkDecision:
        found = await self.match(session, record, 1)
        if found:
            return LinkDecision(LinkOutcome.LINKED, found[0].resident_id, found)
        return LinkDecision(LinkOutcome.NEW)

    async def index(self, session: AsyncSession, source_record: SourceRecord) -> None:
        return None

    async def unindex(self, session: AsyncSession, source_record: SourceRecord) -> None:
        return None
