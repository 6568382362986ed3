"""The matcher's candidate index in the database: blocking key -> source record.

Features are computed once per source record and stored with it, so scoring a candidate
never recomputes pinyin or address keys. A candidate is a whole resident: every record
of every active resident having a record under one of the keys (the vetoes must see
them all), minus residents a person separated from the record being linked.

Keys live in two tables: new ones in `blocking_key_recent` (small, cached), merged now and
then into `blocking_key` in key order (`compact`; `hub linkage compact` forces it).
Lookups read both.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Integer,
    String,
    Table,
    and_,
    any_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    literal,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from hub.registry.matcher.features import keys_of
from hub.registry.matching import Features
from hub.registry.models import (
    BlockingKey,
    BlockingKeyRecent,
    LinkSeparation,
    Resident,
    ResidentStatus,
    SourceRecord,
)

__all__ = [
    "BlockingKey", "BlockingKeyRecent", "candidates", "compact", "features_of", "index",
    "keys_of", "note_written", "unindex",
]  # fmt: skip

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


def _keyed(session: AsyncSession, keys: Sequence[str]) -> Any:
    """(key, source_record_id) under `keys`, from the settled and the recent keys."""
    return union_all(*(
        select(t.key, t.source_record_id).where(one_of(session, t.key, keys))
        for t in (BlockingKey, BlockingKeyRecent)
    )).subquery("keyed")  # fmt: skip


def _residents_under(session: AsyncSession, keys: Sequence[str]) -> Any:
    keyed = _keyed(session, keys)
    return select(SourceRecord.resident_id).join(keyed, keyed.c.source_record_id == SourceRecord.id)


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
    # In key order: consecutive probes share index pages (a large registry's index is
    # mostly not in the page cache).
    wanted = sorted(set(keys))
    if not wanted:
        return []
    keyed = _keyed(session, wanted)
    stmt = (
        select(keyed.c.key, SourceRecord.resident_id)
        .join(SourceRecord, SourceRecord.id == keyed.c.source_record_id)
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
    ids = sorted(set(resident_ids))  # in order: neighbouring rows share pages
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
            insert(BlockingKeyRecent), [{"key": k, "source_record_id": record.id} for k in keys]
        )
        await note_written(session, len(keys))


async def unindex(session: AsyncSession, record: SourceRecord) -> None:
    await unindex_records(session, {record.id: record.features})


async def unindex_records(
    session: AsyncSession, stored: Mapping[int, Mapping[str, Any] | None]
) -> None:
    """Drop the keys of source records (id -> stored features), to re-key them: by
    (key, record) pairs recomputed from the features, from both tables. A record stored
    without features (none should be) is looked for by id, which scans."""
    pairs = [{"k": k, "s": sid} for sid, f in stored.items() if f
             for k in keys_of(Features.from_dict(f))]  # fmt: skip
    bare = [sid for sid, f in stored.items() if not f]
    for model in (BlockingKey, BlockingKeyRecent):
        t = cast(Table, model.__table__)
        if pairs:
            by_pair = (t.c.key == bindparam("k")) & (t.c.source_record_id == bindparam("s"))
            await session.execute(delete(t).where(by_pair), pairs)
        if bare:
            await session.execute(delete(t).where(one_of(session, t.c.source_record_id, bare)))


# ---------------------------------------------------------------------------------------
# Merging the recent keys into the settled ones

# Merge once the recent keys number this many, or as many as the registry has records
# (about a ninth of the settled keys: a record has ~9) if that is more. A merge writes the
# settled index's pages once, in key order, so its cost per key stays flat as the registry
# grows (random inserts dirtied a page per key instead).
MERGE_AT = 400_000
# Keys a process writes between two looks at the sizes (looking is cheap, not free).
LOOK_EVERY = 20_000
_written_since_look = 0


async def note_written(session: AsyncSession, count: int) -> int:
    """Count keys written to the recent table; merge when it is due. Returns the keys
    merged (0 almost always)."""
    global _written_since_look
    _written_since_look += count
    if _written_since_look < LOOK_EVERY:
        return 0
    _written_since_look = 0
    return await compact(session)


async def compact(session: AsyncSession, *, force: bool = False) -> int:
    """Move the recent keys into the settled index in key order (sequential writes),
    when due (or `force`). Returns how many moved. Runs in the caller's transaction."""
    due = max(MERGE_AT, int(await session.scalar(select(func.max(SourceRecord.id))) or 0))
    recent = int(await session.scalar(select(func.count()).select_from(BlockingKeyRecent)) or 0)
    if recent == 0 or (not force and recent < due):
        return 0
    rows = select(BlockingKeyRecent.key, BlockingKeyRecent.source_record_id).order_by(
        BlockingKeyRecent.key, BlockingKeyRecent.source_record_id
    )
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt: Any = pg_insert(BlockingKey).from_select(["key", "source_record_id"], rows)
        stmt = stmt.on_conflict_do_nothing()
    else:
        stmt = insert(BlockingKey).from_select(["key", "source_record_id"], rows)
        stmt = stmt.prefix_with("OR IGNORE")
    await session.execute(stmt)
    await session.execute(delete(BlockingKeyRecent))
    return recent
