"""``Resident.referrals``: kept here so the registry's types only import one resolver."""

# No `from __future__ import annotations`: strawberry reads the lazy annotation as written.
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from hub.referrals import service
from schema.context import Context

if TYPE_CHECKING:
    from schema.referrals.types import Referral


async def resident_referrals(
    root: Any, info: Info[Context, Any]
) -> list[Annotated["Referral", strawberry.lazy("schema.referrals.types")]]:
    """Referrals of this resident the client may see (none without referrals:read)."""
    from schema.referrals.types import Referral

    principal = info.context.principal
    if getattr(root, "view", "FULL") != "FULL":
        return []  # the BASIC view of a resident (no residents:read) stops at id, name, age

    async def batch(session: Any, keys: list[int]) -> list[list[Any]]:
        found = await service.for_residents(session, principal, keys)
        return [found[k] for k in keys]

    rows = await info.context.loader("ResidentReferrals", batch).load(root.row.id)
    return [Referral.from_row(r) for r in rows]
