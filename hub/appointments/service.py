"""The appointment book's rules: publishing sessions, booking, cancelling, arriving.

Two bookings never take the same slot: the slot is taken by a conditional UPDATE
(``taken = false`` → ``true``), as reserved referral capacity is. Signed residents of the
team book earlier than others (签约居民优先), by the region's `appointments` policy.
Times are local (China Standard Time) for people and UTC in the database.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from hub.access import policy as access_policy
from hub.access.principal import Principal, Scope
from hub.appointments import repository
from hub.appointments.models import (
    Appointment,
    AppointmentSlot,
    AppointmentStatus,
    ClinicSession,
    ServiceKind,
)
from hub.contracts import catalog
from hub.contracts.policy import AppointmentPolicy
from hub.directory.models import Organization, Team
from hub.errors import DomainError, InvalidInput, NotFound
from hub.events.service import emit

LOCAL = ZoneInfo("Asia/Shanghai")
MAX_SLOTS = 200
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class AppointmentError(DomainError):
    pass


@dataclass(frozen=True, slots=True)
class SessionCommand:
    team_id: str
    day: dt.date
    start: str
    end: str
    slot_minutes: int
    service_kind: str
    off_hours: bool = False


def _now(now: dt.datetime | None) -> dt.datetime:
    return now or dt.datetime.now(dt.UTC)


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def local_day(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    if not dt.date(1900, 1, 1) <= day <= dt.date(9998, 12, 30):
        # the local day's bounds in UTC must exist (0001-01-01 00:00+08:00 does not)
        raise InvalidInput(f"{day.isoformat()} is outside the dates a clinic day can have.",
                           field="date", code="DATE_OUT_OF_RANGE")  # fmt: skip
    start = dt.datetime.combine(day, dt.time(), LOCAL)
    return start, start + dt.timedelta(days=1)


def _kind(value: str) -> ServiceKind:
    try:
        return ServiceKind(value)
    except ValueError:
        raise InvalidInput(f"Unknown service kind {value!r}; one of "
                           f"{', '.join(ServiceKind)}.", field="serviceKind",
                           code="UNKNOWN_SERVICE_KIND") from None  # fmt: skip


def _time(value: str, fld: str) -> dt.time:
    m = _HHMM.match(value)
    if not m:
        raise InvalidInput(f"{fld} is a local time HH:MM, e.g. 09:00.", field=fld,
                           code="INVALID_TIME")  # fmt: skip
    return dt.time(int(m[1]), int(m[2]))


async def _team(
    session: AsyncSession, principal: Principal, team_id: str
) -> tuple[Team, Organization]:
    team = await session.get(Team, team_id)
    if team is None or not await access_policy.may_act_for_team(session, principal, team):
        raise NotFound(f"No team {team_id} this client acts for.", field="teamId")
    org = await session.get(Organization, team.organization_id)
    assert org is not None  # foreign key
    return team, org


def rules_for(org: Organization) -> AppointmentPolicy:
    return catalog.policy_for_organization(org).appointments


async def publish(
    session: AsyncSession, principal: Principal, cmd: SessionCommand, *,
    now: dt.datetime | None = None,
) -> tuple[ClinicSession, list[AppointmentSlot]]:  # fmt: skip
    """发布门诊时段: a team's clinic session on a day, cut into slots of `slot_minutes`."""
    principal.require(Scope.CONTRACTS_WRITE)
    team, org = await _team(session, principal, cmd.team_id)
    kind = _kind(cmd.service_kind)
    start, end = _time(cmd.start, "start"), _time(cmd.end, "end")
    if end <= start:
        raise InvalidInput("The session ends after it starts.", field="end",
                           code="INVALID_SESSION")  # fmt: skip
    rules = rules_for(org)
    if not rules.min_slot_minutes <= cmd.slot_minutes <= 480:
        raise AppointmentError(f"A slot lasts {rules.min_slot_minutes} to 480 minutes in this "
                               "region.", field="slotMinutes", code="SLOT_TOO_SHORT")  # fmt: skip
    if cmd.day < _now(now).astimezone(LOCAL).date():
        raise InvalidInput("A session is published for today or a later day.", field="date",
                           code="DATE_IN_PAST")  # fmt: skip
    first = dt.datetime.combine(cmd.day, start, LOCAL)
    last = dt.datetime.combine(cmd.day, end, LOCAL)
    step = dt.timedelta(minutes=cmd.slot_minutes)
    count = int((last - first) / step)
    if count < 1:
        raise AppointmentError("The session is shorter than one slot.", field="slotMinutes",
                               code="INVALID_SESSION")  # fmt: skip
    if count > MAX_SLOTS:
        raise AppointmentError(f"At most {MAX_SLOTS} slots per session.", field="slotMinutes",
                               code="TOO_MANY_SLOTS")  # fmt: skip
    clinic = ClinicSession(team_id=team.id, organization_id=org.id, day=cmd.day,
                           start=cmd.start, end=cmd.end, slot_minutes=cmd.slot_minutes,
                           service_kind=kind, off_hours=cmd.off_hours)  # fmt: skip
    session.add(clinic)
    await session.flush()
    slots = [AppointmentSlot(session_id=clinic.id, team_id=team.id, service_kind=kind,
                             start_at=(first + i * step).astimezone(dt.UTC),
                             end_at=(first + (i + 1) * step).astimezone(dt.UTC))
             for i in range(count)]  # fmt: skip
    session.add_all(slots)
    await session.flush()
    return clinic, slots


