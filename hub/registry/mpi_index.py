"""The matcher's candidate index in the database: blocking key -> source record.

Features are computed once per source record and stored with it, so scoring a candidate
never recomputes pinyin or address keys. A candidate is a whole resident: every record
of every active resident having a record under one of the keys (the vetoes must see
them all), minus residents a person separated from the record being linked.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    String,
    and_,
    any_,
    delete,
    exists,
    func,
    insert,
    literal,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from hub.registry.matcher.features import keys_of
from hub.registry.matching import Features
from hub.registry.models import BlockingKey, LinkSeparation, Resident, ResidentStatus, SourceRecord

__all__ = ["BlockingKey", "candidates", "features_of", "index", "keys_of", "unindex"]

# A candidate query returns at most this many records: a key shared by thousands (a
# clinic's default phone number) must not make one record cost a second. Stop values are
# filtered out when keys are built; this is the backstop.
MAX_CANDIDATE_RECORDS = 2000
# Values per statement where a list is bound one by one (names for term frequencies).
CHUNK = 5000


def one_of(session: AsyncSession, column: Any, values: Sequence[Any]) -> ColumnElement[bool]:
    """`column IN values` with ONE bound parameter (a JSON text on SQLite, an array on
    PostgreSQL): the statement text stays the same whatever the count, so it is compiled
    once and cached, and thousands of values cost no thousands of parameters."""
    type_ = Integer() if values and isinstance(values[0], int) else String()
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(literal(list(values), ARRAY(type_)))
    table = func.json_each(literal(json.dumps(list(values)), String())).table_valued("value")
    return column.in_(select(table.c.value))


def features_of(payload: Mapping[str, Any] | object) -> Features:
    return Features.from_record(payload)


def _residents_under(session: AsyncSession, keys: Sequence[str]) -> Any:
    return (
        select(SourceRecord.resident_id)
        .join(BlockingKey, BlockingKey.source_record_id == SourceRecord.id)
        .where(one_of(session, BlockingKey.key, keys))
    )


async def candidates(
    session: AsyncSession, keys: Iterable[str], *, record_key: str | None = None
) -> list[tuple[int, int, Features]]:
    """(resident id, source record id, features) of every record of every active
    resident with a record under one of `keys`; one query."""
    keys = list(keys)
    if not keys:
        return []
    stmt = (
        select(SourceRecord.resident_id, SourceRecord.id, SourceRecord.features)
        .join(Resident, Resident.id == SourceRecord.resident_id)
        .where(
            SourceRecord.resident_id.in_(_residents_under(session, keys)),
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
    wanted = list(dict.fromkeys(keys))
    if not wanted:
        return []
    stmt = (
        select(BlockingKey.key, SourceRecord.resident_id)
        .join(SourceRecord, SourceRecord.id == BlockingKey.source_record_id)
        .where(one_of(session, BlockingKey.key, wanted))
        # id -> resident_id from the slim covering index, not from the source record's row
        # (payload and features: a page read per hit in a large registry). PostgreSQL
        # plans an index-only scan of it by itself.
        .with_hint(SourceRecord, "INDEXED BY ix_source_record_id_resident", "sqlite")
    )
    rows = await session.execute(stmt)
    return [(k, r) for k, r in rows]


async def records_of(
    session: AsyncSession, resident_ids: Iterable[int]
) -> list[tuple[int, int, Features]]:
    """(resident id, source record id, features) of the active residents' records."""
    ids = list(dict.fromkeys(resident_ids))
    if not ids:
        return []
    rows = await session.execute(
        select(SourceRecord.resident_id, SourceRecord.id, SourceRecord.features)
        .join(Resident, Resident.id == SourceRecord.resident_id)
        .where(one_of(session, SourceRecord.resident_id, ids),
               Resident.status == ResidentStatus.ACTIVE)
    )  # fmt: skip
    return [(rid, sid, Features.from_dict(f)) for rid, sid, f in rows if f]


async def separations(session: AsyncSession, record_keys: Iterable[str]) -> set[tuple[str, int]]:
    """(record key, resident id) pairs a person separated, for the given records."""
    keys = list(dict.fromkeys(record_keys))
    if not keys or not await session.scalar(select(func.count()).select_from(LinkSeparation)):
        return set()
    rows = await session.execute(
        select(LinkSeparation.record_key, LinkSeparation.resident_id).where(
            one_of(session, LinkSeparation.record_key, keys)
        )
    )
    return {(k, r) for k, r in rows}


async def index(session: AsyncSession, record: SourceRecord, features: Features) -> None:
    record.features = features.to_dict()
    keys = keys_of(features)
    if keys:
        await session.execute(
            insert(BlockingKey), [{"key": k, "source_record_id": record.id} for k in keys]
        )


async def unindex(session: AsyncSession, record: SourceRecord) -> None:
    await session.execute(delete(BlockingKey).where(BlockingKey.source_record_id == record.id))
