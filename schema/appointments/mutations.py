"""Publish a clinic session; book, cancel, reschedule, arrive / no-show."""

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Any, cast

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from hub.appointments import service
from hub.errors import DomainError
from mappings import appointments as fhir
from schema.appointments.types import (
    Appointment,
    AppointmentPayload,
    AppointmentSlot,
    PublishClinicSessionPayload,
)
from schema.context import Context
from schema.errors import user_errors
from schema.relay import from_global_id, int_id


@strawberry.enum(description="What a clinic session's slots are for.")
class ServiceKind(Enum):
    GENERAL = "GENERAL"
    CHRONIC_FOLLOW_UP = "CHRONIC_FOLLOW_UP"
    CHILD_CARE = "CHILD_CARE"
    VACCINATION = "VACCINATION"
    HEALTH_CHECK = "HEALTH_CHECK"


@strawberry.enum
class AppointmentOutcome(Enum):
    ARRIVED = "ARRIVED"
    NO_SHOW = "NO_SHOW"


@strawberry.input(description="A team's clinic session on one day, cut into slots.")
class PublishClinicSessionInput:
    team_id: strawberry.ID
    date: dt.date
    start: str = strawberry.field(description='Local time "HH:MM", e.g. "09:00".')
    end: str = strawberry.field(description='Local time "HH:MM", e.g. "11:30".')
    slot_minutes: int
    service_kind: ServiceKind
    off_hours: bool = strawberry.field(default=False, description="错时服务 (evenings, weekends).")


def _payload(row: Any, errors: list[Any]) -> AppointmentPayload:
    return AppointmentPayload(appointment=Appointment.from_row(row) if row else None,
                              user_errors=errors)  # fmt: skip


def _ids(**gids: tuple[Any, str]) -> dict[str, int]:
    return {k: int_id(str(v), t) for k, (v, t) in gids.items()}


@strawberry.type
class AppointmentMutation:
    @strawberry.mutation(description="发布门诊时段: publish a clinic session's slots (FHIR "
                         "Schedule + Slots).")  # fmt: skip
    async def publish_clinic_session(
        self, info: Info[Context, Any], input: PublishClinicSessionInput
    ) -> PublishClinicSessionPayload:
        ctx = info.context
        cmd = service.SessionCommand(
            team_id=from_global_id(str(input.team_id), "Team")[1], day=input.date,
            start=input.start, end=input.end, slot_minutes=input.slot_minutes,
            service_kind=input.service_kind.value, off_hours=input.off_hours)  # fmt: skip
        out, errors = await ctx.write(lambda s: service.publish(s, ctx.principal, cmd))
        if out is None:
            return PublishClinicSessionPayload(slots=[], schedule=None, user_errors=errors)
        clinic, slots = out
        return PublishClinicSessionPayload(
            slots=[AppointmentSlot.from_row(r) for r in slots],
            schedule=cast(JSON, fhir.schedule(clinic, slots[0].start_at, slots[-1].end_at)),
            user_errors=[])  # fmt: skip

    @strawberry.mutation(description="预约: take a free slot for a resident, atomically.")
    async def book_appointment(
        self, info: Info[Context, Any], slot_id: strawberry.ID, resident_id: strawberry.ID,
        service_kind: ServiceKind,
    ) -> AppointmentPayload:  # fmt: skip
        ctx = info.context
        try:
            ids = _ids(slot=(slot_id, "AppointmentSlot"), resident=(resident_id, "Resident"))
        except DomainError as e:
            return _payload(None, user_errors(e))
        row, errors = await ctx.write(lambda s: service.book(
            s, ctx.principal, ids["slot"], ids["resident"], service_kind.value))  # fmt: skip
        return _payload(row, errors)

    @strawberry.mutation(description="取消预约, before the region's cancellation deadline.")
    async def cancel_appointment(
        self, info: Info[Context, Any], appointment_id: strawberry.ID
    ) -> AppointmentPayload:
        ctx = info.context
        try:
            aid = _ids(a=(appointment_id, "Appointment"))["a"]
        except DomainError as e:
            return _payload(None, user_errors(e))
        row, errors = await ctx.write(lambda s: service.cancel(s, ctx.principal, aid))
        return _payload(row, errors)

    @strawberry.mutation(description="改约: move an appointment to another free slot.")
    async def reschedule_appointment(
        self, info: Info[Context, Any], appointment_id: strawberry.ID, slot_id: strawberry.ID
    ) -> AppointmentPayload:
        ctx = info.context
        try:
            ids = _ids(a=(appointment_id, "Appointment"), slot=(slot_id, "AppointmentSlot"))
        except DomainError as e:
            return _payload(None, user_errors(e))
        row, errors = await ctx.write(
            lambda s: service.reschedule(s, ctx.principal, ids["a"], ids["slot"])
        )
        return _payload(row, errors)

    @strawberry.mutation(description="到诊 / 爽约: the team records the outcome.")
    async def mark_appointment(
        self, info: Info[Context, Any], appointment_id: strawberry.ID,
        outcome: AppointmentOutcome,
    ) -> AppointmentPayload:  # fmt: skip
        ctx = info.context
        try:
            aid = _ids(a=(appointment_id, "Appointment"))["a"]
        except DomainError as e:
            return _payload(None, user_errors(e))
        row, errors = await ctx.write(lambda s: service.mark(s, ctx.principal, aid, outcome.value))
        return _payload(row, errors)
