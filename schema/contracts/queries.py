"""Contract queries: servicePackages, contract, contractByNumber, contracts."""

from __future__ import annotations

import datetime as dt
from typing import Any

import strawberry
from strawberry.types import Info

from hub.access.principal import Scope
from hub.contracts import catalog, repository, service
from hub.errors import NotFound
from schema.context import Context
from schema.contracts.packages import ServicePackage
from schema.contracts.types import Contract, ContractStatus
from schema.relay import Connection, connection, decode_cursor, int_id, raw_id


@strawberry.input
class ContractFilter:
    status: ContractStatus | None = None
    region: str | None = None
    organization_id: strawberry.ID | None = None
    team_id: strawberry.ID | None = None
    resident_id: strawberry.ID | None = None
    household_id: strawberry.ID | None = None
    package_code: str | None = None
    ends_on_or_before: dt.date | None = strawberry.field(
        default=None, description="Contracts whose current period ends by this day."
    )

    def to_filter(self) -> repository.ContractFilter:
        return repository.ContractFilter(
            status=self.status.value if self.status else None,
            region=self.region or None,
            organization_id=raw_id(self.organization_id, "Organization"),
            team_id=raw_id(self.team_id, "Team"),
            resident_id=int_id(self.resident_id, "Resident") if self.resident_id else None,
            household_id=int_id(self.household_id, "Household") if self.household_id else None,
            package_code=self.package_code or None,
            ends_on_or_before=self.ends_on_or_before,
        )


@strawberry.type
class ContractsQuery:
    @strawberry.field(
        description="签约服务包 of a region's policy (panyu, wenzhou, jilin, yongkang, erqi)."
    )
    def service_packages(self, info: Info[Context, Any], region: str) -> list[ServicePackage]:
        info.context.principal.require(Scope.CONTRACTS_READ)
        return [ServicePackage.from_model(region, p) for p in catalog.packages(region)]

    @strawberry.field(description="A contract by id.")
    async def contract(self, info: Info[Context, Any], id: strawberry.ID) -> Contract | None:
        ctx = info.context
        cid = int_id(id, "Contract")
        try:
            row = await ctx.run(lambda s: service.get(s, ctx.principal, cid))
        except NotFound:
            return None
        ctx.audit_read("contract", row.resident_id)
        return Contract.from_row(row)

    @strawberry.field(description="A contract by its number (签约号).")
    async def contract_by_number(self, info: Info[Context, Any], number: str) -> Contract | None:
        ctx = info.context
        found, _, _ = await ctx.run(
            lambda s: service.list_contracts(
                s, ctx.principal, repository.ContractFilter(number=number), after=None, limit=1
            )
        )
        if not found:
            return None
        ctx.audit_read("contract", found[0].resident_id)
        return Contract.from_row(found[0])

    @strawberry.field(description="Contracts visible to this client, filtered (Relay connection).")
    async def contracts(
        self,
        info: Info[Context, Any],
        filter: ContractFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Contract]:
        ctx = info.context
        limit = ctx.page_size(first)
        key = decode_cursor(after)
        flt = filter.to_filter() if filter else repository.ContractFilter()
        rows, total, more = await ctx.run(
            lambda s: service.list_contracts(
                s, ctx.principal, flt, after=int(key) if key else None, limit=limit
            )
        )
        ctx.audit_read("contracts", *(r.resident_id for r in rows))
        return connection(rows, total, more, after=after, convert=Contract.from_row)
