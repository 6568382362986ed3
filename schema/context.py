"""Per-request context: the caller, one database session, dataloaders, the audit collector."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader

from hub.access.principal import Principal, Scope

if TYPE_CHECKING:
    from hub.core import Hub

T = TypeVar("T")


@dataclass
class Context:
    hub: Hub
    principal: Principal
    session: AsyncSession
    request: Any = None
    response: Any = None
    # strawberry resolves sibling fields concurrently; one AsyncSession must not be.
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    loaders: dict[str, DataLoader[Any, Any]] = field(default_factory=dict)
    reads: dict[str, set[int]] = field(default_factory=dict)  # operation -> resident ids read

    async def run(self, fn: Callable[[AsyncSession], Awaitable[T]]) -> T:
        async with self.lock:
            return await fn(self.session)

    def loader(self, name: str, batch: Callable[[AsyncSession, list[Any]], Awaitable[list[Any]]]):
        """A per-request dataloader whose batch runs under the session lock."""
        if name not in self.loaders:

            async def load(keys: list[Any]) -> list[Any]:
                return await self.run(lambda s: batch(s, keys))

            self.loaders[name] = DataLoader(load_fn=load)
        return self.loaders[name]

    async def write(
        self, fn: Callable[[AsyncSession], Awaitable[T]], *, immediate: bool = False
    ) -> tuple[T | None, list[Any]]:
        """Run a mutation in its own transaction: (result, []) or (None, userErrors).
        `immediate`: a long unit of work that reads much before it writes (Database.transaction)."""
        from hub.errors import DomainError
        from schema.errors import user_errors

        try:
            async with self.lock, self.hub.db.transaction(immediate=immediate) as session:
                return await fn(session), []
        except DomainError as e:
            return None, user_errors(e)

    def audit_read(self, operation: str, *resident_ids: int) -> None:
        self.reads.setdefault(operation, set()).update(resident_ids)

    @property
    def sees_pii(self) -> bool:
        return self.principal.has(Scope.RESIDENTS_PII)

    def page_size(self, first: int | None) -> int:
        from hub.errors import InvalidInput

        limit = self.hub.settings.max_page_size
        if first is None:
            return min(20, limit)
        if first < 0 or first > limit:
            raise InvalidInput(
                f"first must be between 0 and {limit}.",
                field="first",
                code="PAGE_SIZE_OUT_OF_RANGE",
            )
        return first
