"""Writes one audit row per operation that read residents, after the request executes."""

from __future__ import annotations

from collections.abc import Iterator

from strawberry.extensions import SchemaExtension

from hub.access import service as access


class AuditReads(SchemaExtension):
    async def on_execute(self) -> Iterator[None]:  # type: ignore[override]
        yield
        ctx = self.execution_context.context
        if not getattr(ctx, "reads", None):
            return
        async with ctx.hub.db.transaction() as session:
            for operation, ids in ctx.reads.items():
                await access.audit(session, ctx.principal, "READ", operation, ids)
        ctx.reads.clear()
