"""Applying messages inside one transaction: idempotency, ordering, isolation, outcomes.

`ingest` is what happens to newly received messages (log them, skip duplicates, apply the
rest); `rework` is the same for logged messages (retries, woken parked ones, replays).
Both run inside the caller's transaction and never commit.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from adapters.runtime import log
from adapters.runtime.models import InboundMessage, Status
from adapters.runtime.types import (
    Adapter,
    Applied,
    Backoff,
    Dead,
    Message,
    Outcome,
    Park,
    Problem,
    Receipt,
    Reject,
    Retry,
    Work,
)
from hub.logs import get_logger

logger = get_logger("adapters.runtime")
BROKEN_FRAME = "BROKEN_FRAME"  # bytes the transport could not frame


@dataclass(frozen=True, slots=True)
class Item:
    """One received payload; `broken` is set for bytes the transport could not frame."""

    raw: bytes
    broken: str | None = None
    message: Message | None = None  # read already (the intake reads while a batch commits)


def digest(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


async def ingest(
    session: AsyncSession,
    adapter: Adapter,
    items: Sequence[Item],
    *,
    now: dt.datetime,
    backoff: Backoff,
) -> list[Receipt]:
    """Log every item, apply those not seen before, and say what to answer each."""
    messages = [_read(adapter, item) for item in items]
    hashes = [digest(item.raw) for item in items]
    found = await log.originals(
        session, adapter.name, [m.control_id for m in messages if m.control_id], hashes
    )
    found = [r for r in found if r.error_code != BROKEN_FRAME]
    by_hash = {r.payload_hash: r for r in found}
    by_cid = {r.control_id: r for r in found if r.status != Status.REJECTED and r.control_id}
    # A duplicate: the same bytes, or the same control id as a message that was taken. A
    # corrected resend of a rejected message (same id, other bytes) is a new message.
    first_of: dict[int, Any] = {}  # item index -> the original row, or the batch index
    original: Any
    seen_hash: dict[str, int] = {}
    seen_cid: dict[str, int] = {}
    for i, (m, h) in enumerate(zip(messages, hashes, strict=True)):
        if items[i].broken:
            continue  # a cut frame is kept for the record, never matched either way
        cid = m.control_id if m.problem is None else None
        original = by_hash.get(h) or (by_cid.get(cid) if cid else None)
        if original is None:
            j = seen_hash.get(h, seen_cid.get(cid) if cid else None)
            original = j
        if original is not None:
            first_of[i] = original
            continue
        seen_hash[h] = i
        if cid:
            seen_cid[cid] = i
    fresh = [i for i in range(len(items)) if i not in first_of and messages[i].problem is None]
    works = [Work(0, items[i].raw, messages[i], now, 0) for i in fresh]
    outcomes = dict(zip(fresh, await apply(session, adapter, works, now=now), strict=True))
    row_of: dict[int, dict[str, Any]] = {}
    for i, (item, m, h) in enumerate(zip(items, messages, hashes, strict=True)):
        if i in first_of:
            continue
        row = _identity(adapter.name, item.raw, m, h, now)
        outcome: Outcome = outcomes.get(i) or Reject(m.problem or Problem("UNKNOWN", "?"))
        row.update(_columns(outcome, attempts=0, now=now, backoff=backoff))
        row_of[i] = row
    ids = dict(zip(row_of, await log.insert_rows(session, list(row_of.values())), strict=True))
    dups: dict[int, dict[str, Any]] = {}
    for i, original in first_of.items():
        row = _identity(adapter.name, items[i].raw, messages[i], hashes[i], now)
        of_id = ids[original] if isinstance(original, int) else original.id
        row.update(status=Status.DUPLICATE, duplicate_of_id=of_id, ack_code=None)
        dups[i] = row
    ids.update(zip(dups, await log.insert_rows(session, list(dups.values())), strict=True))
    await _wake(session, adapter, [(messages[i], o) for i, o in outcomes.items()], now)
    receipts: list[Receipt] = []
    for i, m in enumerate(messages):
        if i in first_of:
            original = first_of[i]
            o_row = row_of[original] if isinstance(original, int) else original._asdict()
            receipts.append(_duplicate_receipt(ids[i], o_row))
            continue
        o = outcomes.get(i)
        problem = o.problem if isinstance(o, Reject) else m.problem
        warnings = o.warnings if isinstance(o, Applied) else m.warnings
        reply = problem.reply if problem is not None else "AA"
        receipts.append(Receipt(ids[i], row_of[i]["status"], reply, problem, warnings))
    return receipts


def _duplicate_receipt(dup_id: int, original: dict[str, Any]) -> Receipt:
    """A duplicate gets the answer its original got: AA, or the same error again."""
    reply = original.get("ack_code") or "AA"
    problem = None
    if reply != "AA":
        problem = Problem(
            original.get("error_code") or "DUPLICATE", original.get("error_text") or "", reply
        )
    return Receipt(dup_id, Status.DUPLICATE, reply, problem, (), duplicate=True)


async def rework(
    session: AsyncSession,
    adapter: Adapter,
    rows: Sequence[InboundMessage],
    *,
    now: dt.datetime,
    backoff: Backoff,
) -> list[Outcome]:
    """Apply logged messages again (due retries, woken parked messages, replays)."""
    works = []
    for row in rows:
        message = adapter.read(row.payload)
        works.append(Work(row.id, row.payload, message, row.received_at, row.attempts))
    outcomes: list[Outcome] = []
    todo = [w for w in works if w.message.problem is None]
    applied = iter(await apply(session, adapter, todo, now=now))
    updates = []
    for row, work in zip(rows, works, strict=True):
        o = next(applied) if work.message.problem is None else Reject(work.message.problem)
        outcomes.append(o)
        cols = _columns(o, attempts=row.attempts, now=now, backoff=backoff)
        updates.append({"id": row.id, **cols})
    await log.set_outcomes(session, updates)
    await _wake(
        session, adapter, [(w.message, o) for w, o in zip(works, outcomes, strict=True)], now
    )
    return outcomes


async def apply(
    session: AsyncSession, adapter: Adapter, works: Sequence[Work], *, now: dt.datetime
) -> list[Outcome]:
    """The adapter's apply, with the runtime's guarantees around it: messages older than
    an applied full state are superseded, and a failure is pinned on one message only."""
    if not works:
        return []
    latest = await log.latest_versions(
        session, adapter.name, [w.message.version_key for w in works if w.message.version_key]
    )
    outcomes: list[Outcome | None] = [None] * len(works)
    live: list[int] = []
    for i, w in enumerate(works):
        key, when = w.message.version_key, w.message.event_time
        newest = latest.get(key) if key else None
        if key and when is not None and newest is not None and when < newest:
            outcomes[i] = Applied({"superseded": True})
            continue
        if key and when is not None:
            latest[key] = max(when, newest) if newest else when
        live.append(i)
    done = await _isolated(session, adapter, [works[i] for i in live])
    for i, o in zip(live, done, strict=True):
        outcomes[i] = o
    return [o for o in outcomes if o is not None]


async def _isolated(session: AsyncSession, adapter: Adapter, works: list[Work]) -> list[Outcome]:
    if not works:
        return []
    try:
        async with session.begin_nested():
            outcomes = await adapter.apply(session, works)
        if len(outcomes) != len(works):
            raise RuntimeError(
                f"{adapter.name}.apply returned {len(outcomes)} outcomes for {len(works)} messages"
            )
        return outcomes
    except (asyncio.CancelledError, KeyboardInterrupt):
        raise
    except Exception as err:
        if len(works) > 1:  # find the one that fails; the others go through
            out: list[Outcome] = []
            for w in works:
                out += await _isolated(session, adapter, [w])
            return out
        logger.warning(
            "adapter.apply_failed",
            adapter=adapter.name,
            inbound_id=works[0].id,
            error=type(err).__name__,
        )
        # A database error's text would carry the statement's parameters (personal data):
        # keep the driver's own message only.
        cause = getattr(err, "orig", None) or err
        return [Retry("APPLY_FAILED", f"{type(err).__name__}: {cause}"[:480])]


def _read(adapter: Adapter, item: Item) -> Message:
    message = item.message or adapter.read(item.raw)
    if item.broken is None:
        return message
    return Message(
        message.control_id, message.message_type, problem=Problem(BROKEN_FRAME, item.broken, "AR")
    )


def _identity(name: str, raw: bytes, m: Message, h: str, now: dt.datetime) -> dict[str, Any]:
    return {
        "adapter": name,
        "received_at": now,
        "control_id": (m.control_id or None),
        "payload_hash": h,
        "payload": raw,
        "message_type": m.message_type,
        "order_key": m.order_key,
        "version_key": m.version_key,
        "event_time": m.event_time,
        "attempts": 0,
        "duplicate_of_id": None,
        "next_attempt_at": None,
        "error_code": None,
        "error_text": None,
        "result": None,
        "applied_at": None,
    }


def _columns(o: Outcome, *, attempts: int, now: dt.datetime, backoff: Backoff) -> dict[str, Any]:
    """The outcome columns of a log row after one more attempt."""
    tried = attempts + 1
    cols: dict[str, Any] = {
        "attempts": tried,
        "next_attempt_at": None,
        "result": None,
        "applied_at": None,
        "error_code": None,
        "error_text": None,
    }
    if isinstance(o, Applied):
        cols.update(status=Status.APPLIED, ack_code="AA", result=o.result or None, applied_at=now)
    elif isinstance(o, Reject):
        cols.update(
            status=Status.REJECTED,
            ack_code=o.problem.reply,
            error_code=o.problem.code,
            error_text=o.problem.text[:500],
        )
    else:  # Park / Retry: try again later, until the attempts run out
        # A parked message waits as long as the adapter says (it answers Dead when the
        # wait is over); only failures use up attempts.
        dead = isinstance(o, Dead) or (isinstance(o, Retry) and tried >= backoff.max_attempts)
        status = Status.DEAD if dead else (Status.PARKED if isinstance(o, Park) else Status.RETRY)
        wait = None if dead else now + dt.timedelta(seconds=backoff.delay(tried))
        cols.update(
            status=status,
            ack_code="AA",
            next_attempt_at=wait,
            error_code=o.code,
            error_text=o.text[:500],
        )
    return cols


async def _wake(
    session: AsyncSession,
    adapter: Adapter,
    done: Sequence[tuple[Message, Outcome]],
    now: dt.datetime,
) -> None:
    keys = [m.order_key for m, o in done if isinstance(o, Applied) and m.order_key]
    if keys:
        await log.wake(session, adapter.name, keys, now)
