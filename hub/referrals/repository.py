"""Every referral and capacity query. The service calls these; nothing else writes their SQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.access import policy
from hub.access.principal import Principal
from hub.referrals.models import (
    Booking,
    BookingKind,
    BookingStatus,
    Capacity,
    Referral,
    ReferralPrescription,
    ReferralTransition,
)
from hub.referrals.workflow import OPEN, WAITING


@dataclass(frozen=True, slots=True)
class ReferralFilter:
    status: str | None = None
    direction: str | None = None
    organization_id: str | None = None  # either side
    team_id: str | None = None
    resident_id: int | None = None


def visible(principal: Principal) -> ColumnElement[bool] | None:
    """Referrals this client may see: the one access policy (`hub.access.policy`)."""
    return policy.referrals(principal)


def filtered(principal: Principal, flt: ReferralFilter) -> Select[Any]:
    stmt = select(Referral)
    if (cond := visible(principal)) is not None:
        stmt = stmt.where(cond)
    if flt.status:
        stmt = stmt.where(Referral.status == flt.status)
    if flt.direction:
        stmt = stmt.where(Referral.direction == flt.direction)
    if flt.organization_id:
        stmt = stmt.where(
            or_(
                Referral.hospital_id == flt.organization_id,
                Referral.team_organization_id == flt.organization_id,
            )
        )
    if flt.team_id:
        stmt = stmt.where(Referral.team_id == flt.team_id)
    if flt.resident_id is not None:
        stmt = stmt.where(Referral.resident_id == flt.resident_id)
    return stmt


async def page(
    session: AsyncSession, stmt: Select[Any], *, after: int | None, limit: int
) -> tuple[list[Referral], int, bool]:
    """Keyset page by id: (rows, total count, has next page)."""
    total = await session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    if after is not None:
        stmt = stmt.where(Referral.id > after)
    rows = list((await session.scalars(stmt.order_by(Referral.id).limit(limit + 1))).all())
    return rows[:limit], int(total or 0), len(rows) > limit


async def get(session: AsyncSession, referral_id: int) -> Referral | None:
    return await session.scalar(select(Referral).where(Referral.id == referral_id))


async def get_visible(
    session: AsyncSession, principal: Principal, referral_id: int
) -> Referral | None:
    stmt = select(Referral).where(Referral.id == referral_id)
    if (cond := visible(principal)) is not None:
        stmt = stmt.where(cond)
    # populate_existing: the caller may have changed the row with a Core UPDATE
    return await session.scalar(stmt.execution_options(populate_existing=True))


async def get_many(session: AsyncSession, ids: Sequence[int]) -> dict[int, Referral]:
    if not ids:
        return {}
    return {r.id: r for r in await session.scalars(select(Referral).where(Referral.id.in_(ids)))}


async def for_residents(
    session: AsyncSession, principal: Principal, resident_ids: Sequence[int]
) -> dict[int, list[Referral]]:
    out: dict[int, list[Referral]] = {i: [] for i in resident_ids}
    stmt = select(Referral).where(Referral.resident_id.in_(resident_ids)).order_by(Referral.id)
    if (cond := visible(principal)) is not None:
        stmt = stmt.where(cond)
    for r in await session.scalars(stmt):
        out[r.resident_id].append(r)
    return out


async def open_down_referrals(session: AsyncSession, team_id: str) -> list[Referral]:
    """The team's work list: residents handed back to it and not yet closed."""
    stmt = (
        select(Referral)
        .where(
            Referral.team_id == team_id,
            Referral.direction == "DOWN",
            Referral.status.in_([s.value for s in OPEN]),
        )
        .order_by(Referral.id)
    )
    return list((await session.scalars(stmt)).all())


async def follow_ups(session: AsyncSession, parent_ids: Sequence[int]) -> dict[int, Referral]:
    rows = await session.scalars(select(Referral).where(Referral.parent_id.in_(parent_ids)))
    return {r.parent_id: r for r in rows if r.parent_id is not None}


async def transitions(
    session: AsyncSession, ids: Sequence[int]
) -> dict[int, list[ReferralTransition]]:
    out: dict[int, list[ReferralTransition]] = {i: [] for i in ids}
    rows = await session.scalars(
        select(ReferralTransition)
        .where(ReferralTransition.referral_id.in_(ids))
        .order_by(ReferralTransition.id)
    )
    for t in rows:
        out[t.referral_id].append(t)
    return out


