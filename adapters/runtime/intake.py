"""Group commit for pushed messages (MLLP): one transaction for whatever arrived together.

A sender waits for its acknowledgement, so each connection has at most one message in
flight; with many connections, messages pile up while a batch is being committed. The
next batch takes all of them (up to `max_batch`), logs and applies them in one
transaction, commits, and only then answers each. Nothing is acknowledged before it is
durable; when the commit fails, nobody is answered and the senders resend.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Callable

from adapters.runtime.db import writing
from adapters.runtime.process import Item, ingest
from adapters.runtime.types import Adapter, Backoff, Receipt
from hub.db import Database
from hub.logs import get_logger

logger = get_logger("adapters.intake")

_Pending = tuple[Item, "asyncio.Future[Receipt] | None"]


class Intake:
    def __init__(
        self,
        db: Database,
        adapter: Adapter,
        *,
        backoff: Backoff = Backoff(),
        max_batch: int = 200,
        linger: float = 0.0,
        on_commit: Callable[[list[Receipt]], None] | None = None,
        senders: Callable[[], int] | None = None,
    ) -> None:
        self.db, self.adapter, self.backoff = db, adapter, backoff
        self.max_batch, self.linger = max_batch, linger
        self.on_commit = on_commit
        self.senders = senders  # how many could be sending now (open connections)
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.batches = 0  # committed batches, for the benchmark's batch-size figure
        self.committed = 0

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"intake:{self.adapter.name}")

    async def stop(self) -> None:
        """Stop taking work. Whatever was not committed yet gets no answer (resent later)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        while not self._queue.empty():
            _, fut = self._queue.get_nowait()
            if fut is not None and not fut.done():
                fut.set_exception(ConnectionAbortedError("intake stopped"))

    async def receive(self, raw: bytes) -> Receipt:
        """Store (and apply) one message; returns once it is committed."""
        if self._task is None:
            raise ConnectionAbortedError("intake is not running")
        fut: asyncio.Future[Receipt] = asyncio.get_running_loop().create_future()
        # Reading here, not in the batch, overlaps the parsing with the running commit.
        self._queue.put_nowait((Item(raw, message=self.adapter.read(raw)), fut))
        return await fut

    def discard(self, raw: bytes, reason: str) -> None:
        """Keep bytes the transport could not frame (nobody waits for an answer)."""
        if self._task is not None:
            self._queue.put_nowait((Item(raw, broken=reason), None))

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self.max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            if self.linger:
                await self._gather(batch)
            await self._commit(batch)

    async def _gather(self, batch: list[_Pending]) -> None:
        """Wait up to `linger` for the other senders' messages: a commit costs about the
        same for one message as for a hundred. A lone sender is never kept waiting."""
        want = min(self.max_batch, self.senders() if self.senders else self.max_batch)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.linger
        while len(batch) < want:
            left = deadline - loop.time()
            if left <= 0:
                break
            try:
                async with asyncio.timeout(left):
                    batch.append(await self._queue.get())
            except TimeoutError:
                break

    async def _commit(self, batch: list[_Pending]) -> None:
        items = [item for item, _ in batch]
        try:
            now = dt.datetime.now(dt.UTC)
            async with writing(self.db) as session:
                receipts = await ingest(session, self.adapter, items, now=now, backoff=self.backoff)
        except asyncio.CancelledError:
            for _, fut in batch:
                if fut is not None and not fut.done():
                    fut.set_exception(ConnectionAbortedError("intake stopped"))
            raise
        except Exception as err:
            # Nothing was stored: no answer at all, so the senders resend.
            logger.error(
                "intake.commit_failed",
                adapter=self.adapter.name,
                size=len(batch),
                error=type(err).__name__,
                exc_info=err,
            )
            for _, fut in batch:
                if fut is not None and not fut.done():
                    fut.set_exception(err)
            return
        self.batches += 1
        self.committed += len(batch)
        for (_, fut), receipt in zip(batch, receipts, strict=True):
            if fut is not None and not fut.done():
                fut.set_result(receipt)
        if self.on_commit is not None:
            self.on_commit(receipts)
