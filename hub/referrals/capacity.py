"""Reserved hospital capacity (预留专家号和床位): publishing it, booking it, giving it back.

A hospital publishes, per day and department, its expert slots and beds. The part
reserved for referrals from primary care is the region's policy share of each (rounded
up), or more if the hospital declares more; regions without a share reserve what the
hospital declares, or everything it publishes to the hub (see ``rules.reserved_units``).

Signed residents come first (签约居民优先): an unsigned resident may take a reserved unit
only if enough stay free for every signed resident's referral to that hospital and
department that is still waiting for a booking and asks for that kind of unit. An
unsigned resident is never refused while no signed resident waits, and a signed
resident is never held back by anyone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.access.principal import Principal, Scope
from hub.directory.models import Organization
from hub.errors import DomainError, Forbidden, NotFound
from hub.events.service import emit
from hub.referrals import repository, rules
from hub.referrals.models import Booking, BookingKind, Capacity, Priority, Referral

PRIORITY_FOR = {
    BookingKind.EXPERT_SLOT: Priority.EXPERT_APPOINTMENT,
    BookingKind.BED: Priority.ADMISSION,
}


class NoReservedCapacity(DomainError):
    code = "NO_RESERVED_CAPACITY"


@dataclass(frozen=True, slots=True)
class BookingRequest:
    kind: BookingKind
    date: dt.date
    department: str | None = None


def require_member(principal: Principal, organization_id: str, field: str) -> None:
    if principal.bound and organization_id not in principal.organization_ids:
        raise Forbidden(
            f"This client acts for {', '.join(principal.organization_ids)}, "
            f"not for {organization_id}.",
            field=field,
        )


async def hospital(session: AsyncSession, organization_id: str, field: str) -> Organization:
    org = await session.get(Organization, organization_id)
    if org is None:
        raise NotFound(f"No organization {organization_id}.", field=field)
    if org.primary_care:
        raise DomainError(
            f"{org.name} is a primary-care institution; referrals go up to, and "
            "capacity is published by, secondary or tertiary hospitals.",
            field=field,
            code="NOT_A_HOSPITAL",
        )
    return org


async def publish(
    session: AsyncSession,
    principal: Principal,
    *,
    organization_id: str,
    day: dt.date,
    department: str,
    expert_slots: int,
    beds: int,
    reserved_expert_slots: int | None = None,
    reserved_beds: int | None = None,
) -> Capacity:
    """Publish (or re-publish) one day's capacity of one department."""
    principal.require(Scope.REFERRALS_WRITE)
    require_member(principal, organization_id, "organizationId")
    org = await hospital(session, organization_id, "organizationId")
    department = department.strip()
    if not department:
        raise DomainError(
            "Name the department the slots and beds belong to.",
            field="department",
            code="DEPARTMENT_REQUIRED",
        )
    policy = rules.policy_of(org.region_key)
    share_slots = rules.reserved_share(policy, org.kind, day, "expert_slots")
    share_beds = rules.reserved_share(policy, org.kind, day, "beds")
    slots = rules.reserved_units(
        expert_slots, share_slots, reserved_expert_slots, field="expertSlots"
    )
    bed_units = rules.reserved_units(beds, share_beds, reserved_beds, field="beds")
    values = dict(
        expert_slots=expert_slots,
        beds=beds,
        reserved_expert_slots=slots,
        reserved_beds=bed_units,
        published_by=principal.name,
        published_at=dt.datetime.now(dt.UTC),
        shares={"expert_slots": _str(share_slots), "beds": _str(share_beds)},
    )
    row = await repository.capacity(session, organization_id, day, department)
    if row is None:
        row = Capacity(organization_id=organization_id, date=day, department=department, **values)
        session.add(row)
        await session.flush()
    else:
        # conditional, so a booking committed meanwhile cannot end up above the new numbers
        result = await session.execute(
            update(Capacity)
            .where(
                Capacity.id == row.id,
                Capacity.booked_expert_slots <= slots,
                Capacity.booked_beds <= bed_units,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) != 1:
            raise DomainError(
                f"{row.booked_expert_slots} reserved slots and {row.booked_beds} beds are "
                "booked already; the reserved part cannot go below them.",
                field="expertSlots",
                code="CAPACITY_BELOW_BOOKED",
            )
        row = await repository.capacity(session, organization_id, day, department)
        assert row is not None
    emit(
        session,
        "capacity.published",
        "Capacity",
        row.id,
        organization_ids=[organization_id],
        date=day.isoformat(),
        department=department,
        reserved_expert_slots=slots,
        reserved_beds=bed_units,
    )
    return row


async def days(
    session: AsyncSession, principal: Principal, organization_id: str, start: dt.date, end: dt.date
) -> list[Capacity]:
    """Published capacity is not private: any client that works with referrals may plan."""
    principal.require(Scope.REFERRALS_READ)
    return await repository.capacities(session, organization_id, start, end)


def _str(share: object) -> str | None:
    return None if share is None else str(share)


async def book(
    session: AsyncSession, referral: Referral, request: BookingRequest, *, signed: bool
) -> Booking:
    """Take one reserved unit for an accepted up-referral, or refuse with a clear code."""
    department = (request.department or referral.department or "").strip()
    if not department:
        raise DomainError(
            "Name the department to book in (the referral names none).",
            field="booking.department",
            code="DEPARTMENT_REQUIRED",
        )
    cap = await repository.capacity(session, referral.hospital_id, request.date, department)
    if cap is None:
        raise NoReservedCapacity(
            f"The hospital has published no capacity for {department} on "
            f"{request.date.isoformat()}.",
            field="booking.date",
        )
    keep_free = (
        0
        if signed
        else await repository.waiting_signed(
            session,
            hospital_id=referral.hospital_id,
            department=department,
            priority=PRIORITY_FOR[request.kind],
            exclude_id=referral.id,
        )
    )
    if not await repository.take_unit(session, cap.id, request.kind, keep_free):
        fresh = await repository.capacity(session, referral.hospital_id, request.date, department)
        assert fresh is not None
        booked, reserved = (
            (fresh.booked_expert_slots, fresh.reserved_expert_slots)
            if request.kind is BookingKind.EXPERT_SLOT
            else (fresh.booked_beds, fresh.reserved_beds)
        )
        what = "expert slots" if request.kind is BookingKind.EXPERT_SLOT else "beds"
        if booked >= reserved:
            raise NoReservedCapacity(
                f"All {reserved} {what} reserved for referrals in {department} on "
                f"{request.date.isoformat()} are booked; choose another day.",
                field="booking.date",
            )
        raise NoReservedCapacity(
            f"The {reserved - booked} free reserved {what} in {department} on "
            f"{request.date.isoformat()} are held for {keep_free} signed residents' referrals "
            "still waiting; signed residents come first.",
            field="booking",
            code="RESERVED_FOR_SIGNED_RESIDENTS",
        )
    booking = Booking(
        referral_id=referral.id,
        capacity_id=cap.id,
        kind=request.kind,
        date=request.date,
        department=department,
    )
    session.add(booking)
    await session.flush()
    return booking


async def release(session: AsyncSession, referral_id: int) -> Booking | None:
    """Give a cancelled referral's unit back to the reserved pool."""
    found = (await repository.bookings(session, [referral_id])).get(referral_id)
    if found is not None and found.status == "BOOKED":
        await repository.give_back_unit(session, found)
    return found
