"""Every query on the adapters' tables (inbound log, outbound queue, checkpoints)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any, cast

from sqlalchemy import Row, Table, func, insert, or_, select, union, update
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.runtime.models import (
    DEAD_LETTERS,
    PENDING,
    Checkpoint,
    InboundMessage,
    OutboundMessage,
    Status,
)

# The columns an outcome sets; every update names all of them so the ORM sends one
# executemany per batch.
OUTCOME_COLUMNS = (
    "status",
    "ack_code",
    "attempts",
    "next_attempt_at",
    "error_code",
    "error_text",
    "result",
    "applied_at",
)


async def originals(
    session: AsyncSession, adapter: str, control_ids: Iterable[str], hashes: Iterable[str]
) -> list[Row[Any]]:
    """Messages already logged (not themselves duplicates) with one of these ids or hashes."""
    cids, sums = list(set(control_ids)), list(set(hashes))
    columns = (
        InboundMessage.id,
        InboundMessage.control_id,
        InboundMessage.payload_hash,
        InboundMessage.status,
        InboundMessage.ack_code,
        InboundMessage.error_code,
        InboundMessage.error_text,
    )
    base = (InboundMessage.adapter == adapter, InboundMessage.duplicate_of_id.is_(None))
    # One indexed lookup per column, not `control_id IN .. OR payload_hash IN ..`, which
    # SQLite answers by scanning the adapter's whole log.
    by = ((InboundMessage.control_id, cids), (InboundMessage.payload_hash, sums))
    lookups = [select(*columns).where(*base, column.in_(values)) for column, values in by if values]
    if not lookups:
        return []
    query = lookups[0] if len(lookups) == 1 else union(*lookups).subquery().select()
    rows = await session.execute(query.order_by(query.selected_columns.id))
    found: list[Row[Any]] = list(rows.all())  # type: ignore[arg-type]
    return found


async def insert_rows(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert log rows with one statement; their ids in the same order. Rows are matched
    back by payload hash: SQLite returns a multi-row insert's ids in no promised order,
    and asking SQLAlchemy to sort them makes it insert row by row."""
    if not rows:
        return []
    table = cast(Table, InboundMessage.__table__)
    result = await session.execute(
        insert(table).returning(table.c.id, table.c.payload_hash), list(rows)
    )
    ids: dict[str, list[int]] = {}
    for rid, digest in sorted(result.all()):
        ids.setdefault(digest, []).append(rid)
    return [ids[row["payload_hash"]].pop(0) for row in rows]


async def set_outcomes(session: AsyncSession, updates: Sequence[dict[str, Any]]) -> None:
    """Update by primary key; each dict holds `id` and every OUTCOME_COLUMNS key."""
    if updates:
        await session.execute(update(InboundMessage), list(updates))


async def latest_versions(
    session: AsyncSession, adapter: str, keys: Iterable[str]
) -> dict[str, dt.datetime]:
    """The newest event time applied per version key."""
    keys = list(set(keys))
    if not keys:
        return {}
    rows = await session.execute(
        select(InboundMessage.version_key, func.max(InboundMessage.event_time))
        .where(
            InboundMessage.adapter == adapter,
            InboundMessage.version_key.in_(keys),
            InboundMessage.status == Status.APPLIED,
        )
        .group_by(InboundMessage.version_key)
    )
    return {str(k): t for k, t in rows if t is not None}


