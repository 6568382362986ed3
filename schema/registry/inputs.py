"""GraphQL input of a resident record (submitResidentRecord, matchResident)."""

from __future__ import annotations

import datetime as dt

import strawberry

from hub.registry.records import ResidentRecord
from schema.scalars import InsuranceType, PopulationCategory


@strawberry.input(description="A resident record from a source system (a signing app, an adapter).")
class ResidentRecordInput:
    source: str | None = strawberry.field(
        default=None,
        description="The sending system: one of this client's registered sources (implied "
        "when it has only one).")
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
        data.setdefault("source", "")  # implied by the client's registered source
        if isinstance(data.get("insurance_type"), InsuranceType):
            data["insurance_type"] = data["insurance_type"].value
        data["categories"] = [c.value for c in self.categories or []]
        return ResidentRecord(**data)