async def free_slots(
    session: AsyncSession, principal: Principal, team_id: str, day: dt.date
) -> list[AppointmentSlot]:
    """The free slots of a team on a day (no personal data: any reading client)."""
    if not (principal.has(Scope.CONTRACTS_READ) or principal.has(Scope.RESIDENTS_READ)):
        principal.require(Scope.CONTRACTS_READ)
    start, end = local_day(day)
    return await repository.free_slots(session, team_id, start, end)


async def _check_booking(
    session: AsyncSession, slot: AppointmentSlot, resident_id: int, kind: ServiceKind,
    now: dt.datetime,
) -> None:  # fmt: skip
    if slot.service_kind != kind:
        raise AppointmentError(f"This slot is for {slot.service_kind}, not {kind}.",
                               field="serviceKind", code="SERVICE_KIND_MISMATCH")  # fmt: skip
    starts = _aware(slot.start_at)
    if starts <= now:
        raise AppointmentError("This slot has begun or passed.", field="slotId",
                               code="SLOT_PAST")  # fmt: skip
    team = await session.get(Team, slot.team_id)
    assert team is not None
    org = await session.get(Organization, team.organization_id)
    assert org is not None
    rules = rules_for(org)
    ahead = (starts.astimezone(LOCAL).date() - now.astimezone(LOCAL).date()).days
    if ahead > rules.booking_window_days:
        raise AppointmentError(f"Slots are booked at most {rules.booking_window_days} days "
                               "ahead.", field="slotId", code="OUTSIDE_BOOKING_WINDOW")  # fmt: skip
    others = rules.booking_window_days - rules.signed_priority_days
    if ahead > others and not await repository.signed_with_team(session, resident_id, team.id):
        opens = starts.astimezone(LOCAL).date() - dt.timedelta(days=others)
        raise AppointmentError(
            f"Signed residents of this team book first; this slot opens to others on "
            f"{opens.isoformat()}.",
            field="slotId",
            code="SIGNED_PRIORITY_WINDOW",
        )


async def _resident(session: AsyncSession, principal: Principal, resident_id: int) -> None:
    from hub.registry.models import Resident

    if await session.get(Resident, resident_id) is None or not \
            await access_policy.may_see_resident(session, principal, resident_id):  # fmt: skip
        raise NotFound(f"No resident {resident_id} visible to this client.", field="residentId")


async def _take(session: AsyncSession, slot_id: int) -> AppointmentSlot:
    slot = await repository.slot(session, slot_id)
    if slot is None:
        raise NotFound(f"No slot {slot_id}.", field="slotId")
    return slot


def _emit(session: AsyncSession, type: str, a: Appointment, org_id: str | None) -> None:
    emit(session, type, "Appointment", a.id, organization_ids=[org_id] if org_id else [],
         resident_id=a.resident_id, team_id=a.team_id, slot_id=a.slot_id,
         start=_aware(a.start_at).isoformat(), service_kind=a.service_kind,
         status=a.status)  # fmt: skip


async def _org_of(session: AsyncSession, team_id: str) -> str | None:
    team = await session.get(Team, team_id)
    return team.organization_id if team else None


