"""Every query on encounters and observations."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.events.models import Event
from hub.records.models import Encounter, Observation


async def add_encounters(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Ids in the order of `rows`, matched by (source, origin), which is unique: asking
    SQLAlchemy to keep the order would make SQLite insert row by row."""
    table = cast(Table, Encounter.__table__)
    result = await session.execute(
        insert(table).returning(table.c.id, table.c.source, table.c.origin), list(rows)
    )
    ids = {(source, origin): int(rid) for rid, source, origin in result}
    return [ids[(r["source"], r["origin"])] for r in rows]


async def add_events(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Outbox events for many records at once (hub.events.service.emit, batched)."""
    if rows:
        await session.execute(insert(Event), list(rows))


async def add_observations(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    if rows:  # Core, not ORM: the ORM splits rows by which values are None
        await session.execute(insert(cast(Table, Observation.__table__)), list(rows))


async def observations(
    session: AsyncSession, resident_ids: Sequence[int], *, code: str | None = None, limit: int = 100
) -> list[Observation]:
    stmt = select(Observation).where(Observation.resident_id.in_(list(resident_ids)))
    if code:
        stmt = stmt.where(Observation.code == code)
    stmt = stmt.order_by(Observation.effective_at.desc(), Observation.id.desc()).limit(limit)
    return list(await session.scalars(stmt))


async def encounters(session: AsyncSession, resident_ids: Sequence[int]) -> list[Encounter]:
    rows = await session.scalars(
        select(Encounter)
        .where(Encounter.resident_id.in_(list(resident_ids)))
        .order_by(Encounter.started_at, Encounter.id)
    )
    return list(rows)


async def unmapped_codes(session: AsyncSession, source: str | None = None) -> list[tuple[str, int]]:
    """Local codes stored without a standard code, with how often: the mapping to-do list."""
    stmt = select(Observation.local_code, func.count()).where(Observation.mapped.is_(False))
    if source:
        stmt = stmt.where(Observation.source == source)
    rows = await session.execute(
        stmt.group_by(Observation.local_code).order_by(func.count().desc())
    )
    return [(str(code), int(n)) for code, n in rows]


async def reassign(session: AsyncSession, from_resident: int, to_resident: int) -> None:
    for table in (Observation, Encounter):
        await session.execute(
            update(table)
            .where(table.resident_id == from_resident)
            .values(resident_id=to_resident)
            .execution_options(synchronize_session=False)
        )
