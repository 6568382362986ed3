"""Linkage services around the matcher: $match, duplicate reviews (疑似重复) and the
discrepancies between sources (减少系统间数据差异). Services never commit."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.access import service as access
from hub.access.principal import Principal, Scope
from hub.db import utcnow
from hub.errors import DomainError, NotFound
from hub.events.service import emit
from hub.registry import golden, merge, repository
from hub.registry.linking import Candidate
from hub.registry.models import (
    DuplicateReview,
    Resident,
    ResidentStatus,
    ReviewStatus,
    SourceRecord,
)
from hub.registry.records import ResidentRecord
from hub.registry.service import RegistryService, validate


class ReviewDecision(StrEnum):
    SAME_PERSON = "SAME_PERSON"
    DIFFERENT_PEOPLE = "DIFFERENT_PEOPLE"


class ReviewClosed(DomainError):
    code = "REVIEW_CLOSED"


@dataclass(slots=True)
class Match:
    candidate: Candidate
    resident: Resident


async def match(
    registry: RegistryService, session: AsyncSession, principal: Principal,
    record: ResidentRecord, count: int,
) -> list[Match]:  # fmt: skip
    """FHIR Patient $match: candidates best first, writing nothing. Residents the client
    may not see are left out."""
    principal.require(Scope.RESIDENTS_READ)
    validate(record, strict=False)  # an unusable value is ignored, as from an adapter
    found = await registry.linker.match(session, record, max(1, min(count, 50)))
    rows = await repository.get_many(session, [c.resident_id for c in found])
    out = []
    for c in found:
        r = rows.get(c.resident_id)
        if r is not None and await repository.is_visible(session, principal, r.id):
            out.append(Match(c, r))
    return out


# ---- duplicate reviews ---------------------------------------------------------------------


async def reviews(
    session: AsyncSession, principal: Principal, *, status: str | None, after: int | None,
    limit: int,
) -> tuple[list[DuplicateReview], int, bool]:  # fmt: skip
    """Keyset page of review items by id: (rows, total, has next page)."""
    principal.require(Scope.LINKAGE_ADMIN)
    stmt = select(DuplicateReview)
    if status:
        stmt = stmt.where(DuplicateReview.status == status)
    total = await session.scalar(select(func.count()).select_from(stmt.subquery()))
    if after is not None:
        stmt = stmt.where(DuplicateReview.id > after)
    rows = list(await session.scalars(stmt.order_by(DuplicateReview.id).limit(limit + 1)))
    return rows[:limit], int(total or 0), len(rows) > limit


async def resolve(
    session: AsyncSession, principal: Principal, *, review_id: int, decision: ReviewDecision,
    resident_id: int | None = None,
) -> DuplicateReview:  # fmt: skip
    """SAME_PERSON: the review's new resident is merged into the candidate (the best one,
    or `resident_id`). DIFFERENT_PEOPLE: the two are separated for good."""
    principal.require(Scope.LINKAGE_ADMIN)
    review = await session.get(DuplicateReview, review_id)
    if review is None:
        raise NotFound(f"No duplicate review {review_id}.", field="id")
    if review.status != ReviewStatus.OPEN:
        raise ReviewClosed(f"Review {review_id} is already {review.status}.", field="id")
    ids = [int(c["resident_id"]) for c in review.candidates or []]
    current = await _final_id(session, review.resident_id)
    if decision is ReviewDecision.SAME_PERSON:
        chosen = resident_id if resident_id is not None else (ids[0] if ids else None)
        if chosen is None or chosen not in ids:
            raise DomainError("Choose one of the review's candidates.", field="residentId",
                              code="NOT_A_CANDIDATE")  # fmt: skip
        survivor = await _final_id(session, chosen)
        if survivor != current:
            await merge.merge(session, principal, survivor_id=survivor, merged_id=current,
                              reason=f"duplicate review {review_id}: same person")  # fmt: skip
        review.decided_resident_id = survivor
    else:
        others = {await _final_id(session, i) for i in ids} - {current}
        for other in sorted(others):
            why = f"duplicate review {review_id}: different people"
            await merge.separate(session, principal, resident_id=current, other_id=other,
                                 reason=why)  # fmt: skip
        emit(session, "resident.separated", "Resident", current, review_id=review_id,
             other_ids=sorted(others))  # fmt: skip
        await access.audit(session, principal, "WRITE", "resolveDuplicateReview",
                           [current, *others])  # fmt: skip
    review.status = ReviewStatus(decision.value)
    review.decision = decision.value
    review.resolved_by = principal.name
    review.resolved_at = utcnow()
    await session.flush()
    return review


async def _final_id(session: AsyncSession, resident_id: int) -> int:
    """The resident an id resolves to after merges."""
    seen: set[int] = set()
    rid = resident_id
    while rid not in seen:
        seen.add(rid)
        nxt = await session.scalar(select(Resident.merged_into_id).where(Resident.id == rid))
        if nxt is None:
            return rid
        rid = nxt
    return rid


# ---- discrepancies -------------------------------------------------------------------------


@dataclass(slots=True)
class ResidentDiscrepancies:
    resident: Resident
    fields: list[golden.Discrepancy]
    records: dict[int, SourceRecord]


async def discrepancies_of(
    registry: RegistryService, session: AsyncSession, principal: Principal, resident_id: int
) -> ResidentDiscrepancies:
    resident = await registry.get(session, principal, resident_id)
    records = await repository.source_records(session, [resident.id])
    ranking = await registry.ranking(session)
    return ResidentDiscrepancies(resident, golden.discrepancies(records, ranking),
                                 {r.id: r for r in records})  # fmt: skip


async def discrepancies_page(
    registry: RegistryService, session: AsyncSession, principal: Principal, *,
    after: int | None, limit: int, scan: int = 2000,
) -> tuple[list[ResidentDiscrepancies], bool, int | None]:  # fmt: skip
    """Residents (visible, active) whose sources disagree, by id after `after`: (page, has
    next, where the next page starts). Looks at most at `scan` multi-source residents per
    call, so a page is bounded work (and may come back short)."""
    principal.require(Scope.RESIDENTS_READ)
    stmt = (
        select(SourceRecord.resident_id)
        .join(Resident, Resident.id == SourceRecord.resident_id)
        .where(Resident.status == ResidentStatus.ACTIVE)
        .group_by(SourceRecord.resident_id)
        .having(func.count() > 1)
        .order_by(SourceRecord.resident_id)
        .limit(scan)
    )
    if (cond := repository.visible(principal)) is not None:
        stmt = stmt.where(cond)
    if after is not None:
        stmt = stmt.where(SourceRecord.resident_id > after)
    ids = list(await session.scalars(stmt))
    ranking = await registry.ranking(session)
    out: list[ResidentDiscrepancies] = []
    for i in range(0, len(ids), 200):
        part = ids[i : i + 200]
        residents = await repository.get_many(session, part)
        by_resident: dict[int, list[SourceRecord]] = {r: [] for r in part}
        for rec in await repository.source_records(session, part):
            by_resident[rec.resident_id].append(rec)
        for rid in part:
            found = golden.discrepancies(by_resident[rid], ranking)
            if found:
                out.append(ResidentDiscrepancies(residents[rid], found,
                                                 {r.id: r for r in by_resident[rid]}))  # fmt: skip
                if len(out) > limit:
                    return out[:limit], True, out[limit - 1].resident.id
    more = len(ids) == scan
    return out, more, (ids[-1] if more else (out[-1].resident.id if out else after))
