"""GraphQL types of the directory: Organization, Practitioner, Team."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from hub.directory import service
from hub.directory.models import Organization as OrgRow
from hub.directory.models import Practitioner as PractitionerRow
from hub.directory.models import Team as TeamRow
from mappings import directory as fhir
from schema.context import Context
from schema.relay import Node, to_global_id
from schema.scalars import OrganizationKind, PractitionerRole


async def _load(info: Info[Context, Any], model: type[Any], key: str | None) -> Any:
    if key is None:
        return None

    async def batch(session: Any, keys: list[str]) -> list[Any]:
        found = await service.cache.get_many(session, model, keys)
        return [found.get(k) for k in keys]

    return await info.context.loader(model.__name__, batch).load(key)


async def load_organization(info: Info[Context, Any], key: str | None) -> Organization | None:
    row = await _load(info, OrgRow, key)
    return Organization.from_row(row) if row else None


async def load_team(info: Info[Context, Any], key: str | None) -> Team | None:
    row = await _load(info, TeamRow, key)
    return Team.from_row(row) if row else None


async def load_practitioner(info: Info[Context, Any], key: str | None) -> Practitioner | None:
    row = await _load(info, PractitionerRow, key)
    return Practitioner.from_row(row) if row else None


@strawberry.type(description="医疗卫生机构: a health institution.")
class Organization(Node):
    row: strawberry.Private[OrgRow]
    code: str = strawberry.field(description="The institution's own id in the hub.")
    name: str
    kind: OrganizationKind
    region: str | None = strawberry.field(description="Policy region key, e.g. panyu.")
    region_code: str = strawberry.field(description="GB/T 2260 administrative division code.")
    primary_care: bool = strawberry.field(
        description="A primary-care institution (基层医疗卫生机构)."
    )
    address: str | None
    phone: str | None

    @classmethod
    def from_row(cls, r: OrgRow) -> Organization:
        return cls(
            row=r,
            id=strawberry.ID(to_global_id("Organization", r.id)),
            code=r.id,
            name=r.name,
            kind=OrganizationKind(r.kind),
            region=r.region_key,
            region_code=r.region_code,
            primary_care=r.primary_care,
            address=r.address,
            phone=r.phone,
        )

    @strawberry.field
    async def parent(self, info: Info[Context, Any]) -> Organization | None:
        return await load_organization(info, self.row.parent_id)

    @strawberry.field(description="FHIR R4B Organization.")
    def fhir(self) -> JSON:
        return fhir.organization(self.row)


@strawberry.type(description="医务人员: a practitioner with a role at one organization.")
class Practitioner(Node):
    row: strawberry.Private[PractitionerRow]
    code: str
    name: str
    role: PractitionerRole

    @classmethod
    def from_row(cls, r: PractitionerRow) -> Practitioner:
        return cls(
            row=r,
            id=strawberry.ID(to_global_id("Practitioner", r.id)),
            code=r.id,
            name=r.name,
            role=PractitionerRole(r.role),
        )

    @strawberry.field
    async def organization(self, info: Info[Context, Any]) -> Organization | None:
        return await load_organization(info, self.row.organization_id)

    @strawberry.field(description="FHIR R4B Practitioner with its PractitionerRole contained.")
    def fhir(self) -> JSON:
        return fhir.practitioner(self.row)


@strawberry.type
class TeamMember:
    role: PractitionerRole
    practitioner: Practitioner


@strawberry.type(description="家庭医生团队: a family doctor team (FHIR CareTeam).")
class Team(Node):
    row: strawberry.Private[TeamRow]
    code: str
    name: str
    grid_area: str | None = strawberry.field(description="网格: the responsibility area.")
    capacity_households: int | None

    @classmethod
    def from_row(cls, r: TeamRow) -> Team:
        return cls(
            row=r,
            id=strawberry.ID(to_global_id("Team", r.id)),
            code=r.id,
            name=r.name,
            grid_area=r.grid_area,
            capacity_households=r.capacity_households,
        )

    @strawberry.field
    async def organization(self, info: Info[Context, Any]) -> Organization | None:
        return await load_organization(info, self.row.organization_id)

    @strawberry.field(description="The family doctor who leads the team.")
    async def leader(self, info: Info[Context, Any]) -> Practitioner | None:
        return await load_practitioner(info, self.row.leader_id)

    async def _members(self, info: Info[Context, Any]) -> list[Any]:
        async def batch(session: Any, keys: list[str]) -> list[Any]:
            found = await service.team_members(session, keys)
            return [found[k] for k in keys]

        return await info.context.loader("TeamMembers", batch).load(self.row.id)

    @strawberry.field
    async def members(self, info: Info[Context, Any]) -> list[TeamMember]:
        out = []
        for m in await self._members(info):
            p = await load_practitioner(info, m.practitioner_id)
            if p:
                out.append(TeamMember(role=PractitionerRole(m.role), practitioner=p))
        return out

    @strawberry.field(description="签约负荷: households and persons signed vs the capacity.")
    async def load(
        self, info: Info[Context, Any]
    ) -> Annotated["TeamLoad", strawberry.lazy("schema.contracts.types")]:
        from schema.contracts.types import team_load

        return await team_load(info, self.row)

    @strawberry.field(description="FHIR R4B CareTeam.")
    async def fhir(self, info: Info[Context, Any]) -> JSON:
        return fhir.care_team(self.row, await self._members(info))
