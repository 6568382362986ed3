"""Background loops of an adapter: retries of logged messages, pulls since a checkpoint,
and pushes of hub events. Each claims its work with row locks (SKIP LOCKED on
PostgreSQL), so several processes can run them side by side; each honours the kill switch.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from collections.abc import Awaitable, Callable
from typing import Any

from adapters.runtime import log
from adapters.runtime.control import is_enabled
from adapters.runtime.db import writing
from adapters.runtime.models import OutboundMessage, Status
from adapters.runtime.process import Item, ingest, rework
from adapters.runtime.types import Adapter, Backoff, PullSource, Pusher, RetriableError
from hub.db import Database
from hub.logs import get_logger

logger = get_logger("adapters.worker")


class Switch:
    """The adapter's kill switch as stored, read at most every `ttl` seconds."""

    def __init__(self, db: Database, name: str, default: bool, ttl: float = 1.0) -> None:
        self.db, self.name, self.default, self.ttl = db, name, default, ttl
        self._value, self._read_at = default, -1e9

    async def enabled(self) -> bool:
        if time.monotonic() - self._read_at >= self.ttl:
            try:
                async with self.db.reader() as session:
                    self._value = await is_enabled(session, self.name, self.default)
            except Exception as err:  # the database away: keep the last known value
                logger.warning("switch.read_failed", adapter=self.name, error=type(err).__name__)
            self._read_at = time.monotonic()
        return self._value


class Loop:
    """Run `step` until stopped; a step returns whether it found work (then run again
    at once) — otherwise wait `idle` seconds or until `poke()`. Errors are logged and
    backed off, never fatal: the database or the other side may come back."""

    def __init__(
        self, name: str, step: Callable[[], Awaitable[bool]], switch: Switch, *, idle: float = 0.5
    ) -> None:
        self.name, self.step, self.switch, self.idle = name, step, switch, idle
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.errors = 0

    def poke(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        failures = 0
        while True:
            busy = False
            try:
                if await self.switch.enabled():
                    busy = await self.step()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as err:
                failures += 1
                self.errors += 1
                logger.warning(
                    "worker.step_failed",
                    loop=self.name,
                    error=type(err).__name__,
                    failures=failures,
                )
                await asyncio.sleep(Backoff(base=0.5, cap=30).delay(failures))
                continue
            if busy:
                await asyncio.sleep(0)
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.idle):
                    await self._wake.wait()


def retry_step(
    db: Database, adapter: Adapter, backoff: Backoff, batch: int = 100
) -> Callable[[], Awaitable[bool]]:
    """Apply due parked and failed messages, oldest event first."""

    async def step() -> bool:
        now = dt.datetime.now(dt.UTC)
        async with db.reader() as session:  # a cheap look first: the write lock is shared
            due = await log.next_due(session, adapter.name)
        if due is None or due > now:
            return False
        async with writing(db) as session:
            rows = await log.claim_due(session, adapter.name, now, batch)
            if rows:
                await rework(session, adapter, rows, now=now, backoff=backoff)
        return len(rows) == batch

    return step


def pull_step(
    db: Database,
    adapter: Adapter,
    source: PullSource,
    backoff: Backoff,
    *,
    limit: int = 200,
    timeout: float = 30.0,
) -> Callable[[], Awaitable[bool]]:
    """Fetch what changed since the checkpoint; log and apply it and move the checkpoint
    in one transaction, so a crash between the two re-reads instead of skipping."""

    async def step() -> bool:
        async with db.reader() as session:
            position = await log.checkpoint(session, adapter.name, source.stream)
        async with asyncio.timeout(timeout):  # a slow system never stalls the others
            pulled = await source.pull(position, limit)
        now = dt.datetime.now(dt.UTC)
        async with writing(db) as session:
            await ingest(
                session, adapter, [Item(raw) for raw in pulled.messages], now=now, backoff=backoff
            )
            if pulled.checkpoint is not None and pulled.checkpoint != position:
                await log.advance(session, adapter.name, source.stream, pulled.checkpoint)
        return len(pulled.messages) >= limit

    return step


