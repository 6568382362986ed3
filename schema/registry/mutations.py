"""Registry mutations: submitResidentRecord, and the linkage ones (schema.registry.linkage)."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from hub.registry.linking import LinkOutcome as _LinkOutcome
from schema.context import Context
from schema.errors import UserError
from schema.registry.inputs import ResidentRecordInput
from schema.registry.linkage import LinkageMutation
from schema.registry.types import FULL, Resident, SourceRecord

LinkOutcome = strawberry.enum(_LinkOutcome, description="Where a submitted record went.")


@strawberry.type
class SubmitResidentRecordPayload:
    resident: Resident | None
    source_record: SourceRecord | None
    outcome: LinkOutcome | None
    flags: list[str] = strawberry.field(description="Problems kept with the record, e.g. ID_CONTRADICTS_SEX.")
    user_errors: list[UserError]


@strawberry.type
class RegistryMutation(LinkageMutation):
    @strawberry.mutation(description="Store a source record and link it to one resident.")
    async def submit_resident_record(
        self, info: Info[Context, Any], input: ResidentRecordInput
    ) -> SubmitResidentRecordPayload:
        ctx = info.context
        result, errors = await ctx.write(lambda s: ctx.hub.registry.submit(
            s, ctx.principal, input.to_record(), strict=True))
        if result is None:
            return SubmitResidentRecordPayload(resident=None, source_record=None, outcome=None,
                                               flags=[], user_errors=errors)
        return SubmitResidentRecordPayload(
            resident=Resident.from_row(result.resident, FULL) if result.visible else None,
            source_record=SourceRecord.from_row(result.source_record),
            outcome=result.outcome, flags=result.flags, user_errors=[])