async def wake(
    session: AsyncSession, adapter: str, order_keys: Iterable[str], now: dt.datetime
) -> int:
    """Make messages parked for these keys due now: what they waited for has arrived."""
    keys = list(set(order_keys))
    if not keys:
        return 0
    result = await session.execute(
        update(InboundMessage)
        .where(
            InboundMessage.adapter == adapter,
            InboundMessage.status == Status.PARKED,
            InboundMessage.order_key.in_(keys),
        )
        .values(next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def claim_due(
    session: AsyncSession, adapter: str, now: dt.datetime, limit: int
) -> list[InboundMessage]:
    """Pending messages whose time has come, oldest event first. On PostgreSQL the rows
    stay locked to this transaction and other workers skip them (SKIP LOCKED)."""
    order = func.coalesce(InboundMessage.event_time, InboundMessage.received_at)
    rows = await session.scalars(
        select(InboundMessage)
        .where(
            InboundMessage.adapter == adapter,
            InboundMessage.status.in_(PENDING),
            or_(InboundMessage.next_attempt_at.is_(None), InboundMessage.next_attempt_at <= now),
        )
        .order_by(order, InboundMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(rows)


async def next_due(session: AsyncSession, adapter: str) -> dt.datetime | None:
    return await session.scalar(
        select(func.min(InboundMessage.next_attempt_at)).where(
            InboundMessage.adapter == adapter, InboundMessage.status.in_(PENDING)
        )
    )


async def get(
    session: AsyncSession, inbound_id: int, *, lock: bool = False
) -> InboundMessage | None:
    stmt = select(InboundMessage).where(InboundMessage.id == inbound_id)
    if lock:
        stmt = stmt.with_for_update(skip_locked=True)
    return await session.scalar(stmt)


async def dead_letter_ids(
    session: AsyncSession, adapter: str | None, *, after: int | None, limit: int
) -> list[int]:
    stmt = select(InboundMessage.id).where(InboundMessage.status.in_(DEAD_LETTERS))
    if adapter:
        stmt = stmt.where(InboundMessage.adapter == adapter)
    if after is not None:
        stmt = stmt.where(InboundMessage.id > after)
    return list(await session.scalars(stmt.order_by(InboundMessage.id).limit(limit)))


async def dead_letters(
    session: AsyncSession, adapter: str | None, *, after: int | None, limit: int
) -> list[InboundMessage]:
    ids = await dead_letter_ids(session, adapter, after=after, limit=limit)
    if not ids:
        return []
    rows = await session.scalars(
        select(InboundMessage).where(InboundMessage.id.in_(ids)).order_by(InboundMessage.id)
    )
    return list(rows)


async def counts(session: AsyncSession, adapter: str) -> dict[str, int]:
    rows = await session.execute(
        select(InboundMessage.status, func.count())
        .where(InboundMessage.adapter == adapter)
        .group_by(InboundMessage.status)
    )
    return {status: int(n) for status, n in rows}


async def oldest_pending(session: AsyncSession, adapter: str) -> dt.datetime | None:
    return await session.scalar(
        select(func.min(InboundMessage.received_at)).where(
            InboundMessage.adapter == adapter, InboundMessage.status.in_(PENDING)
        )
    )


async def last_received(session: AsyncSession, adapter: str) -> dt.datetime | None:
    return await session.scalar(
        select(func.max(InboundMessage.received_at)).where(InboundMessage.adapter == adapter)
    )


# ---------------------------------------------------------------- outbound queue


async def outbound_counts(session: AsyncSession, adapter: str) -> dict[str, int]:
    rows = await session.execute(
        select(OutboundMessage.status, func.count())
        .where(OutboundMessage.adapter == adapter)
        .group_by(OutboundMessage.status)
    )
    return {status: int(n) for status, n in rows}


async def claim_outbound(
    session: AsyncSession, adapter: str, now: dt.datetime, lease: dt.timedelta, limit: int
) -> list[OutboundMessage]:
    """Due outbound messages, leased to this worker until `now + lease` (the send happens
    outside any transaction; a worker that dies lets the lease run out)."""
    rows = list(
        await session.scalars(
            select(OutboundMessage)
            .where(
                OutboundMessage.adapter == adapter,
                OutboundMessage.status.in_(PENDING),
                or_(
                    OutboundMessage.next_attempt_at.is_(None),
                    OutboundMessage.next_attempt_at <= now,
                ),
            )
            .order_by(OutboundMessage.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    for row in rows:
        row.next_attempt_at = now + lease
    return rows


# ------------------------------------------------------------------ checkpoints


async def checkpoint(session: AsyncSession, adapter: str, stream: str) -> str | None:
    return await session.scalar(
        select(Checkpoint.position).where(
            Checkpoint.adapter == adapter, Checkpoint.stream == stream
        )
    )


async def advance(session: AsyncSession, adapter: str, stream: str, position: str) -> None:
    """Set a checkpoint in the caller's transaction: it moves only if the work commits."""
    row = await session.get(Checkpoint, (adapter, stream))
    if row is None:
        session.add(Checkpoint(adapter=adapter, stream=stream, position=position))
    else:
        row.position, row.updated_at = position, dt.datetime.now(dt.UTC)


async def checkpoints(session: AsyncSession, adapter: str) -> list[Checkpoint]:
    return list(
        await session.scalars(
            select(Checkpoint).where(Checkpoint.adapter == adapter).order_by(Checkpoint.stream)
        )
    )
