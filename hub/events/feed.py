"""One reader of the outbox per process, fanning events out to in-process subscribers.

The feed polls the ``event`` table every ``poll_interval`` and wakes early when this
process commits events or, on PostgreSQL, when any process does (LISTEN). Subscribers
(GraphQL subscriptions) get an async iterator starting at a position they choose, so a
client that connected before a change receives it even if the change committed before
its subscription was fully set up.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from hub.db import Database
from hub.events import repository, signals
from hub.events.repository import FeedEvent, Position
from hub.events.settings import EventSettings
from hub.logs import get_logger

log = get_logger("hub.events.feed")


class SubscriberTooSlow(Exception):
    """The subscriber's buffer overflowed; it must resubscribe (nothing is dropped silently)."""


_OVERFLOW = object()


class EventFeed:
    def __init__(self, db: Database, settings: EventSettings) -> None:
        self.db = db
        self.settings = settings
        self.position: Position = repository.START
        self._queues: set[asyncio.Queue[Any]] = set()
        self._listeners: list[Callable[[list[FeedEvent]], None]] = []
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._pg: Any = None  # the LISTEN connection (asyncpg)
        self.started = False
        self.notifications = 0  # NOTIFYs received (how other processes wake this one)

    # ---- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        async with self.db.reader() as session:
            self.position = await repository.head(session)
        signals.add_waker(self.wake)
        if not self.db.is_sqlite:
            await self._listen()
        self._task = asyncio.create_task(self._run(), name="event-feed")
        self.started = True

    async def stop(self) -> None:
        signals.remove_waker(self.wake)
        self.started = False
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._pg is not None:
            with contextlib.suppress(Exception):
                await self._pg.close()
            self._pg = None

    def wake(self) -> None:
        """Thread-safe: read the outbox now rather than at the next poll."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        loop.call_soon_threadsafe(self._wake.set)

    def on_events(self, listener: Callable[[list[FeedEvent]], None]) -> None:
        """Call ``listener`` (in the feed's loop) with each batch read (the webhook dispatcher)."""
        self._listeners.append(listener)

    async def _listen(self) -> None:
        import asyncpg

        url = self.db.engine.url.set(drivername="postgresql")
        try:
            self._pg = await asyncpg.connect(url.render_as_string(hide_password=False))
            await self._pg.add_listener(signals.CHANNEL, self._notified)
        except (OSError, asyncpg.PostgresError) as e:  # polling still works without it
            log.warning("events.listen_failed", error=type(e).__name__)
            self._pg = None

    def _notified(self, *_: Any) -> None:
        self.notifications += 1
        self._wake.set()

    # ---- reading -------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.poll_interval)
            self._wake.clear()
            try:
                while await self._read_once():
                    pass
            except Exception as e:  # noqa: BLE001 - a failed poll is retried at the next one
                log.warning("events.poll_failed", error=type(e).__name__, exc_info=e)
            if self._pg is not None and self._pg.is_closed():
                self._pg = None
                await self._listen()

    async def _read_once(self) -> bool:
        """Read one batch and fan it out; True when a full batch suggests more are waiting."""
        async with self.db.reader() as session:
            batch = await repository.read_after(session, self.position, limit=self.settings.batch)
        if not batch:
            return False
        # no await from here on: subscribers registering see a consistent (queues, position)
        for queue in list(self._queues):
            if queue.qsize() + len(batch) > self.settings.subscriber_queue:
                self._queues.discard(queue)
                queue.put_nowait(_OVERFLOW)
                continue
            for ev in batch:
                queue.put_nowait(ev)
        self.position = batch[-1].position
        for listener in self._listeners:
            listener(batch)
        return len(batch) >= self.settings.batch

    async def stream(self, since: Position | None = None) -> AsyncIterator[FeedEvent]:
        """Events after ``since`` (default: from now on), in feed order, until closed."""
        if not self.started:
            raise RuntimeError("the event feed is not running in this process")
        queue: asyncio.Queue[Any] = asyncio.Queue()
        boundary = self.position
        self._queues.add(queue)  # together with reading `boundary`: no await in between
        try:
            while since is not None and since < boundary:  # catch up from the outbox
                async with self.db.reader() as session:
                    missed = await repository.read_after(
                        session, since, limit=self.settings.batch, until=boundary
                    )
                for ev in missed:
                    yield ev
                since = missed[-1].position if missed else boundary
            while True:
                item = await queue.get()
                if item is _OVERFLOW:
                    raise SubscriberTooSlow("fell too far behind the event feed; resubscribe")
                yield item
        finally:
            self._queues.discard(queue)
