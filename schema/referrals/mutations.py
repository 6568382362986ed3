"""Referral mutations (referrals:write): the workflow and hospital capacity."""

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Any

import strawberry
from strawberry.types import Info

from hub.errors import InvalidInput
from hub.referrals import capacity, rules, service
from hub.referrals import models as m
from schema.context import Context
from schema.errors import UserError
from schema.referrals.types import (
    BookingKind,
    Capacity,
    Referral,
    ReferralDirection,
    ReferralPriority,
    ReferralUrgency,
)
from schema.relay import int_id, raw_id


@strawberry.enum(name="PrescriptionDurationUnit")
class DurationUnit(Enum):
    DAY = "DAY"
    WEEK = "WEEK"
    MONTH = "MONTH"


@strawberry.input(description="A summary document by reference (no content is stored).")
class DocumentInput:
    title: str
    url: str = strawberry.field(description="http(s) URL or URN where the document is kept.")
    content_type: str | None = None


@strawberry.input(
    description="A continuing prescription; its length is capped by the region's "
    "long-prescription rule (长处方), e.g. 12 weeks in Yongkang."
)
class PrescriptionInput:
    drug: str
    dose: str
    frequency: str | None = None
    duration: int
    duration_unit: DurationUnit = DurationUnit.DAY

    def item(self) -> rules.PrescriptionItem:
        return rules.PrescriptionItem(
            drug=self.drug,
            dose=self.dose,
            frequency=self.frequency,
            duration=rules.duration(self.duration, self.duration_unit.value),
        )


@strawberry.input(
    description="A referral joins one family doctor team and one hospital. UP: "
    "fromTeamId → toOrganizationId. DOWN: fromOrganizationId (the hospital) → "
    "toTeamId; fromTeamId/toOrganizationId are accepted in their place."
)
class CreateReferralInput:
    resident_id: strawberry.ID
    from_team_id: strawberry.ID | None = None
    to_organization_id: strawberry.ID | None = None
    direction: ReferralDirection
    reason: str
    diagnosis_code: str = strawberry.field(description="ICD-10, e.g. I10, E11.9.")
    priorities: list[ReferralPriority] = strawberry.field(default_factory=list)
    department: str | None = None
    urgency: ReferralUrgency = ReferralUrgency.ROUTINE
    diagnosis_text: str | None = None
    documents: list[DocumentInput] = strawberry.field(default_factory=list)
    from_organization_id: strawberry.ID | None = None
    to_team_id: strawberry.ID | None = None
    discharge_summary: str | None = strawberry.field(default=None, description="DOWN only.")
    rehabilitation_plan: str | None = strawberry.field(default=None, description="DOWN only.")
    prescriptions: list[PrescriptionInput] = strawberry.field(default_factory=list)

    def command(self) -> service.NewReferral:
        team = raw_id(self.to_team_id, "Team") or raw_id(self.from_team_id, "Team")
        hospital = raw_id(self.from_organization_id, "Organization") or raw_id(
            self.to_organization_id, "Organization"
        )
        if team is None:
            raise InvalidInput(
                "Name the family doctor team.", field="fromTeamId", code="TEAM_REQUIRED"
            )
        if hospital is None:
            raise InvalidInput(
                "Name the hospital.", field="toOrganizationId", code="ORGANIZATION_REQUIRED"
            )
        return service.NewReferral(
            direction=m.Direction(self.direction.value),
            resident_id=int_id(str(self.resident_id), "Resident"),
            team_id=team,
            hospital_id=hospital,
            reason=self.reason,
            diagnosis_code=self.diagnosis_code.strip(),
            priorities=[m.Priority(p.value) for p in self.priorities],
            diagnosis_text=self.diagnosis_text,
            department=self.department,
            urgency=m.Urgency(self.urgency.value),
            documents=[
                {"title": d.title, "url": d.url, "content_type": d.content_type}
                for d in self.documents
            ],
            discharge_summary=self.discharge_summary,
            rehabilitation_plan=self.rehabilitation_plan,
            prescriptions=[p.item() for p in self.prescriptions],
        )


@strawberry.input(description="The reserved unit to book on acceptance of an up-referral.")
class BookingInput:
    kind: BookingKind
    date: dt.date
    department: str | None = strawberry.field(
        default=None, description="Defaults to the referral's department."
    )


@strawberry.input
class PublishCapacityInput:
    organization_id: strawberry.ID
    date: dt.date
    department: str
    expert_slots: int
    beds: int
    reserved_expert_slots: int | None = strawberry.field(
        default=None,
        description="Reserve more than the policy share (never less); in a "
        "region without a share, what is reserved (default: everything published).",
    )
    reserved_beds: int | None = None


@strawberry.type
class ReferralPayload:
    referral: Referral | None
    user_errors: list[UserError]


