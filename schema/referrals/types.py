"""GraphQL types of referrals: Referral, its booking, transitions, prescriptions; Capacity."""

from __future__ import annotations

import datetime as dt
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from hub.access.principal import Scope
from hub.referrals import models as m
from hub.referrals import repository
from hub.referrals.workflow import Action as _Action
from hub.referrals.workflow import next_action
from mappings.infrastructure import schedule
from mappings.referral import service_request
from schema.context import Context
from schema.directory.types import Organization, Team, load_organization, load_team
from schema.registry.types import Resident, load_resident
from schema.relay import Node, to_global_id

ReferralDirection = strawberry.enum(
    m.Direction,
    name="ReferralDirection",
    description="UP 上转: team → hospital; DOWN 下转: hospital → team.",
)
ReferralStatus = strawberry.enum(m.ReferralStatus, name="ReferralStatus")
ReferralUrgency = strawberry.enum(m.Urgency, name="ReferralUrgency")
ReferralPriority = strawberry.enum(
    m.Priority,
    name="ReferralPriority",
    description="The three priorities (三优先) a referral asks for.",
)
BookingKind = strawberry.enum(m.BookingKind, name="BookingKind")
BookingStatus = strawberry.enum(m.BookingStatus, name="BookingStatus")
ReferralAction = strawberry.enum(_Action, name="ReferralAction")


def _loader_of(info: Info[Context, Any], name: str, fetch: Any) -> Any:
    async def batch(session: Any, keys: list[int]) -> list[Any]:
        found = await fetch(session, keys)
        return [found.get(k) for k in keys]

    return info.context.loader(name, batch)


@strawberry.type(description="A summary document sent with a referral, by reference.")
class ReferralDocument:
    title: str
    url: str
    content_type: str | None


@strawberry.type(description="One status change: when, from what, to what, by whom.")
class ReferralTransition:
    from_status: ReferralStatus | None
    to_status: ReferralStatus
    at: dt.datetime
    actor: str = strawberry.field(description="The client (or internal actor) that made it.")
    note: str | None = strawberry.field(description="A rejection or cancellation reason.")


@strawberry.type(description="延续处方: a prescription the family doctor team is to continue.")
class Prescription:
    drug: str
    dose: str
    frequency: str | None
    duration: int
    duration_unit: str = strawberry.field(description="day, week or month.")
    issued_on: dt.date


@strawberry.type(description="The reserved expert slot or bed an accepted up-referral holds.")
class Booking:
    kind: BookingKind
    date: dt.date
    department: str
    status: BookingStatus


@strawberry.type(description="预留专家号和床位: one day's capacity of a hospital department.")
class Capacity(Node):
    row: strawberry.Private[m.Capacity]
    date: dt.date
    department: str
    expert_slots: int
    beds: int
    reserved_expert_slots: int = strawberry.field(description="Held for referrals from below.")
    reserved_beds: int
    booked_expert_slots: int
    booked_beds: int
    policy_share_expert_slots: str | None = strawberry.field(
        description="The regional policy's reserved share applied (e.g. 0.60); null if none."
    )
    policy_share_beds: str | None

    @classmethod
    def from_row(cls, r: m.Capacity) -> Capacity:
        return cls(
            row=r,
            id=strawberry.ID(to_global_id("Capacity", r.id)),
            date=r.date,
            department=r.department,
            expert_slots=r.expert_slots,
            beds=r.beds,
            reserved_expert_slots=r.reserved_expert_slots,
            reserved_beds=r.reserved_beds,
            booked_expert_slots=r.booked_expert_slots,
            booked_beds=r.booked_beds,
            policy_share_expert_slots=(r.shares or {}).get("expert_slots"),
            policy_share_beds=(r.shares or {}).get("beds"),
        )

    @strawberry.field(description="FHIR R4B Schedule of the day's published capacity.")
    def fhir(self) -> JSON:
        return schedule(self.row)

    @strawberry.field
    def free_reserved_expert_slots(self) -> int:
        return self.reserved_expert_slots - self.booked_expert_slots

    @strawberry.field
    def free_reserved_beds(self) -> int:
        return self.reserved_beds - self.booked_beds

    @strawberry.field
    async def organization(self, info: Info[Context, Any]) -> Organization | None:
        return await load_organization(info, self.row.organization_id)


