"""The immunization adapter assembled: the pull loop (GET /changes since the checkpoint ->
inbound log -> hub, checkpoint in the same transaction), the retries of failed subjects,
and the daily overdue recompute. Started by `hub serve` when HUB_IMMUNIZATION_URL is set,
or alone by `hub adapters run immunization [--until-idle]`.

A page that cannot be read safely (not well-formed, an XML bomb, an external entity) is
logged whole as one inbound message and dead-lettered unexpanded; the cursor moves on by
the `X-Next-Cursor` header, so the subjects of the pages around it are not held up.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from adapters.immunization import translate
from adapters.immunization.apply import NAME, ImmunizationAdapter
from adapters.immunization.client import ImmunizationClient
from adapters.immunization.settings import ImmunizationSettings, get_immunization_settings
from adapters.runtime import log
from adapters.runtime.db import writing
from adapters.runtime.process import Item, ingest
from adapters.runtime.types import Backoff, Pulled
from adapters.runtime.worker import Loop, Switch, retry_step
from hub.logs import get_logger
from hub.plugins import PullPlugin

if TYPE_CHECKING:
    from hub.core import Hub

logger = get_logger("adapters.immunization")
STREAM = "changes"


def build_adapter(hub: Hub, settings: ImmunizationSettings | None = None) -> ImmunizationAdapter:
    import hub.models as _tables  # noqa: F401  (every table: subjects reach residents, teams)

    return ImmunizationAdapter(hub.registry)


class ChangeSource:
    """GET /changes by the source's cursor (the runtime's PullSource)."""

    name, stream = NAME, STREAM

    def __init__(self, client: ImmunizationClient) -> None:
        self.client = client
        self.has_more = True
        self.refused = 0  # pages logged whole because they could not be read safely

    async def pull(self, checkpoint: str | None, limit: int) -> Pulled:
        raw = await self.client.changes(checkpoint, limit)
        try:
            page = translate.split(translate.parse_document(raw.body))
        except translate.XmlRefused:
            self.refused += 1
            self.has_more = raw.has_more
            return Pulled([raw.body], raw.next_cursor or checkpoint)
        self.has_more = page.has_more
        return Pulled(page.subjects, page.next_cursor or raw.next_cursor or checkpoint)


class ImmunizationRunner:
    """Everything the immunization adapter runs in one process."""

    def __init__(self, hub: Hub, settings: ImmunizationSettings | None = None) -> None:
        self.hub = hub
        self.settings = s = settings or get_immunization_settings()
        if not s.url or not s.token:
            raise SystemExit("set HUB_IMMUNIZATION_URL and HUB_IMMUNIZATION_TOKEN")
        self.client = ImmunizationClient(s.url, s.token, timeout=s.timeout)
        self.adapter = build_adapter(hub, s)
        self.source = ChangeSource(self.client)
        self.backoff = Backoff(s.backoff_base, s.backoff_cap, s.max_attempts)
        self.switch = Switch(hub.db, NAME, True)
        self.pull = self._pull_step()
        self.retry = retry_step(hub.db, self.adapter, self.backoff)
        self.loops = [
            Loop("immunization:pull", self.pull, self.switch, idle=s.poll_seconds),
            Loop("immunization:retries", self.retry, self.switch),
            Loop("immunization:recompute", self._recompute_step(), self.switch, idle=600.0),
        ]
        self.pulled = 0
        self.recomputed_on: dt.date | None = None

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
                    session, self.adapter, [Item(raw) for raw in pulled.messages],
                    now=now, backoff=self.backoff,
                )  # fmt: skip
                if pulled.checkpoint and pulled.checkpoint != position:
                    await log.advance(session, NAME, STREAM, pulled.checkpoint)
            self.pulled += len(pulled.messages)
            return self.source.has_more

        return step

    def _recompute_step(self) -> Callable[[], Awaitable[bool]]:
        async def step() -> bool:
            today = dt.date.today()
            if self.recomputed_on == today:
                return False
            from hub.immunization.service import recompute

            async with writing(self.hub.db) as session:
                result = await recompute(session, today)
            self.recomputed_on = today
            logger.info("immunization.recomputed", **result)
            return False

        return step

    async def start(self) -> None:
        for loop in self.loops:
            await loop.start()

    async def stop(self) -> None:
        for loop in self.loops:
            await loop.stop()
        await self.client.close()

    async def until_idle(self, *, max_failures: int = 30) -> dict[str, Any]:
        """Pull until the source has nothing newer and apply what became due; then return.
        Failures back off with jitter (Retry-After honoured)."""
        failures = 0
        steps = [self.pull, self.retry]
        i = 0
        while i < len(steps):
            if not await self.switch.enabled():
                return {"stopped": "kill switch", "pulled": self.pulled}
            try:
                busy = await steps[i]()
                failures = 0
            except Exception as err:  # the source or the database away: back off, retry
                failures += 1
                logger.warning(
                    "immunization.step_failed", error=type(err).__name__, failures=failures
                )
                if failures >= max_failures:
                    raise
                await asyncio.sleep(Backoff(base=0.2, cap=10).delay(failures))
                continue
            if not busy:
                i += 1
        return {
            "pulled": self.pulled,
            "refused_pages": self.source.refused,
            "requests": self.client.requests,
        }


plugin = PullPlugin(NAME, ImmunizationRunner, lambda: get_immunization_settings().url)


async def run(hub: Hub, *, until_idle: bool = False) -> None:
    """`hub adapters run immunization`: the adapter alone, until interrupted (or idle)."""
    runner = ImmunizationRunner(hub)
    try:
        if until_idle:
            print(json.dumps(await runner.until_idle()), flush=True)
            return
        await runner.start()
        print(f"immunization adapter pulling from {runner.settings.url}", flush=True)
        await asyncio.Event().wait()
    finally:
        await runner.stop()
