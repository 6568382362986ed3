"""Directory upserts (directory:write)."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from hub.directory import service
from schema.context import Context
from schema.directory.types import Organization, Practitioner, Team
from schema.errors import UserError
from schema.scalars import OrganizationKind, PractitionerRole


@strawberry.input
class OrganizationInput:
    code: str = strawberry.field(description="The institution's id, e.g. its registration code.")
    name: str
    kind: OrganizationKind
    region: str | None = None
    region_code: str = strawberry.field(description="GB/T 2260 code.")
    parent_code: str | None = None
    primary_care: bool | None = strawberry.field(default=None, description="Defaults from kind.")
    address: str | None = None
    phone: str | None = None
    integration: str | None = strawberry.field(
        default=None, description="'hl7' to receive REF^I12."
    )


@strawberry.input
class PractitionerInput:
    code: str
    name: str
    sex: str | None = None
    role: PractitionerRole
    organization_code: str
    phone: str | None = None


@strawberry.input
class TeamMemberInput:
    practitioner_code: str
    role: PractitionerRole


@strawberry.input
class TeamInput:
    code: str
    name: str
    organization_code: str
    leader_code: str | None = None
    grid_area: str | None = None
    capacity_households: int | None = None
    members: list[TeamMemberInput] = strawberry.field(default_factory=list)


@strawberry.type
class OrganizationPayload:
    organization: Organization | None
    user_errors: list[UserError]


@strawberry.type
class PractitionerPayload:
    practitioner: Practitioner | None
    user_errors: list[UserError]


@strawberry.type
class TeamPayload:
    team: Team | None
    user_errors: list[UserError]


@strawberry.type
class DirectoryMutation:
    @strawberry.mutation(description="Create or update an organization (directory:write).")
    async def upsert_organization(
        self, info: Info[Context, Any], input: OrganizationInput
    ) -> OrganizationPayload:
        ctx = info.context
        row, errors = await ctx.write(
            lambda s: service.upsert_organization(
                s,
                ctx.principal,
                id=input.code,
                name=input.name,
                kind=input.kind.value,
                region_key=input.region,
                region_code=input.region_code,
                parent_id=input.parent_code,
                primary_care=input.primary_care,
                address=input.address,
                phone=input.phone,
                integration=input.integration,
            )
        )
        return OrganizationPayload(
            organization=Organization.from_row(row) if row else None, user_errors=errors
        )

    @strawberry.mutation(description="Create or update a practitioner (directory:write).")
    async def upsert_practitioner(
        self, info: Info[Context, Any], input: PractitionerInput
    ) -> PractitionerPayload:
        ctx = info.context
        row, errors = await ctx.write(
            lambda s: service.upsert_practitioner(
                s,
                ctx.principal,
                id=input.code,
                name=input.name,
                sex=input.sex,
                role=input.role.value,
                organization_id=input.organization_code,
                phone=input.phone,
            )
        )
        return PractitionerPayload(
            practitioner=Practitioner.from_row(row) if row else None, user_errors=errors
        )

    @strawberry.mutation(description="Create or update a family doctor team and its members.")
    async def upsert_team(self, info: Info[Context, Any], input: TeamInput) -> TeamPayload:
        ctx = info.context
        row, errors = await ctx.write(
            lambda s: service.upsert_team(
                s,
                ctx.principal,
                id=input.code,
                name=input.name,
                organization_id=input.organization_code,
                leader_id=input.leader_code,
                grid_area=input.grid_area,
                capacity_households=input.capacity_households,
                members=[(m.practitioner_code, m.role.value) for m in input.members],
            )
        )
        return TeamPayload(team=Team.from_row(row) if row else None, user_errors=errors)
