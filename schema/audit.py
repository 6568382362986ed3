"""Writes one audit row per operation that read residents, after the request executes."""

from __future__ import annotations

from collections.abc import Iterator

from strawberry.extensions import SchemaExtension


class AuditReads(SchemaExtension):
    async def on_execute(self) -> Iterator[None]:  # type: ignore[override]
        yield
        ctx = self.execution_context.context
        reads, ctx.reads = dict(getattr(ctx, "reads", None) or {}), {}
        if not reads:
            return
        buffer = ctx.hub.audit
        for operation, ids in reads.items():
            buffer.add(ctx.principal, "READ", operation, ids)
        if not buffer.running:  # no background writer (e.g. a bare schema): write now
            await buffer.flush()
