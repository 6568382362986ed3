"""Registry mutations: submitResidentRecord."""

from __future__ import annotations

import datetime as dt
from typing import Any

import strawberry
from strawberry.types import Info

from hub.registry.linking import LinkOutcome as _LinkOutcome
from hub.registry.records import ResidentRecord
from schema.context import Context
from schema.errors import UserError
from schema.registry.types import Resident, SourceRecord
from schema.scalars import InsuranceType, PopulationCategory

LinkOutcome = strawberry.enum(_LinkOutcome, description="Where a submitted record went.")


@strawberry.input(description="A resident record from a source system (a signing app, an adapter).")
class ResidentRecordInput:
    source: str = strawberry.field(description="The sending system, e.g. 'vendor-acme'.")
    source_id: str = strawberry.field(description="The record's id in that system.")
    name: str | None = None
    sex: str | None = strawberry.field(default=None, description="GB/T 2261.1 code: 0, 1, 2 or 9.")
    birth_date: dt.date | None = None
    id_number: str | None = None
    phone: str | None = None
    address: str | None = None
    address_region: str | None = strawberry.field(default=None, description="GB/T 2260 code.")
    insurance_card: str | None = None
    insurance_type: InsuranceType | None = None
    health_record_no: str | None = None
    birth_certificate_no: str | None = None
    mother_id_number: str | None = None
    guardian_name: str | None = None
    guardian_phone: str | None = None
    guardian_relation: str | None = None
    categories: list[PopulationCategory] | None = None

    def to_record(self) -> ResidentRecord:
        data = {k: v for k, v in vars(self).items() if v is not None}
        if isinstance(data.get("insurance_type"), InsuranceType):
            data["insurance_type"] = data["insurance_type"].value
        data["categories"] = [c.value for c in self.categories or []]
        return ResidentRecord(**data)


@strawberry.type
class SubmitResidentRecordPayload:
    resident: Resident | None
    source_record: SourceRecord | None
    outcome: LinkOutcome | None
    flags: list[str] = strawberry.field(description="Problems kept with the record, e.g. ID_CONTRADICTS_SEX.")
    user_errors: list[UserError]


@strawberry.type
class RegistryMutation:
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
            resident=Resident.from_row(result.resident),
            source_record=SourceRecord.from_row(result.source_record),
            outcome=result.outcome, flags=result.flags, user_errors=[])
