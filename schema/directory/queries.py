"""Directory queries: organizations, practitioners, teams."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from hub.directory import service
from schema.context import Context
from schema.directory.types import (
    Organization,
    Practitioner,
    Team,
    load_organization,
    load_practitioner,
    load_team,
)
from schema.relay import Connection, connection, decode_cursor, raw_id
from schema.scalars import OrganizationKind


@strawberry.input
class OrganizationFilter:
    region: str | None = None
    kind: OrganizationKind | None = None


@strawberry.input
class TeamFilter:
    region: str | None = None
    organization_id: strawberry.ID | None = None


@strawberry.type
class DirectoryQuery:
    @strawberry.field
    async def organization(
        self, info: Info[Context, Any], id: strawberry.ID
    ) -> Organization | None:
        return await load_organization(info, raw_id(id, "Organization"))

    @strawberry.field
    async def organizations(
        self,
        info: Info[Context, Any],
        filter: OrganizationFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Organization]:
        ctx, f = info.context, filter or OrganizationFilter()
        flt = service.OrganizationFilter(region=f.region, kind=f.kind.value if f.kind else None)
        rows, total, more = await ctx.run(
            lambda s: service.list_organizations(
                s, flt, after=decode_cursor(after), limit=ctx.page_size(first)
            )
        )
        return connection(rows, total, more, after=after, convert=Organization.from_row)

    @strawberry.field
    async def practitioner(
        self, info: Info[Context, Any], id: strawberry.ID
    ) -> Practitioner | None:
        return await load_practitioner(info, raw_id(id, "Practitioner"))

    @strawberry.field
    async def practitioners(
        self,
        info: Info[Context, Any],
        organization_id: strawberry.ID | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Practitioner]:
        ctx = info.context
        rows, total, more = await ctx.run(
            lambda s: service.list_practitioners(
                s,
                raw_id(organization_id, "Organization"),
                after=decode_cursor(after),
                limit=ctx.page_size(first),
            )
        )
        return connection(rows, total, more, after=after, convert=Practitioner.from_row)

    @strawberry.field
    async def team(self, info: Info[Context, Any], id: strawberry.ID) -> Team | None:
        return await load_team(info, raw_id(id, "Team"))

    @strawberry.field
    async def teams(
        self,
        info: Info[Context, Any],
        filter: TeamFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Team]:
        ctx, f = info.context, filter or TeamFilter()
        flt = service.TeamFilter(
            region=f.region, organization_id=raw_id(f.organization_id, "Organization")
        )
        rows, total, more = await ctx.run(
            lambda s: service.list_teams(
                s, flt, after=decode_cursor(after), limit=ctx.page_size(first)
            )
        )
        return connection(rows, total, more, after=after, convert=Team.from_row)
