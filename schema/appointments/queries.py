"""Free slots of a team; a resident's appointments (through the access policy)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import strawberry
from strawberry.types import Info

from hub.appointments import service
from schema.appointments.types import Appointment, AppointmentSlot
from schema.context import Context
from schema.relay import from_global_id, int_id


@strawberry.type
class AppointmentQuery:
    @strawberry.field(description="分时段预约: a team's free slots on a day.")
    async def free_slots(
        self, info: Info[Context, Any], team_id: strawberry.ID, date: dt.date
    ) -> list[AppointmentSlot]:
        ctx = info.context
        team = from_global_id(str(team_id), "Team")[1]
        rows = await ctx.run(lambda s: service.free_slots(s, ctx.principal, team, date))
        return [AppointmentSlot.from_row(r) for r in rows]

    @strawberry.field(description="A resident's appointments, newest first (none if the "
                      "resident is not visible).")  # fmt: skip
    async def appointments(
        self, info: Info[Context, Any], resident_id: strawberry.ID
    ) -> list[Appointment]:
        ctx = info.context
        rid = int_id(str(resident_id), "Resident")
        rows = await ctx.run(lambda s: service.of_residents(s, ctx.principal, [rid]))
        ctx.audit_read("appointments", *{r.resident_id for r in rows})
        return [Appointment.from_row(r) for r in rows]
