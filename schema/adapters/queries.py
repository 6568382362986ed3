"""adapterStatus, deadLetters (admin)."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from adapters.runtime import control
from schema.adapters.types import AdapterStatus, DeadLetter
from schema.context import Context


@strawberry.type
class AdapterQuery:
    @strawberry.field(description="Adapters' counters, kill switch and lag (admin).")
    async def adapter_status(
        self, info: Info[Context, Any], name: str | None = None
    ) -> list[AdapterStatus]:
        ctx = info.context
        names = [name] if name else sorted(control.KNOWN)

        async def read(session: Any) -> list[Any]:
            return [
                await control.status(
                    session, ctx.principal, n, default=control.default_enabled(ctx.hub, n)
                )
                for n in names
            ]

        return [AdapterStatus.of(s) for s in await ctx.run(read)]

    @strawberry.field(description="Messages that could not be applied, oldest first (admin).")
    async def dead_letters(
        self,
        info: Info[Context, Any],
        adapter: str | None = None,
        first: int | None = None,
        after_id: int | None = None,
    ) -> list[DeadLetter]:
        ctx = info.context
        limit = ctx.page_size(first)
        rows = await ctx.run(
            lambda s: control.dead_letters(s, ctx.principal, adapter, after=after_id, limit=limit)
        )
        return [DeadLetter.of(r) for r in rows]
