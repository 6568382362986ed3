"""The privacy audit trail (个人信息处理记录), append-only and hash-chained.

Each `audit_event` row stores ``hash = sha256(prev_hash, its content)`` where
``prev_hash`` is the hash of the row appended before it; the single-row
`audit_chain_head` holds the last hash and the number of rows. Appends are serialized by
updating the head first in the appending transaction (PostgreSQL's row lock; SQLite's
write lock), so chains from several processes never fork. :func:`verify` recomputes the
chain: an edited row breaks its own hash, a removed one its successor's ``prev_hash`` (or
the head's count and hash, for the last). :func:`prune` deletes rows older than a date and
records the hash of the last pruned row as the checkpoint the first kept row links to, so
the remaining chain stays verifiable. No API edits a row.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, String, cast, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql import ColumnElement

from hub.access.models import AuditEvent
from hub.db import Base

GENESIS = "0" * 64


class AuditChainHead(Base):
    """The end of the audit chain (one row, id 1) and the checkpoint of what was pruned."""

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hash: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int] = mapped_column(default=0)  # rows in the chain since the checkpoint
    pruned_hash: Mapped[str] = mapped_column(String(64))  # the last pruned row's hash
    pruned_rows: Mapped[int] = mapped_column(default=0)
    pruned_before: Mapped[dt.datetime | None] = mapped_column(default=None)


def _at(value: dt.datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def row_hash(prev: str, row: dict[str, Any]) -> str:
    """The hash of one row's content chained to the previous row's hash."""
    content = [prev, _at(row["at"]), row.get("client_id"), row["actor"], row["action"],
               row["operation"], list(row["resident_ids"]), row.get("request_id")]  # fmt: skip
    text = json.dumps(content, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


async def append(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Append rows (dicts of AuditEvent columns, ``at`` set) to the chain, in order, in the
    session's transaction. The head is updated first: that takes the lock that serializes
    appends across processes until the transaction ends."""
    if not rows:
        return
    head = (await session.execute(
        update(AuditChainHead).where(AuditChainHead.id == 1)
        .values(rows=AuditChainHead.rows + len(rows))
        .returning(AuditChainHead.hash)
    )).scalar_one_or_none()  # fmt: skip
    if head is None:  # a database migrated before the chain (or emptied by hand)
        head = GENESIS
        await session.execute(insert(AuditChainHead).values(
            id=1, hash=GENESIS, rows=len(rows), pruned_hash=GENESIS, pruned_rows=0))  # fmt: skip
    prev, chained = head, []
    for row in rows:
        digest = row_hash(prev, row)
        chained.append({**row, "prev_hash": prev, "hash": digest})
        prev = digest
    await session.execute(insert(AuditEvent), chained)
    await session.execute(update(AuditChainHead).where(AuditChainHead.id == 1).values(hash=prev))


def event_row(principal: Any, action: str, operation: str, resident_ids: Iterable[int | str],
              at: dt.datetime | None = None) -> dict[str, Any] | None:  # fmt: skip
    ids = sorted({str(i) for i in resident_ids})
    if not ids:
        return None
    return dict(client_id=principal.client_id, actor=principal.name, action=action,
                operation=operation, resident_ids=ids, request_id=principal.request_id,
                at=at or dt.datetime.now(dt.UTC))  # fmt: skip


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    rows: int
    problems: list[str]


async def verify(session: AsyncSession, *, batch: int = 5000) -> Verdict:
    """Recompute the chain from the checkpoint; every break found, by row id."""
    head = await session.get(AuditChainHead, 1)
    prev = head.pruned_hash if head else GENESIS
    problems: list[str] = []
    count, last_id = 0, 0
    while True:
        rows = list(await session.scalars(
            select(AuditEvent).where(AuditEvent.id > last_id).order_by(AuditEvent.id)
            .limit(batch)))  # fmt: skip
        if not rows:
            break
        for r in rows:
            content = dict(at=r.at, client_id=r.client_id, actor=r.actor, action=r.action,
                           operation=r.operation, resident_ids=r.resident_ids,
                           request_id=r.request_id)  # fmt: skip
            if r.prev_hash != prev:
                problems.append(f"row {r.id}: does not follow the row before it "
                                "(a row was removed or inserted)")  # fmt: skip
            if r.hash != row_hash(r.prev_hash or "", content):
                problems.append(f"row {r.id}: its content does not match its hash (edited)")
            prev = r.hash or ""
            count += 1
            last_id = r.id
    if head is not None:
        if head.hash != prev:
            problems.append("the chain's end does not match the head (rows removed at the end)")
        if head.rows != count:
            problems.append(f"the head counts {head.rows} rows, the table holds {count}")
    elif count:
        problems.append("audit rows exist but the chain head is missing")
    return Verdict(not problems, count, problems)