def dispatch_step(
    db: Database, pusher: Pusher, *, batch: int = 500, checkpoint_every: float = 30.0
) -> Callable[[], Awaitable[bool]]:
    """Turn new outbox events of the pusher's types into outbound messages; the checkpoint
    moves in the same transaction. The types are filtered in SQL: most events (residents
    linked by the thousand) are not for a pusher, and reading them all costs the intake."""
    stream = "events"
    moved_at = -1e9

    async def step() -> bool:
        nonlocal moved_at
        async with db.reader() as session:
            position = await log.checkpoint(session, pusher.name, stream)
            events, reached = await _events_after(session, position, batch, pusher.event_types)
        if reached == position:
            return False
        if not events and time.monotonic() - moved_at < checkpoint_every:
            return False  # nothing to send: move the checkpoint now and then, not each time
        moved_at = time.monotonic()
        async with writing(db) as session:
            if await log.checkpoint(session, pusher.name, stream) != position:
                return True  # another worker moved on meanwhile: read again
            for event in events:
                for destination, control_id, payload in await pusher.prepare(session, event):
                    session.add(
                        OutboundMessage(
                            adapter=pusher.name,
                            event_id=event.id,
                            destination=destination,
                            control_id=control_id,
                            payload=payload,
                            status=Status.RECEIVED,
                        )
                    )
            await log.advance(session, pusher.name, stream, reached)
        return len(events) == batch

    return step


async def _events_after(
    session: Any, position: str | None, limit: int, prefixes: tuple[str, ...]
) -> tuple[list[Any], str]:
    """(events of these types after `position`, the position reached), in commit order.
    Only settled events are read (hub.events.repository.head: on PostgreSQL nothing can
    still commit below it), so moving the checkpoint to it skips nothing."""
    from sqlalchemy import or_, select, tuple_

    from hub.events import repository as feed
    from hub.events.models import Event

    tx, _, eid = (position or "0:0").partition(":")
    start = (int(tx), int(eid or 0))
    head = await feed.head(session)
    if head <= start:
        return [], position or "0:0"
    key = tuple_(Event.tx, Event.id)
    ids = list(
        await session.scalars(
            select(Event.id)
            .where(
                key > tuple_(*start),
                key <= tuple_(*head),
                or_(*(Event.type.startswith(p, autoescape=True) for p in prefixes)),
            )
            .order_by(Event.tx, Event.id)
            .limit(limit)
        )
    )
    found = await feed.events(session, ids) if ids else {}
    events = [found[i] for i in ids]
    reached = head if len(ids) < limit else events[-1].position
    return events, f"{reached[0]}:{reached[1]}"


def send_step(
    db: Database,
    pusher: Pusher,
    backoff: Backoff,
    *,
    batch: int = 20,
    lease: float = 60.0,
    timeout: float = 15.0,
) -> Callable[[], Awaitable[bool]]:
    """Deliver due outbound messages. The send happens outside any transaction (a lease
    keeps other workers off the row); the answer is applied in its own transaction."""

    async def step() -> bool:
        now = dt.datetime.now(dt.UTC)
        async with writing(db) as session:
            rows = await log.claim_outbound(
                session, pusher.name, now, dt.timedelta(seconds=lease), batch
            )
            claimed = [(r.id, r.destination, r.payload, r.attempts) for r in rows]
        for row_id, destination, payload, attempts in claimed:
            try:
                async with asyncio.timeout(timeout):
                    reply = await pusher.send(destination, payload)
            except (RetriableError, TimeoutError, OSError) as err:
                await _outbound_failed(db, row_id, attempts, err, backoff)
                continue
            async with writing(db) as session:
                row = await session.get(OutboundMessage, row_id)
                assert row is not None
                row.reply, row.sent_at = reply, dt.datetime.now(dt.UTC)
                row.attempts, row.status, row.next_attempt_at = attempts + 1, Status.APPLIED, None
                row.error_code = row.error_text = None
                await pusher.settle(session, row, reply)
        return len(claimed) == batch

    return step


async def _outbound_failed(
    db: Database, row_id: int, attempts: int, err: Exception, backoff: Backoff
) -> None:
    tried = attempts + 1
    code = getattr(err, "code", None) or type(err).__name__
    async with writing(db) as session:
        row = await session.get(OutboundMessage, row_id)
        assert row is not None
        row.attempts, row.error_code, row.error_text = tried, str(code)[:60], str(err)[:500]
        if tried >= backoff.max_attempts:
            row.status, row.next_attempt_at = Status.DEAD, None
        else:
            row.status = Status.RETRY
            row.next_attempt_at = dt.datetime.now(dt.UTC) + dt.timedelta(
                seconds=backoff.delay(tried)
            )
    logger.info(
        "outbound.retry", adapter=row.adapter, outbound_id=row_id, attempts=tried, error=str(code)
    )