async def book(
    session: AsyncSession, principal: Principal, slot_id: int, resident_id: int,
    service_kind: str, *, now: dt.datetime | None = None,
) -> Appointment:  # fmt: skip
    """预约: take the slot for the resident, or SLOT_TAKEN."""
    principal.require(Scope.CONTRACTS_WRITE)
    now = _now(now)
    kind = _kind(service_kind)
    await _resident(session, principal, resident_id)
    slot = await _take(session, slot_id)
    await _check_booking(session, slot, resident_id, kind, now)
    if not await repository.take(session, slot.id):
        raise AppointmentError("This slot was just taken; choose another.", field="slotId",
                               code="SLOT_TAKEN")  # fmt: skip
    a = Appointment(slot_id=slot.id, team_id=slot.team_id, resident_id=resident_id,
                    service_kind=kind, start_at=slot.start_at, end_at=slot.end_at,
                    booked_by_client_id=principal.client_id)  # fmt: skip
    session.add(a)
    await session.flush()
    _emit(session, "appointment.booked", a, await _org_of(session, a.team_id))
    return a


async def _appointment(
    session: AsyncSession, principal: Principal, appointment_id: int, *, team_only: bool = False
) -> Appointment:
    principal.require(Scope.CONTRACTS_WRITE)
    a = await repository.appointment_for_update(session, appointment_id)
    if a is not None:
        team = await session.get(Team, a.team_id)
        for_team = team is not None and await access_policy.may_act_for_team(session, principal,
                                                                             team)  # fmt: skip
        if for_team or (
            not team_only
            and await access_policy.may_see_resident(session, principal, a.resident_id)
        ):
            return a
    raise NotFound(f"No appointment {appointment_id} this client may change.",
                   field="appointmentId")  # fmt: skip


def _booked(a: Appointment) -> None:
    if a.status != AppointmentStatus.BOOKED:
        raise AppointmentError(f"The appointment is {a.status.lower()}.", field="appointmentId",
                               code="APPOINTMENT_NOT_BOOKED")  # fmt: skip


async def _before_deadline(session: AsyncSession, a: Appointment, now: dt.datetime) -> None:
    org = await session.get(Organization, await _org_of(session, a.team_id))
    assert org is not None
    hours = rules_for(org).cancel_deadline_hours
    if now > _aware(a.start_at) - dt.timedelta(hours=hours):
        raise AppointmentError(f"Appointments are cancelled or moved up to {hours} hours "
                               "before they start.", field="appointmentId",
                               code="CANCEL_DEADLINE_PASSED")  # fmt: skip


async def cancel(
    session: AsyncSession, principal: Principal, appointment_id: int, *,
    now: dt.datetime | None = None,
) -> Appointment:  # fmt: skip
    a = await _appointment(session, principal, appointment_id)
    _booked(a)
    await _before_deadline(session, a, _now(now))
    a.status = AppointmentStatus.CANCELLED
    await repository.give_back(session, a.slot_id)
    await session.flush()
    _emit(session, "appointment.cancelled", a, await _org_of(session, a.team_id))
    return a


async def reschedule(
    session: AsyncSession, principal: Principal, appointment_id: int, slot_id: int, *,
    now: dt.datetime | None = None,
) -> Appointment:  # fmt: skip
    """Move to another slot: the old one is cancelled once the new one is taken."""
    now = _now(now)
    old = await _appointment(session, principal, appointment_id)
    _booked(old)
    await _before_deadline(session, old, now)
    new = await book(session, principal, slot_id, old.resident_id, old.service_kind, now=now)
    old.status = AppointmentStatus.CANCELLED
    await repository.give_back(session, old.slot_id)
    await session.flush()
    _emit(session, "appointment.cancelled", old, await _org_of(session, old.team_id))
    return new


async def mark(
    session: AsyncSession, principal: Principal, appointment_id: int, status: str
) -> Appointment:
    """到诊 / 爽约: the team records what happened (not the resident)."""
    if status not in (AppointmentStatus.ARRIVED, AppointmentStatus.NO_SHOW):
        raise InvalidInput("Mark an appointment ARRIVED or NO_SHOW.", field="status",
                           code="INVALID_STATUS")  # fmt: skip
    a = await _appointment(session, principal, appointment_id, team_only=True)
    _booked(a)
    a.status = status
    await session.flush()
    return a


async def of_residents(
    session: AsyncSession, principal: Principal, resident_ids: list[int]
) -> list[Appointment]:
    seen = await access_policy.visible_resident_ids(session, principal, resident_ids)
    return await repository.of_residents(session, sorted(seen)) if seen else []
