"""Registry queries: resident, residentByIdentifier, residents, and the linkage ones
(schema.registry.linkage)."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from hub.registry.repository import ResidentFilter as Filter
from schema.context import Context
from schema.registry.linkage import LinkageQuery
from schema.registry.types import FULL, Resident
from schema.relay import Connection, connection, decode_cursor, int_id, raw_id
from schema.scalars import IdentifierSystem, InsuranceType, PopulationCategory


@strawberry.input
class ResidentFilter:
    name: str | None = strawberry.UNSET
    organization_id: strawberry.ID | None = strawberry.UNSET
    team_id: strawberry.ID | None = strawberry.UNSET
    category: PopulationCategory | None = strawberry.UNSET
    region: str | None = strawberry.UNSET
    insurance_type: InsuranceType | None = strawberry.UNSET
    signed: bool | None = strawberry.field(
        default=strawberry.UNSET, description="With (true) or without (false) an active contract.")


def to_filter(f: ResidentFilter | None) -> Filter:
    if f is None:
        return Filter()
    return Filter(
        name=f.name or None,
        organization_id=raw_id(f.organization_id, "Organization"),
        team_id=raw_id(f.team_id, "Team"),
        category=f.category.value if f.category else None,
        region=f.region or None,
        insurance_type=f.insurance_type.value if f.insurance_type else None,
        signed=f.signed if isinstance(f.signed, bool) else None,
    )


@strawberry.type
class RegistryQuery(LinkageQuery):
    @strawberry.field(description="A resident by id; a merged-away id still resolves (see mergedInto).")
    async def resident(self, info: Info[Context, Any], id: strawberry.ID) -> Resident | None:
        ctx = info.context
        rid = int_id(id, "Resident")
        from hub.errors import NotFound

        try:
            row = await ctx.run(lambda s: ctx.hub.registry.get(s, ctx.principal, rid))
        except NotFound:
            return None
        ctx.audit_read("resident", row.id)
        return Resident.from_row(row, FULL)

    @strawberry.field(description="Look a resident up by an identifier (ID number, insurance card, …).")
    async def resident_by_identifier(
        self, info: Info[Context, Any], system: IdentifierSystem, value: str
    ) -> Resident | None:
        ctx = info.context
        row = await ctx.run(
            lambda s: ctx.hub.registry.find_by_identifier(s, ctx.principal, system.value, value))
        if row is None:
            return None
        ctx.audit_read("residentByIdentifier", row.id)
        return Resident.from_row(row, FULL)

    @strawberry.field(description="Residents visible to this client, filtered, as a Relay connection.")
    async def residents(
        self, info: Info[Context, Any], filter: ResidentFilter | None = None,
        first: int | None = None, after: str | None = None,
    ) -> Connection[Resident]:
        ctx = info.context
        limit = ctx.page_size(first)
        key = decode_cursor(after)
        rows, total, more = await ctx.run(lambda s: ctx.hub.registry.list(
            s, ctx.principal, to_filter(filter), after=int(key) if key else None, limit=limit))
        ctx.audit_read("residents", *(r.id for r in rows))
        return connection(rows, total, more, after=after, convert=lambda r: Resident.from_row(r, FULL))
