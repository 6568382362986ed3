"""Referral queries: referral, referrals, hospitalCapacity (the work list: schema.worklist)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import strawberry
from strawberry.types import Info

from hub.errors import InvalidInput
from hub.referrals import capacity, repository, service
from schema.context import Context
from schema.referrals.types import (
    Capacity,
    Referral,
    ReferralDirection,
    ReferralStatus,
)
from schema.relay import Connection, connection, decode_cursor, int_id, raw_id


@strawberry.input
class ReferralFilter:
    status: ReferralStatus | None = None
    direction: ReferralDirection | None = None
    organization_id: strawberry.ID | None = strawberry.field(
        default=None, description="Either side: the team's institution or the hospital."
    )
    team_id: strawberry.ID | None = None
    resident_id: strawberry.ID | None = None


def to_filter(f: ReferralFilter | None) -> repository.ReferralFilter:
    if f is None:
        return repository.ReferralFilter()
    return repository.ReferralFilter(
        status=f.status.value if f.status else None,
        direction=f.direction.value if f.direction else None,
        organization_id=raw_id(f.organization_id, "Organization"),
        team_id=raw_id(f.team_id, "Team"),
        resident_id=int_id(str(f.resident_id), "Resident") if f.resident_id else None,
    )


def audit(info: Info[Context, Any], operation: str, rows: list[Any]) -> None:
    if rows:
        info.context.audit_read(operation, *(r.resident_id for r in rows))


async def find_referral(info: Info[Context, Any], referral_id: int) -> Referral | None:
    """A referral the caller may see, else None: another hospital's referral looks absent."""
    ctx = info.context
    row = await ctx.run(lambda s: service.find(s, ctx.principal, referral_id))
    audit(info, "referral", [row] if row else [])
    return Referral.from_row(row) if row else None


@strawberry.type
class ReferralQuery:
    @strawberry.field(
        description="A referral to or from the caller's organizations (null otherwise)."
    )
    async def referral(self, info: Info[Context, Any], id: strawberry.ID) -> Referral | None:
        return await find_referral(info, int_id(str(id), "Referral"))

    @strawberry.field(
        description="Referrals visible to this client, filtered, as a Relay connection."
    )
    async def referrals(
        self,
        info: Info[Context, Any],
        filter: ReferralFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Referral]:
        ctx = info.context
        limit, flt, key = ctx.page_size(first), to_filter(filter), decode_cursor(after)
        rows, total, more = await ctx.run(
            lambda s: service.list_referrals(
                s, ctx.principal, flt, after=int(key) if key else None, limit=limit
            )
        )
        audit(info, "referrals", rows)
        return connection(rows, total, more, after=after, convert=Referral.from_row)

    @strawberry.field(description="A hospital's published capacity and its reserved part, by day.")
    async def hospital_capacity(
        self,
        info: Info[Context, Any],
        organization_id: strawberry.ID,
        start: dt.date,
        end: dt.date,
    ) -> list[Capacity]:
        ctx = info.context
        if (end - start).days > 366 or end < start:
            raise InvalidInput(
                "Ask for at most a year, start ≤ end.", field="end", code="INVALID_RANGE"
            )
        org = raw_id(organization_id, "Organization") or ""
        rows = await ctx.run(lambda s: capacity.days(s, ctx.principal, org, start, end))
        return [Capacity.from_row(r) for r in rows]