async def prescriptions(
    session: AsyncSession, ids: Sequence[int]
) -> dict[int, list[ReferralPrescription]]:
    out: dict[int, list[ReferralPrescription]] = {i: [] for i in ids}
    rows = await session.scalars(
        select(ReferralPrescription)
        .where(ReferralPrescription.referral_id.in_(ids))
        .order_by(ReferralPrescription.id)
    )
    for p in rows:
        out[p.referral_id].append(p)
    return out


async def bookings(session: AsyncSession, ids: Sequence[int]) -> dict[int, Booking]:
    rows = await session.scalars(select(Booking).where(Booking.referral_id.in_(ids)))
    return {b.referral_id: b for b in rows}


async def move(
    session: AsyncSession,
    referral_id: int,
    from_statuses: frozenset[Any],
    to_status: str,
    **values: Any,
) -> bool:
    """Change the status only if it is still one of ``from_statuses``: an atomic check, so
    two clients acting on the same referral at once cannot both succeed."""
    result = await session.execute(
        update(Referral)
        .where(Referral.id == referral_id, Referral.status.in_([str(s) for s in from_statuses]))
        .values(status=to_status, updated_at=dt.datetime.now(dt.UTC), **values)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


# ---- capacity -----------------------------------------------------------------------------

_BOOKED = {BookingKind.EXPERT_SLOT: "booked_expert_slots", BookingKind.BED: "booked_beds"}
_RESERVED = {BookingKind.EXPERT_SLOT: "reserved_expert_slots", BookingKind.BED: "reserved_beds"}


async def capacity(
    session: AsyncSession, organization_id: str, day: dt.date, department: str
) -> Capacity | None:
    return await session.scalar(
        select(Capacity)
        .where(
            Capacity.organization_id == organization_id,
            Capacity.date == day,
            Capacity.department == department,
        )
        .execution_options(populate_existing=True)
    )


async def capacities(
    session: AsyncSession, organization_id: str, start: dt.date, end: dt.date
) -> list[Capacity]:
    rows = await session.scalars(
        select(Capacity)
        .where(
            Capacity.organization_id == organization_id,
            Capacity.date >= start,
            Capacity.date <= end,
        )
        .order_by(Capacity.date, Capacity.department)
    )
    return list(rows.all())


async def take_unit(
    session: AsyncSession, capacity_id: int, kind: BookingKind, keep_free: int
) -> bool:
    """Book one reserved unit if, afterwards, ``keep_free`` units are still free.

    One conditional UPDATE: on PostgreSQL a second booking of the same row waits for the
    first to commit and re-checks the condition; SQLite runs one writer at a time. Either
    way two accepts cannot both take the last unit.
    """
    booked = getattr(Capacity, _BOOKED[kind])
    reserved = getattr(Capacity, _RESERVED[kind])
    result = await session.execute(
        update(Capacity)
        .where(Capacity.id == capacity_id, booked + 1 + keep_free <= reserved)
        .values({booked: booked + 1})
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


async def give_back_unit(session: AsyncSession, booking: Booking) -> None:
    kind = BookingKind(booking.kind)
    booked = getattr(Capacity, _BOOKED[kind])
    await session.execute(
        update(Capacity)
        .where(Capacity.id == booking.capacity_id, booked > 0)
        .values({booked: booked - 1})
        .execution_options(synchronize_session=False)
    )
    booking.status = BookingStatus.RELEASED
    booking.released_at = dt.datetime.now(dt.UTC)


async def waiting_signed(
    session: AsyncSession, *, hospital_id: str, department: str, priority: str, exclude_id: int
) -> int:
    """Signed residents' referrals to this hospital and department still waiting for a
    booking, that ask for ``priority`` (EXPERT_APPOINTMENT for a slot, ADMISSION for a bed)."""
    rows = await session.scalars(
        select(Referral.priorities).where(
            Referral.hospital_id == hospital_id,
            Referral.direction == "UP",
            Referral.resident_signed.is_(True),
            Referral.id != exclude_id,
            Referral.status.in_([s.value for s in WAITING]),
            or_(Referral.department.is_(None), Referral.department == department),
        )
    )
    # priorities is a JSON list; counting in Python keeps one query for both engines
    return sum(1 for p in rows if priority in (p or []))
