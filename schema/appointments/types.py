"""Slots and appointments as GraphQL types, with their FHIR forms."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

import strawberry
from strawberry.scalars import JSON

from mappings import appointments as fhir
from schema.errors import UserError
from schema.relay import to_global_id


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


@strawberry.type(description="A bookable time slot of a team's clinic session (FHIR Slot).")
class AppointmentSlot:
    row: strawberry.Private[Any]
    id: strawberry.ID
    start: dt.datetime
    end: dt.datetime
    service_kind: str
    free: bool

    @classmethod
    def from_row(cls, row: Any) -> AppointmentSlot:
        return cls(row=row, id=strawberry.ID(to_global_id("AppointmentSlot", row.id)),
                   start=_aware(row.start_at), end=_aware(row.end_at),
                   service_kind=row.service_kind, free=not row.taken)  # fmt: skip

    @strawberry.field(description="The FHIR R4B Slot.")
    def fhir(self) -> JSON:
        return cast(JSON, fhir.slot(self.row))


@strawberry.type(description="A resident's booking of a slot (FHIR Appointment).")
class Appointment:
    row: strawberry.Private[Any]
    id: strawberry.ID
    slot_id: strawberry.ID
    resident_id: int = strawberry.field(description="The hub's numeric resident id.")
    team_id: str
    service_kind: str
    status: str = strawberry.field(description="BOOKED, ARRIVED, NO_SHOW or CANCELLED.")
    start: dt.datetime
    end: dt.datetime

    @classmethod
    def from_row(cls, row: Any) -> Appointment:
        return cls(row=row, id=strawberry.ID(to_global_id("Appointment", row.id)),
                   slot_id=strawberry.ID(to_global_id("AppointmentSlot", row.slot_id)),
                   resident_id=row.resident_id, team_id=row.team_id,
                   service_kind=row.service_kind, status=row.status,
                   start=_aware(row.start_at), end=_aware(row.end_at))  # fmt: skip

    @strawberry.field(description="The FHIR R4B Appointment.")
    def fhir(self) -> JSON:
        return cast(JSON, fhir.appointment(self.row))


@strawberry.type
class PublishClinicSessionPayload:
    slots: list[AppointmentSlot]
    schedule: JSON | None = strawberry.field(description="The FHIR R4B Schedule.")
    user_errors: list[UserError]


@strawberry.type
class AppointmentPayload:
    appointment: Appointment | None
    user_errors: list[UserError]
