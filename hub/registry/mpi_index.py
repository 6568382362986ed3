"""The matcher's candidate index in the database: blocking key -> source record.

Features are computed once per source record and stored with it, so scoring a candidate
never recomputes pinyin or address keys. A candidate is a whole resident: every record
of every active resident having a record under one of the keys (the vetoes must see
them all), minus residents a person separated from the record being linked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import and_, delete, exists, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.registry.matching import Features, blocking_keys
from hub.registry.models import BlockingKey, LinkSeparation, Resident, ResidentStatus, SourceRecord

__all__ = ["BlockingKey", "candidates", "features_of", "index", "keys_of", "unindex"]

# A candidate query returns at most this many records: a key shared by thousands (a
# clinic's default phone number) must not make one record cost a second. Stop values are
# filtered out when keys are built; this is the backstop.
MAX_CANDIDATE_RECORDS = 2000
# Bound parameters per statement, below SQLite's and asyncpg's limits.
CHUNK = 5000


def features_of(payload: Mapping[str, Any] | object) -> Features:
    return Features.from_record(payload)


def keys_of(features: Features) -> list[str]:
    return list(dict.fromkeys(k[:80] for k in blocking_keys(features)))


def _residents_under(keys: Sequence[str]) -> Any:
    return (
        select(SourceRecord.resident_id)
        .join(BlockingKey, BlockingKey.source_record_id == SourceRecord.id)
        .where(BlockingKey.key.in_(keys))
    )


async def candidates(
    session: AsyncSession, keys: Iterable[str], *, record_key: str | None = None
) -> list[tuple[int, int, Features]]:
    """(resident id, source record id, features) of every record of every active
    resident with a record under one of `keys`; one query."""
    keys = list(keys)[:CHUNK]
    if not keys:
        return []
    stmt = (
        select(SourceRecord.resident_id, SourceRecord.id, SourceRecord.features)
        .join(Resident, Resident.id == SourceRecord.resident_id)
        .where(
            SourceRecord.resident_id.in_(_residents_under(keys)),
            Resident.status == ResidentStatus.ACTIVE,
        )
        .limit(MAX_CANDIDATE_RECORDS)
    )
    if record_key:
        stmt = stmt.where(
            ~exists().where(
                and_(
                    LinkSeparation.record_key == record_key,
                    LinkSeparation.resident_id == SourceRecord.resident_id,
                )
            )
        )
    rows = await session.execute(stmt)
    return [(rid, sid, Features.from_dict(f)) for rid, sid, f in rows if f]


async def key_hits(session: AsyncSession, keys: Iterable[str]) -> list[tuple[str, int]]:
    """(key, resident id) for every stored record under the keys (bulk linking)."""
    keys = list(dict.fromkeys(keys))
    out: list[tuple[str, int]] = []
    for i in range(0, len(keys), CHUNK):
        rows = await session.execute(
            select(BlockingKey.key, SourceRecord.resident_id)
            .join(SourceRecord, SourceRecord.id == BlockingKey.source_record_id)
            .where(BlockingKey.key.in_(keys[i : i + CHUNK]))
        )
        out.extend((k, r) for k, r in rows)
    return out


async def records_of(
    session: AsyncSession, resident_ids: Iterable[int]
) -> list[tuple[int, int, Features]]:
    """(resident id, source record id, features) of the active residents' records."""
    ids = list(dict.fromkeys(resident_ids))
    out: list[tuple[int, int, Features]] = []
    for i in range(0, len(ids), CHUNK):
        rows = await session.execute(
            select(SourceRecord.resident_id, SourceRecord.id, SourceRecord.features)
            .join(Resident, Resident.id == SourceRecord.resident_id)
            .where(
                SourceRecord.resident_id.in_(ids[i : i + CHUNK]),
                Resident.status == ResidentStatus.ACTIVE,
            )
        )
        out.extend((rid, sid, Features.from_dict(f)) for rid, sid, f in rows if f)
    return out


async def separations(session: AsyncSession, record_keys: Iterable[str]) -> set[tuple[str, int]]:
    """(record key, resident id) pairs a person separated, for the given records."""
    keys = list(dict.fromkeys(record_keys))
    out: set[tuple[str, int]] = set()
    if not keys or not await session.scalar(select(func.count()).select_from(LinkSeparation)):
        return out
    for i in range(0, len(keys), CHUNK):
        rows = await session.execute(
            select(LinkSeparation.record_key, LinkSeparation.resident_id).where(
                LinkSeparation.record_key.in_(keys[i : i + CHUNK])
            )
        )
        out.update((k, r) for k, r in rows)
    return out


async def index(session: AsyncSession, record: SourceRecord, features: Features) -> None:
    record.features = features.to_dict()
    keys = keys_of(features)
    if keys:
        await session.execute(
            insert(BlockingKey), [{"key": k, "source_record_id": record.id} for k in keys]
        )


async def unindex(session: AsyncSession, record: SourceRecord) -> None:
    await session.execute(delete(BlockingKey).where(BlockingKey.source_record_id == record.id))
