"""One entry for an operator's upload (GraphQL mutation, POST /imports/…): the scope check
and the dispatch to the list's importer."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from hub.access.principal import Principal, Scope
from hub.errors import InvalidInput
from hub.imports.low_income import ImportResult


async def upload(
    session: AsyncSession, registry: Any, principal: Principal, kind: str, *, region: str,
    month: str | None, name: str, data: bytes,
) -> ImportResult:  # fmt: skip
    """An operator's (scope `admin`) file; the rows are written as the import's own system
    principal (`import:low-income`, `import:insurance`), as the CLI writes them."""
    principal.require(Scope.ADMIN)
    if kind == "low-income":
        from hub.imports.low_income import import_low_income

        return await import_low_income(session, registry, region=region, month=month or "",
                                       name=name, data=data)  # fmt: skip
    if kind == "insurance":
        from hub.imports.insurance import import_insurance

        return await import_insurance(session, registry, region=region, name=name, data=data)
    raise InvalidInput(f"No list {kind[:30]!r}: low-income or insurance.", code="UNKNOWN_LIST")