async def prune(session: AsyncSession, before: dt.datetime) -> int:
    """Delete rows older than ``before`` (retention by age only); the chain stays
    verifiable from the last pruned row's hash, kept as the checkpoint."""
    head = (await session.execute(
        update(AuditChainHead).where(AuditChainHead.id == 1)
        .values(rows=AuditChainHead.rows).returning(AuditChainHead.id)
    )).scalar_one_or_none()  # fmt: skip  (takes the chain lock first)
    if head is None:
        return 0
    # the chain is in id order; prune a prefix only (a later row with an older time stays)
    first_kept = await session.scalar(select(func.min(AuditEvent.id))
                                      .where(AuditEvent.at >= before))  # fmt: skip
    cut = select(AuditEvent.id, AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)
    if first_kept is not None:
        cut = cut.where(AuditEvent.id < first_kept)
    last = (await session.execute(cut)).first()
    if last is None:
        return 0
    result = await session.execute(delete(AuditEvent).where(AuditEvent.id <= last.id))
    removed = int(getattr(result, "rowcount", 0) or 0)
    await session.execute(update(AuditChainHead).where(AuditChainHead.id == 1).values(
        pruned_hash=last.hash, rows=AuditChainHead.rows - removed,
        pruned_rows=AuditChainHead.pruned_rows + removed, pruned_before=before))  # fmt: skip
    return int(removed)


async def list_events(
    session: AsyncSession,
    principal: Any,
    *,
    resident_id: int | None = None,
    client_id: int | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    after: int | None = None,
    limit: int = 20,
) -> tuple[list[AuditEvent], int, bool]:
    """Who read or changed whose record, newest first: (rows, total, more).

    ``audit:read`` is an operator's scope (the district's privacy officer). A client bound
    to organizations or practitioners must name a resident it may see (what it may not see
    looks like what does not exist), and sees only that resident's id in the rows."""
    from hub.access import policy
    from hub.access.principal import Scope
    from hub.errors import InvalidInput, NotFound

    principal.require(Scope.AUDIT_READ)
    since, until = (t if t is None or t.tzinfo else t.replace(tzinfo=dt.UTC)
                    for t in (since, until))  # fmt: skip
    if principal.bound and resident_id is None:
        raise InvalidInput("A client bound to organizations or practitioners asks for one "
                           "resident's audit trail (residentId).", field="residentId",
                           code="RESIDENT_REQUIRED")  # fmt: skip
    if resident_id is not None and principal.bound and not await policy.may_see_resident(
        session, principal, resident_id
    ):
        raise NotFound(f"No resident {resident_id} visible to this client.", field="residentId")
    if since is not None and until is not None and until < since:
        raise InvalidInput("until is before since.", field="until", code="INVALID_RANGE")
    conditions: list[ColumnElement[bool]] = []
    if resident_id is not None:
        # resident_ids is a JSON list of strings: '"123"' matches 123, never 1234
        conditions.append(cast(AuditEvent.resident_ids, String).like(f'%"{resident_id}"%'))
    if client_id is not None:
        conditions.append(AuditEvent.client_id == client_id)
    if since is not None:
        conditions.append(AuditEvent.at >= since)
    if until is not None:
        conditions.append(AuditEvent.at < until)
    total = int(await session.scalar(select(func.count()).select_from(AuditEvent)
                                     .where(*conditions)) or 0)  # fmt: skip
    page = select(AuditEvent).where(*conditions).order_by(AuditEvent.id.desc()).limit(limit + 1)
    if after is not None:
        page = page.where(AuditEvent.id < after)
    rows = list(await session.scalars(page))
    if principal.bound and resident_id is not None:
        for r in rows:  # the other residents of a multi-resident row are not this client's
            session.expunge(r)
            r.resident_ids = [str(resident_id)]
    return rows[:limit], total, len(rows) > limit
