"""The maternal-child adapter assembled: the pull loop (GET /records since the checkpoint
-> inbound log -> hub, checkpoint in the same transaction), the retries of parked and
failed records, and the signing-status pushes. Started by `hub serve` when
HUB_MATERNAL_URL is set, or alone by `hub adapters run maternal [--until-idle]`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from adapters.maternal import translate
from adapters.maternal.apply import NAME, MaternalAdapter
from adapters.maternal.client import MaternalClient
from adapters.maternal.push import SigningStatusPusher
from adapters.maternal.settings import MaternalSettings, get_maternal_settings
from adapters.runtime import log
from adapters.runtime.db import writing
from adapters.runtime.process import Item, ingest
from adapters.runtime.types import Backoff, Pulled
from adapters.runtime.worker import Loop, Switch, dispatch_step, retry_step, send_step
from hub.logs import get_logger
from hub.plugins import PullPlugin

if TYPE_CHECKING:
    from hub.core import Hub

logger = get_logger("adapters.maternal")
STREAM = "records"


def build_adapter(hub: Hub, settings: MaternalSettings | None = None) -> MaternalAdapter:
    import hub.models as _tables  # noqa: F401  (every table: records reach contracts, teams)

    s = settings or get_maternal_settings()
    return MaternalAdapter(hub.registry, park_seconds=s.park_seconds)


class RecordSource:
    """GET /records by the source's cursor (the runtime's PullSource)."""

    name, stream = NAME, STREAM

    def __init__(self, client: MaternalClient) -> None:
        self.client = client
        self.has_more = True

    async def pull(self, checkpoint: str | None, limit: int) -> Pulled:
        page = await self.client.records(checkpoint, limit)
        self.has_more = bool(page.get("has_more"))
        messages = [translate.encode(r) for r in page.get("records") or []]
        return Pulled(messages, page.get("next_cursor") or checkpoint)


class MaternalRunner:
    """Everything the maternal-child adapter runs in one process."""

    def __init__(self, hub: Hub, settings: MaternalSettings | None = None) -> None:
        self.hub = hub
        self.settings = s = settings or get_maternal_settings()
        if not s.url or not s.token:
            raise SystemExit("set HUB_MATERNAL_URL and HUB_MATERNAL_TOKEN")
        self.client = MaternalClient(s.url, s.token, timeout=s.timeout)
        self.adapter = build_adapter(hub, s)
        self.source = RecordSource(self.client)
        self.backoff = Backoff(s.backoff_base, s.backoff_cap, s.max_attempts)
        self.switch = Switch(hub.db, NAME, True)
        self.pusher = SigningStatusPusher(self.client)
        self.pull = self._pull_step()
        self.retry = retry_step(hub.db, self.adapter, self.backoff)
        self.dispatch = dispatch_step(hub.db, self.pusher)
        self.send = send_step(hub.db, self.pusher, self.backoff, timeout=s.timeout + 5)
        self.loops = [
            Loop("maternal:pull", self.pull, self.switch, idle=s.poll_seconds),
            Loop("maternal:retries", self.retry, self.switch),
            Loop("maternal:signing", self.dispatch, self.switch, idle=1.0),
            Loop("maternal:send", self.send, self.switch, idle=1.0),
        ]
        self.pulled = 0

    def _pull_step(self) -> Callable[[], Awaitable[bool]]:
        db, s = self.hub.db, self.settings

        async def step() -> bool:
            async with db.reader() as session:
                position = await log.checkpoint(session, NAME, STREAM)
            async with asyncio.timeout(s.timeout * 2):
                pulled = await self.source.pull(position, s.page_size)
            now = dt.datetime.now(dt.UTC)
            async with writing(db) as session:  # log, apply and move the checkpoint at once
                await ingest(
                    session,
                    self.adapter,
                    [Item(raw) for raw in pulled.messages],
                    now=now,
                    backoff=self.backoff,
                )
                if pulled.checkpoint and pulled.checkpoint != position:
                    await log.advance(session, NAME, STREAM, pulled.checkpoint)
            self.pulled += len(pulled.messages)
            return self.source.has_more

        return step

    async def start(self) -> None:
        for loop in self.loops:
            await loop.start()

    async def stop(self) -> None:
        for loop in self.loops:
            await loop.stop()
        await self.client.close()

    async def until_idle(
        self, *, max_failures: int = 30, push_wait: float = 30.0
    ) -> dict[str, Any]:
        """Pull until the source has nothing newer, apply what became due, push what is
        queued; then return. Failures back off with jitter (Retry-After honoured)."""
        failures = 0
        steps: list[Callable[[], Awaitable[bool]]] = [
            self.pull,
            self.retry,
            self.dispatch,
            self.send,
        ]
        i = 0
        while i < len(steps):
            if not await self.switch.enabled():
                return {"stopped": "kill switch", "pulled": self.pulled}
            try:
                busy = await steps[i]()
                failures = 0
            except Exception as err:  # the source or the database away: back off, retry
                failures += 1
                logger.warning("maternal.step_failed", error=type(err).__name__, failures=failures)
                if failures >= max_failures:
                    raise
                await asyncio.sleep(Backoff(base=0.2, cap=10).delay(failures))
                continue
            if not busy:
                i += 1
        waiting = await self._outbound_waiting(push_wait)
        return {"pulled": self.pulled, "requests": self.client.requests, "pushes_waiting": waiting}

    async def _outbound_waiting(self, wait: float) -> int:
        """Signing statuses being retried: keep sending them for up to `wait` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while True:
            async with self.hub.db.reader() as session:
                counts = await log.outbound_counts(session, NAME)
            waiting = counts.get("RECEIVED", 0) + counts.get("RETRY", 0)
            if not waiting or loop.time() > deadline:
                return waiting
            await asyncio.sleep(min(0.5, self.backoff.base))
            try:
                await self.send()
            except Exception as err:
                logger.warning("maternal.send_failed", error=type(err).__name__)


plugin = PullPlugin(NAME, MaternalRunner, lambda: get_maternal_settings().url)


async def run(hub: Hub, *, until_idle: bool = False) -> None:
    """`hub adapters run maternal`: the adapter alone, until interrupted (or idle)."""
    runner = MaternalRunner(hub)
    try:
        if until_idle:
            print(__import__("json").dumps(await runner.until_idle()), flush=True)
            return
        await runner.start()
        print(f"maternal adapter pulling from {runner.settings.url}", flush=True)
        await asyncio.Event().wait()
    finally:
        await runner.stop()
