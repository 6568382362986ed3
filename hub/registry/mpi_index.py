"""The matcher's candidate index in the database: blocking key -> source record.

Features are computed once per source record and stored with it, so scoring a candidate
never recomputes pinyin or address keys.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.registry.matching import Features, blocking_keys
from hub.registry.models import BlockingKey, Resident, ResidentStatus, SourceRecord

__all__ = ["BlockingKey", "candidates", "features_of", "index", "keys_of", "unindex"]


def features_of(payload: Mapping[str, Any]) -> Features:
    return Features.from_record(payload)


def keys_of(features: Features) -> list[str]:
    return list(dict.fromkeys(k[:80] for k in blocking_keys(features)))


async def candidates(
    session: AsyncSession, keys: Iterable[str]
) -> list[tuple[int, int, Features]]:
    """(resident id, source record id, features) of active residents sharing a key."""
    keys = list(keys)
    if not keys:
        return []
    rows = await session.execute(
        select(SourceRecord.resident_id, SourceRecord.id, SourceRecord.features)
        .join(BlockingKey, BlockingKey.source_record_id == SourceRecord.id)
        .join(Resident, Resident.id == SourceRecord.resident_id)
        .where(BlockingKey.key.in_(keys), Resident.status == ResidentStatus.ACTIVE)
        .distinct()
    )
    return [(rid, sid, Features.from_dict(f)) for rid, sid, f in rows if f]


async def index(session: AsyncSession, record: SourceRecord, features: Features) -> None:
    record.features = features.to_dict()
    keys = keys_of(features)
    if keys:
        await session.execute(
            insert(BlockingKey), [{"key": k, "source_record_id": record.id} for k in keys]
        )


async def unindex(session: AsyncSession, record: SourceRecord) -> None:
    await session.execute(delete(BlockingKey).where(BlockingKey.source_record_id == record.id))
