"""Every query of the appointment book."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.appointments.models import Appointment, AppointmentSlot, AppointmentStatus
from hub.contracts.models import Contract, ContractStatus


async def take(session: AsyncSession, slot_id: int) -> bool:
    """Take a free slot: True for exactly one of any number of concurrent callers."""
    result = await session.execute(
        update(AppointmentSlot)
        .where(AppointmentSlot.id == slot_id, AppointmentSlot.taken.is_(False))
        .values(taken=True)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def give_back(session: AsyncSession, slot_id: int) -> None:
    await session.execute(
        update(AppointmentSlot).where(AppointmentSlot.id == slot_id).values(taken=False)
    )


async def slot(session: AsyncSession, slot_id: int) -> AppointmentSlot | None:
    return await session.get(AppointmentSlot, slot_id)


async def free_slots(
    session: AsyncSession, team_id: str, start: dt.datetime, end: dt.datetime
) -> list[AppointmentSlot]:
    return list(await session.scalars(
        select(AppointmentSlot)
        .where(AppointmentSlot.team_id == team_id, AppointmentSlot.start_at >= start,
               AppointmentSlot.start_at < end, AppointmentSlot.taken.is_(False))
        .order_by(AppointmentSlot.start_at, AppointmentSlot.id)))  # fmt: skip


async def appointment_for_update(session: AsyncSession, appointment_id: int) -> Appointment | None:
    return await session.get(Appointment, appointment_id, with_for_update=True)


async def booked_between(
    session: AsyncSession, team_id: str, start: dt.datetime, end: dt.datetime,
    statuses: Sequence[str] = (AppointmentStatus.BOOKED,),
) -> list[Appointment]:  # fmt: skip
    return list(await session.scalars(
        select(Appointment)
        .where(Appointment.team_id == team_id, Appointment.start_at >= start,
               Appointment.start_at < end, Appointment.status.in_(list(statuses)))
        .order_by(Appointment.start_at, Appointment.id)))  # fmt: skip


async def of_residents(session: AsyncSession, resident_ids: Sequence[int]) -> list[Appointment]:
    return list(await session.scalars(
        select(Appointment).where(Appointment.resident_id.in_(list(resident_ids)))
        .order_by(Appointment.start_at.desc(), Appointment.id)))  # fmt: skip


async def signed_with_team(session: AsyncSession, resident_id: int, team_id: str) -> bool:
    return bool(await session.scalar(select(Contract.id).where(
        Contract.resident_id == resident_id, Contract.team_id == team_id,
        Contract.status == ContractStatus.ACTIVE)))  # fmt: skip