@strawberry.type
class CompleteReferralPayload:
    referral: Referral | None
    down_referral: Referral | None = strawberry.field(
        description="Completing an up-referral hands the resident back to the team (回转)."
    )
    user_errors: list[UserError]


@strawberry.type
class PublishCapacityPayload:
    capacity: Capacity | None
    user_errors: list[UserError]


def _rid(gid: strawberry.ID) -> int:
    return int_id(str(gid), "Referral")


def _payload(row: Any, errors: list[Any]) -> ReferralPayload:
    return ReferralPayload(referral=Referral.from_row(row) if row else None, user_errors=errors)


@strawberry.type
class ReferralMutation:
    @strawberry.mutation(description="Refer a resident up to a hospital, or back down to a team.")
    async def create_referral(
        self, info: Info[Context, Any], input: CreateReferralInput
    ) -> ReferralPayload:
        ctx = info.context
        row, errors = await ctx.write(lambda s: service.create(s, ctx.principal, input.command()))
        return _payload(row, errors)

    @strawberry.mutation(description="The receiving side has seen the referral.")
    async def receive_referral(
        self, info: Info[Context, Any], id: strawberry.ID
    ) -> ReferralPayload:
        ctx = info.context
        row, errors = await ctx.write(lambda s: service.receive(s, ctx.principal, _rid(id)))
        return _payload(row, errors)

    @strawberry.mutation(
        description="Accept; an up-referral books a reserved expert slot or bed "
        "(NO_RESERVED_CAPACITY when none is left)."
    )
    async def accept_referral(
        self, info: Info[Context, Any], id: strawberry.ID, booking: BookingInput | None = None
    ) -> ReferralPayload:
        ctx = info.context
        request = (
            capacity.BookingRequest(
                kind=m.BookingKind(booking.kind.value),
                date=booking.date,
                department=booking.department,
            )
            if booking
            else None
        )
        row, errors = await ctx.write(lambda s: service.accept(s, ctx.principal, _rid(id), request))
        return _payload(row, errors)

    @strawberry.mutation
    async def reject_referral(
        self, info: Info[Context, Any], id: strawberry.ID, reason: str
    ) -> ReferralPayload:
        ctx = info.context
        row, errors = await ctx.write(lambda s: service.reject(s, ctx.principal, _rid(id), reason))
        return _payload(row, errors)

    @strawberry.mutation(description="The resident has arrived at the receiving side.")
    async def mark_arrived(self, info: Info[Context, Any], id: strawberry.ID) -> ReferralPayload:
        ctx = info.context
        row, errors = await ctx.write(lambda s: service.arrive(s, ctx.principal, _rid(id)))
        return _payload(row, errors)

    @strawberry.mutation(
        description="Complete with a (discharge) summary and the prescriptions "
        "to continue; an up-referral opens a down-referral to the team."
    )
    async def complete_referral(
        self,
        info: Info[Context, Any],
        id: strawberry.ID,
        summary: str | None = None,
        prescriptions: list[PrescriptionInput] | None = None,
        rehabilitation_plan: str | None = None,
    ) -> CompleteReferralPayload:
        ctx = info.context
        done, errors = await ctx.write(
            lambda s: service.complete(
                s,
                ctx.principal,
                _rid(id),
                summary=summary,
                rehabilitation_plan=rehabilitation_plan,
                prescriptions=[p.item() for p in prescriptions or []],
            )
        )
        if done is None:
            return CompleteReferralPayload(referral=None, down_referral=None, user_errors=errors)
        return CompleteReferralPayload(
            referral=Referral.from_row(done.referral),
            user_errors=errors,
            down_referral=Referral.from_row(done.down_referral) if done.down_referral else None,
        )

    @strawberry.mutation(description="The sender withdraws; a booked unit goes back to the pool.")
    async def cancel_referral(
        self, info: Info[Context, Any], id: strawberry.ID, reason: str | None = None
    ) -> ReferralPayload:
        ctx = info.context
        row, errors = await ctx.write(lambda s: service.cancel(s, ctx.principal, _rid(id), reason))
        return _payload(row, errors)

    @strawberry.mutation(
        description="A hospital publishes a day's expert slots and beds for a "
        "department; the regional policy's share of them is reserved for "
        "referrals from primary care."
    )
    async def publish_capacity(
        self, info: Info[Context, Any], input: PublishCapacityInput
    ) -> PublishCapacityPayload:
        ctx = info.context
        row, errors = await ctx.write(
            lambda s: capacity.publish(
                s,
                ctx.principal,
                organization_id=raw_id(input.organization_id, "Organization") or "",
                day=input.date,
                department=input.department,
                expert_slots=input.expert_slots,
                beds=input.beds,
                reserved_expert_slots=input.reserved_expert_slots,
                reserved_beds=input.reserved_beds,
            )
        )
        return PublishCapacityPayload(
            capacity=Capacity.from_row(row) if row else None, user_errors=errors
        )