@strawberry.type(description="转诊: a referral between a family doctor team and a hospital.")
class Referral(Node):
    row: strawberry.Private[m.Referral]
    referral_id: int = strawberry.field(description="The hub's numeric id.")
    direction: ReferralDirection
    status: ReferralStatus
    department: str | None
    reason: str
    diagnosis_code: str = strawberry.field(description="ICD-10.")
    diagnosis_text: str | None
    urgency: ReferralUrgency
    priorities: list[ReferralPriority]
    resident_signed: bool = strawberry.field(
        description="The resident held an active contract (签约) when last checked; signed "
        "residents come first for reserved capacity."
    )
    discharge_summary: str | None
    rehabilitation_plan: str | None
    completion_note: str | None
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def from_row(cls, r: m.Referral) -> Referral:
        return cls(
            row=r,
            id=strawberry.ID(to_global_id("Referral", r.id)),
            referral_id=r.id,
            direction=ReferralDirection(r.direction),
            status=ReferralStatus(r.status),
            department=r.department,
            reason=r.reason,
            diagnosis_code=r.diagnosis_code,
            diagnosis_text=r.diagnosis_text,
            urgency=ReferralUrgency(r.urgency),
            priorities=[ReferralPriority(p) for p in r.priorities],
            resident_signed=r.resident_signed,
            discharge_summary=r.discharge_summary,
            rehabilitation_plan=r.rehabilitation_plan,
            completion_note=r.completion_note,
            created_at=r.created_at,
            updated_at=r.updated_at,
        )

    @strawberry.field(description="The resident referred (masked as for any resident read).")
    async def resident(self, info: Info[Context, Any]) -> Resident | None:
        return await load_resident(info, self.row.resident_id, via=Scope.REFERRALS_READ)

    @strawberry.field(description="The family doctor team (sender of UP, receiver of DOWN).")
    async def team(self, info: Info[Context, Any]) -> Team | None:
        return await load_team(info, self.row.team_id)

    @strawberry.field(description="The hospital (receiver of UP, sender of DOWN).")
    async def hospital(self, info: Info[Context, Any]) -> Organization | None:
        return await load_organization(info, self.row.hospital_id)

    @strawberry.field
    async def from_organization(self, info: Info[Context, Any]) -> Organization | None:
        r = self.row
        return await load_organization(
            info, r.team_organization_id if r.direction == "UP" else r.hospital_id
        )

    @strawberry.field
    async def to_organization(self, info: Info[Context, Any]) -> Organization | None:
        r = self.row
        return await load_organization(
            info, r.hospital_id if r.direction == "UP" else r.team_organization_id
        )

    @strawberry.field
    def documents(self) -> list[ReferralDocument]:
        return [
            ReferralDocument(
                title=d.get("title", ""), url=d["url"], content_type=d.get("content_type")
            )
            for d in self.row.documents
        ]

    @strawberry.field(description="What the receiving side does next; null once closed.")
    def next_action(self) -> ReferralAction | None:
        action = next_action(self.row.status)
        return ReferralAction(action) if action else None

    async def _transitions(self, info: Info[Context, Any]) -> list[Any]:
        found = await _loader_of(info, "ReferralTransitions", repository.transitions).load(
            self.row.id
        )
        return found or []

    async def _booking(self, info: Info[Context, Any]) -> Any:
        return await _loader_of(info, "ReferralBooking", repository.bookings).load(self.row.id)

    async def _prescriptions(self, info: Info[Context, Any]) -> list[Any]:
        found = await _loader_of(info, "ReferralPrescriptions", repository.prescriptions).load(
            self.row.id
        )
        return found or []

    @strawberry.field(description="Every status change, oldest first (turnaround comes from here).")
    async def transitions(self, info: Info[Context, Any]) -> list[ReferralTransition]:
        return [
            ReferralTransition(
                from_status=ReferralStatus(t.from_status) if t.from_status else None,
                to_status=ReferralStatus(t.to_status),
                at=t.at,
                actor=t.actor,
                note=t.note,
            )
            for t in await self._transitions(info)
        ]

    @strawberry.field
    async def booking(self, info: Info[Context, Any]) -> Booking | None:
        b = await self._booking(info)
        return (
            Booking(
                kind=BookingKind(b.kind),
                date=b.date,
                department=b.department,
                status=BookingStatus(b.status),
            )
            if b
            else None
        )

    @strawberry.field
    async def prescriptions(self, info: Info[Context, Any]) -> list[Prescription]:
        return [
            Prescription(
                drug=p.drug,
                dose=p.dose,
                frequency=p.frequency,
                duration=p.duration_amount,
                duration_unit=p.duration_unit,
                issued_on=p.issued_on,
            )
            for p in await self._prescriptions(info)
        ]

    @strawberry.field(
        description="The up-referral this down-referral hands the resident back from."
    )
    async def parent(self, info: Info[Context, Any]) -> Referral | None:
        return await load_referral(info, self.row.parent_id)

    @strawberry.field(description="The down-referral opened when this up-referral completed.")
    async def down_referral(self, info: Info[Context, Any]) -> Referral | None:
        row = await _loader_of(info, "ReferralFollowUp", repository.follow_ups).load(self.row.id)
        return Referral.from_row(row) if row else None

    @strawberry.field(
        description="FHIR R4B ServiceRequest with its Task, Appointment (booked "
        "slot or bed) and MedicationRequests contained."
    )
    async def fhir(self, info: Info[Context, Any]) -> JSON:
        return service_request(
            self.row,
            transitions=await self._transitions(info),
            booking=await self._booking(info),
            prescriptions=await self._prescriptions(info),
        )


async def load_referral(info: Info[Context, Any], key: int | None) -> Referral | None:
    """A referral by id through the per-request loader; the caller checked visibility."""
    if key is None:
        return None
    row = await _loader_of(info, "Referral", repository.get_many).load(key)
    return Referral.from_row(row) if row else None


