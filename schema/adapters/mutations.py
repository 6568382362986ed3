"""replayDeadLetters, setAdapterEnabled (admin)."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from adapters.runtime import control
from schema.adapters.types import AdapterStatus, ReplayResult
from schema.context import Context
from schema.errors import UserError


@strawberry.type
class ReplayPayload:
    replayed: int
    applied: int
    results: list[ReplayResult]
    user_errors: list[UserError]


@strawberry.type
class SetAdapterEnabledPayload:
    adapter: AdapterStatus | None
    user_errors: list[UserError]


@strawberry.type
class AdapterMutation:
    @strawberry.mutation(
        description="Apply dead letters again, e.g. after a code map was "
        "fixed; those that still fail stay dead letters with the reason."
    )
    async def replay_dead_letters(
        self, info: Info[Context, Any], ids: list[int], adapter: str = "his"
    ) -> ReplayPayload:
        ctx = info.context

        async def run(session: Any) -> list[Any]:
            impl = control.build(ctx.hub, adapter)
            return await control.replay(session, ctx.principal, impl, ids)

        results, errors = await ctx.write(run)
        done = results or []
        return ReplayPayload(
            replayed=len(done),
            applied=sum(1 for r in done if r.status == "APPLIED"),
            results=[
                ReplayResult(
                    id=r.id, status=r.status, error_code=r.error_code, error_text=r.error_text
                )
                for r in done
            ],
            user_errors=errors,
        )

    @strawberry.mutation(
        description="The kill switch of an adapter; running processes follow within seconds."
    )
    async def set_adapter_enabled(
        self, info: Info[Context, Any], name: str, enabled: bool, reason: str | None = None
    ) -> SetAdapterEnabledPayload:
        ctx = info.context

        async def run(session: Any) -> Any:
            await control.set_enabled(session, ctx.principal, name, enabled, reason)
            return await control.status(
                session, ctx.principal, name, default=control.default_enabled(ctx.hub, name)
            )

        status, errors = await ctx.write(run)
        return SetAdapterEnabledPayload(
            adapter=AdapterStatus.of(status) if status else None, user_errors=errors
        )
