"""GraphQL of record linkage (MPI): matchResident ($match), duplicate reviews, merge and
unmerge, and the fields where sources disagree. Reviews, merge and unmerge need
linkage:admin; the services check it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from hub.access.principal import Scope
from hub.registry import review
from hub.registry.linking import MatchGrade as _MatchGrade
from hub.registry.merge import merge, unmerge_record
from hub.registry.models import DuplicateReview as ReviewRow
from hub.registry.models import ReviewStatus
from hub.registry.models import SourceRecord as SourceRow
from mappings import infrastructure
from mappings.masking import mask_id
from schema.context import Context
from schema.errors import UserError
from schema.registry.inputs import ResidentRecordInput
from schema.registry.types import FULL, Resident, SourceRecord, load_resident

from schema.relay import (
    Connection,
    Edge,
    Node,
    PageInfo,
    connection,
    decode_cursor,
    encode_cursor,
    int_id,
    to_global_id,
)

_ADMIN = Scope.LINKAGE_ADMIN  # a linkage admin without residents:read sees id, name, age

MatchGrade = strawberry.enum(_MatchGrade, description="How sure the matcher is.")
DuplicateReviewStatus = strawberry.enum(ReviewStatus, name="DuplicateReviewStatus")
ReviewDecision = strawberry.enum(review.ReviewDecision, name="ReviewDecision")

# Discrepancy values that are identifiers or an address: masked without residents:pii.
_IDENTIFIER_FIELDS = {"id_number", "mother_id_number", "insurance_card", "health_record_no",
                      "birth_certificate_no"}  # fmt: skip


@strawberry.type(description="A candidate resident for a record (FHIR Patient $match).")
class ResidentMatch:
    score: float = strawberry.field(description="Probability that it is the same person, 0–1.")
    grade: MatchGrade
    reason: str = strawberry.field(description="id (same valid ID number), probabilistic, twins.")
    resident: Resident


@strawberry.type(description="疑似重复: a record the matcher could not decide; a person does.")
class DuplicateReview(Node):
    row: strawberry.Private[ReviewRow]
    review_id: int
    status: DuplicateReviewStatus
    created_at: dt.datetime
    resolved_at: dt.datetime | None
    resolved_by: str | None

    @classmethod
    def from_row(cls, r: ReviewRow) -> DuplicateReview:
        return cls(row=r, id=strawberry.ID(to_global_id("DuplicateReview", r.id)), review_id=r.id,
                   status=DuplicateReviewStatus(r.status), created_at=r.created_at,
                   resolved_at=r.resolved_at, resolved_by=r.resolved_by)  # fmt: skip

    @strawberry.field(description="FHIR R4B Linkage: the new resident and its candidates.")
    def fhir(self) -> JSON:
        return infrastructure.linkage(self.row)

    @strawberry.field(description="The resident created for the record under review.")
    async def resident(self, info: Info[Context, Any]) -> Resident | None:
        return await load_resident(info, self.row.resident_id, via=_ADMIN)

    @strawberry.field(description="The record under review.")
    async def source_record(self, info: Info[Context, Any]) -> SourceRecord | None:
        sid = self.row.source_record_id
        row = await info.context.run(lambda s: s.get(SourceRow, sid)) if sid else None
        return SourceRecord.from_row(row) if row is not None else None

    @strawberry.field(description="Who it might be, best first, as the matcher saw them.")
    async def candidates(self, info: Info[Context, Any]) -> list[ResidentMatch]:
        out = []
        for c in self.row.candidates or []:
            resident = await load_resident(info, int(c["resident_id"]), via=_ADMIN)
            if resident is not None:
                out.append(ResidentMatch(score=float(c["score"]), grade=MatchGrade(c["grade"]),
                                         reason=str(c.get("reason", "")),
                                         resident=resident))  # fmt: skip
        return out

    @strawberry.field(description="The candidate a SAME_PERSON decision merged into.")
    async def decided_resident(self, info: Info[Context, Any]) -> Resident | None:
        return await load_resident(info, self.row.decided_resident_id, via=_ADMIN)


@strawberry.type
class SourceValue:
    source: str
    source_id: str
    value: str | None


@strawberry.type(description="A golden-record field whose sources disagree.")
class FieldDiscrepancy:
    field: str
    chosen: str | None = strawberry.field(description="The value the golden record took.")
    values: list[SourceValue] = strawberry.field(
        description="Every source's value, in priority order."
    )


@strawberry.type(description="A resident and the fields its source systems disagree on.")
class ResidentDiscrepancies:
    resident: Resident
    fields: list[FieldDiscrepancy]


def _shown(fld: str, value: Any, pii: bool) -> str | None:
    if value is None:
        return None
    text = value.isoformat() if isinstance(value, dt.date) else str(value)
    if pii:
        return text
    if fld in _IDENTIFIER_FIELDS:
        return mask_id(text)
    return "****" if fld == "address_text" else text


def _discrepancies(found: review.ResidentDiscrepancies, pii: bool) -> ResidentDiscrepancies:
    fields = []
    for d in found.fields:
        values = []
        for sid, source, value in d.values:
            rec = found.records.get(sid)
            values.append(SourceValue(source=source, source_id=rec.source_id if rec else "",
                                      value=_shown(d.field, value, pii)))  # fmt: skip
        fields.append(FieldDiscrepancy(field=d.field, chosen=_shown(d.field, d.chosen, pii),
                                       values=values))  # fmt: skip
    return ResidentDiscrepancies(resident=Resident.from_row(found.resident, FULL), fields=fields)


@strawberry.type
class LinkageQuery:
    @strawberry.field(description="Candidates for a record, best first, writing nothing (FHIR "
                      "Patient $match). CERTAIN, PROBABLE and POSSIBLE only.")  # fmt: skip
    async def match_resident(
        self, info: Info[Context, Any], input: ResidentRecordInput, count: int | None = 5
    ) -> list[ResidentMatch]:
        ctx = info.context
        found = await ctx.run(lambda s: review.match(
            ctx.hub.registry, s, ctx.principal, input.to_record(), count or 5))  # fmt: skip
        ctx.audit_read("matchResident", *(m.resident.id for m in found))
        return [ResidentMatch(score=m.candidate.score, grade=MatchGrade(m.candidate.grade),
                              reason=m.candidate.reason, resident=Resident.from_row(m.resident, FULL))
                for m in found]  # fmt: skip

    @strawberry.field(description="Possible duplicates waiting for a person (linkage:admin).")
    async def duplicate_reviews(
        self, info: Info[Context, Any], status: DuplicateReviewStatus | None = ReviewStatus.OPEN,
        first: int | None = None, after: str | None = None,
    ) -> Connection[DuplicateReview]:  # fmt: skip
        ctx = info.context
        limit, key = ctx.page_size(first), decode_cursor(after)
        rows, total, more = await ctx.run(lambda s: review.reviews(
            s, ctx.principal, status=status.value if status else None,
            after=int(key) if key else None, limit=limit))  # fmt: skip
        return connection(rows, total, more, after=after, convert=DuplicateReview.from_row)

    @strawberry.field(description="Fields where a resident's sources disagree "
                      "(减少系统间数据差异): "
                      "for one resident, or paged over the registry.")  # fmt: skip
    async def resident_discrepancies(
        self, info: Info[Context, Any], resident_id: strawberry.ID | None = None,
        first: int | None = None, after: str | None = None,
    ) -> Connection[ResidentDiscrepancies]:  # fmt: skip
        ctx = info.context
        pii = ctx.sees_pii
        if resident_id is not None:
            rid = int_id(resident_id, "Resident")
            one = await ctx.run(lambda s: review.discrepancies_of(ctx.hub.registry, s,
                                                                  ctx.principal, rid))  # fmt: skip
            ctx.audit_read("residentDiscrepancies", one.resident.id)
            return connection([one], 1, False, after=None, key=lambda d: d.resident.id,
                              convert=lambda d: _discrepancies(d, pii))  # fmt: skip
        limit, key = ctx.page_size(first), decode_cursor(after)
        rows, more, next_after = await ctx.run(lambda s: review.discrepancies_page(
            ctx.hub.registry, s, ctx.principal, after=int(key) if key else None,
            limit=limit))  # fmt: skip
        ctx.audit_read("residentDiscrepancies", *(d.resident.id for d in rows))
        edges = [
            Edge(cursor=encode_cursor(d.resident.id), node=_discrepancies(d, pii)) for d in rows
        ]
        end = encode_cursor(next_after) if next_after is not None else None
        return Connection(edges=edges, total_count=len(edges), page_info=PageInfo(
            has_next_page=more, has_previous_page=after is not None,
            start_cursor=edges[0].cursor if edges else None, end_cursor=end))  # fmt: skip


@strawberry.type
class ResolveDuplicateReviewPayload:
    review: DuplicateReview | None
    resident: Resident | None = strawberry.field(
        description="The surviving resident (SAME_PERSON) or the review's own (DIFFERENT_PEOPLE)."
    )
    user_errors: list[UserError]


@strawberry.type
class MergeResidentsPayload:
    resident: Resident | None = strawberry.field(description="The survivor.")
    merged: Resident | None = strawberry.field(description="Now inactive, with mergedInto.")
    user_errors: list[UserError]


@strawberry.type
class UnmergeRecordPayload:
    resident: Resident | None = strawberry.field(description="The resident now holding the record.")
    previous: Resident | None = strawberry.field(description="The resident it was taken from.")
    user_errors: list[UserError]


@strawberry.type
class LinkageMutation:
    @strawberry.mutation(description="Decide a duplicate review: SAME_PERSON merges the record's "
                         "resident into the candidate (the best, or residentId); DIFFERENT_PEOPLE "
                         "separates them for good (linkage:admin).")  # fmt: skip
    async def resolve_duplicate_review(
        self, info: Info[Context, Any], id: strawberry.ID, decision: ReviewDecision,
        resident_id: strawberry.ID | None = None,
    ) -> ResolveDuplicateReviewPayload:  # fmt: skip
        ctx = info.context
        rid = int_id(id, "DuplicateReview")
        chosen = int_id(resident_id, "Resident") if resident_id else None
        row, errors = await ctx.write(lambda s: review.resolve(
            s, ctx.principal, review_id=rid, decision=review.ReviewDecision(decision.value),
            resident_id=chosen))  # fmt: skip
        if row is None:
            return ResolveDuplicateReviewPayload(review=None, resident=None, user_errors=errors)
        kept = row.decided_resident_id or row.resident_id
        return ResolveDuplicateReviewPayload(review=DuplicateReview.from_row(row),
                                             resident=await load_resident(info, kept, via=_ADMIN),
                                             user_errors=[])  # fmt: skip

    @strawberry.mutation(description="Merge two residents: every record of mergedId moves to "
                         "survivorId; mergedId stays readable, inactive, with mergedInto "
                         "(linkage:admin).")  # fmt: skip
    async def merge_residents(
        self, info: Info[Context, Any], survivor_id: strawberry.ID, merged_id: strawberry.ID,
        reason: str,
    ) -> MergeResidentsPayload:  # fmt: skip
        ctx = info.context
        survivor, merged_away = int_id(survivor_id, "Resident"), int_id(merged_id, "Resident")
        row, errors = await ctx.write(lambda s: merge(
            s, ctx.principal, survivor_id=survivor, merged_id=merged_away,
            reason=reason))  # fmt: skip
        if row is None:
            return MergeResidentsPayload(resident=None, merged=None, user_errors=errors)
        return MergeResidentsPayload(resident=await load_resident(info, row.id, via=_ADMIN),
                                     merged=await load_resident(info, merged_away, via=_ADMIN),
                                     user_errors=[])  # fmt: skip

    @strawberry.mutation(description="Take one source record out of its resident (into its "
                         "former resident, or a new one); the pair is never linked again "
                         "automatically (linkage:admin).")  # fmt: skip
    async def unmerge_record(
        self, info: Info[Context, Any], source: str, source_id: str, reason: str
    ) -> UnmergeRecordPayload:
        ctx = info.context
        before: dict[str, int] = {}

        async def run(s: Any) -> Any:
            from hub.registry import repository

            src = await repository.source_record(s, source, source_id)
            if src is not None:
                before["id"] = src.resident_id
            return await unmerge_record(s, ctx.principal, source=source, source_id=source_id,
                                        reason=reason)  # fmt: skip

        row, errors = await ctx.write(run)
        if row is None:
            return UnmergeRecordPayload(resident=None, previous=None, user_errors=errors)
        return UnmergeRecordPayload(resident=await load_resident(info, row.id, via=_ADMIN),
                                    previous=await load_resident(info, before.get("id"), via=_ADMIN),
                                    user_errors=[])  # fmt: skip
