"""Registry rules: receive a record, link it, keep the golden record and its identifiers.

Services never commit; the caller owns the transaction.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.access import policy
from hub.access import service as access
from hub.access.models import SourceSystem
from hub.access.principal import Principal, Scope
from hub.errors import Forbidden, NotFound
from hub.events.service import emit
from hub.registry import idnumber, repository
from hub.registry.golden import IDENTIFIER_FIELDS, Refreshed, refreshed
from hub.registry.linking import LinkDecision, Linker, LinkOutcome
from hub.registry.models import IdentifierSystem, Resident, SourceRecord
from hub.registry.records import SEX_WORDS, SEXES, InvalidIdNumber, ResidentRecord, validate

_RANKING_TTL = 5.0  # seconds a process keeps the source ranking before reading it again

__all__ = [
    "IDENTIFIER_FIELDS", "SEXES", "SEX_WORDS", "InvalidIdNumber", "Refreshed", "RegistryService",
    "refreshed", "validate",
]  # fmt: skip


@dataclass(slots=True)
class SubmitResult:
    resident: Resident
    source_record: SourceRecord
    outcome: LinkOutcome
    decision: LinkDecision | None = None
    flags: list[str] = field(default_factory=list)
    # May the caller see the resident it linked to? (Else the answer names no resident.)
    visible: bool = True


class ForbiddenSource(Forbidden):
    code = "FORBIDDEN_SOURCE"


class RegistryService:
    def __init__(self, linker: Linker, source_priority: Sequence[str] = ()) -> None:
        self.linker = linker
        # Source keys, most trusted first: loaded from `source_system` (configuration, see
        # `hub source`), refreshed every few seconds; `source_priority` only until then.
        self.priority = list(source_priority)
        self._ranked_at = -1e9

    async def ranking(self, session: AsyncSession) -> list[str]:
        """The source ranking for the golden record (trust, highest first)."""
        now = time.monotonic()
        if now - self._ranked_at > _RANKING_TTL:
            rows = await session.execute(
                select(SourceSystem.key).order_by(SourceSystem.trust.desc(), SourceSystem.key)
            )
            self.priority = [k for (k,) in rows]
            self._ranked_at = now
        return self.priority

    def forget_ranking(self) -> None:
        self._ranked_at = -1e9

    @staticmethod
    def source_for(principal: Principal, record: ResidentRecord) -> str:
        """The source this write is made as: one of the client's own registered sources.
        An operator (admin) and the hub's own actors (adapters, CLI) may name any source."""
        wanted = (record.source or "").strip()
        if principal.is_admin and wanted:
            return wanted
        own = principal.sources
        if not wanted and len(own) == 1:
            return own[0]
        if not own:
            raise ForbiddenSource(
                "This client is registered with no source system, so it cannot submit records; "
                "ask the operator: `hub client update NAME --source KEY`.", field="source")
        if not wanted:
            raise ForbiddenSource(f"Name the source: one of {', '.join(own)}.", field="source")
        if wanted not in own:
            raise ForbiddenSource(
                f"This client writes only as its own source ({', '.join(own)}), not '{wanted}'.",
                field="source")
        return wanted

    async def submit(
        self, session: AsyncSession, principal: Principal, record: ResidentRecord, *, strict: bool
    ) -> SubmitResult:
        """Store a source record and link it to exactly one resident."""
        principal.require(Scope.RESIDENTS_WRITE)
        record.source = self.source_for(principal, record)
        flags = validate(record, strict=strict)
        existing = await repository.source_record(session, record.source, record.source_id)
        decision: LinkDecision | None = None
        if existing is not None and not principal.is_admin and (
            existing.client_id != principal.client_id
        ):
            # Another client's (or an adapter's) record under the same key: not this one's
            # to replace, and not to be confirmed either.
            raise ForbiddenSource(
                f"Source record {record.source}/{record.source_id} was not submitted by this "
                "client; a client replaces only its own records.", field="sourceId")
        if existing is not None:
            # A known (source, source id): an update of the same person in that system.
            await self.linker.unindex(session, existing)
            existing.payload = record.payload()
            existing.flags = flags
            existing.updated_at = dt.datetime.now(dt.UTC)
            src, outcome = existing, LinkOutcome.LINKED
            resident = await session.get(Resident, existing.resident_id)
            assert resident is not None
            resident = await self._follow_merges(session, resident)
        else:
            decision = await self.linker.decide(session, record)
            outcome = decision.outcome
            resident = None
            if decision.outcome is LinkOutcome.LINKED and decision.resident_id is not None:
                resident = await session.get(Resident, decision.resident_id)
            if resident is None:
                outcome = (
                    LinkOutcome.REVIEW
                    if decision.outcome is LinkOutcome.REVIEW
                    else LinkOutcome.NEW
                )
                resident = Resident(created_by_client_id=principal.client_id)
                session.add(resident)
                await session.flush()
            best = decision.candidates[0] if decision.candidates else None
            src = SourceRecord(
                source=record.source,
                source_id=record.source_id,
                resident_id=resident.id,
                payload=record.payload(),
                flags=flags,
                link_grade=best.grade if best and outcome is LinkOutcome.LINKED else None,
                link_score=best.score if best and outcome is LinkOutcome.LINKED else None,
                client_id=principal.client_id,
            )
            session.add(src)
            await session.flush()
        await self.linker.index(session, src)
        await self.refresh(session, resident)
        from hub.reports.locality import place

        await place(session, [resident.id])  # 乡镇/村 from the address, household or grid
        emit(
            session,
            f"resident.{'created' if outcome is not LinkOutcome.LINKED else 'updated'}",
            "Resident",
            resident.id,
            source=record.source,
            outcome=outcome.value,
            organization_ids=[resident.organization_id] if resident.organization_id else [],
        )
        await access.audit(session, principal, "WRITE", "submitResidentRecord", [resident.id])
        visible = await policy.may_see_resident(session, principal, resident.id)
        return SubmitResult(resident, src, outcome, decision, flags, visible)

    async def _follow_merges(self, session: AsyncSession, resident: Resident) -> Resident:
        seen = set()
        while resident.merged_into_id and resident.id not in seen:
            seen.add(resident.id)
            nxt = await session.get(Resident, resident.merged_into_id)
            if nxt is None:
                break
            resident = nxt
        return resident

    async def refresh(self, session: AsyncSession, resident: Resident) -> None:
        """Recompute the golden record, identifiers and stored categories from the sources."""
        records = await repository.source_records(session, [resident.id])
        ranking = await self.ranking(session)
        r = refreshed(records, ranking, resident.address_region, resident.insurance_type)
        for column, value in r.values.items():
            setattr(resident, column, value)
        await repository.replace_identifiers(session, resident.id, sorted(r.identifiers))
        await repository.replace_categories(session, resident.id, r.categories)

    # ---- reads -------------------------------------------------------------------------

    async def get(self, session: AsyncSession, principal: Principal, resident_id: int) -> Resident:
        principal.require(Scope.RESIDENTS_READ)
        resident = await repository.get(session, resident_id)
        if resident is None or not await repository.is_visible(session, principal, resident_id):
            raise NotFound(f"No resident {resident_id} visible to this client.", field="id")
        return resident

    async def find_by_identifier(
        self, session: AsyncSession, principal: Principal, system: str, value: str
    ) -> Resident | None:
        principal.require(Scope.RESIDENTS_READ)
        if system == IdentifierSystem.ID_CARD:
            number = idnumber.parse(value)
            if not number.valid:
                raise InvalidIdNumber(
                    f"'{value}' is not a valid ID number ({number.problem}).", field="value"
                )
            value = number.value
        for rid in await repository.by_identifier(session, system, value.strip()):
            resident = await repository.get(session, rid)
            if resident is None:
                continue
            resident = await self._follow_merges(session, resident)
            if await repository.is_visible(session, principal, resident.id):
                return resident
        return None

    async def list(
        self,
        session: AsyncSession,
        principal: Principal,
        flt: repository.ResidentFilter,
        *,
        after: int | None,
        limit: int,
    ) -> tuple[list[Resident], int, bool]:
        principal.require(Scope.RESIDENTS_READ)
        stmt = repository.filtered(principal, flt, dt.date.today())
        return await repository.page(session, stmt, after=after, limit=limit)
