"""The CDC (infectious-disease reporting) adapter: pull TB notifications through the
adapter runtime (inbound log, idempotency by id + version, checkpoint in the same
transaction, dead letters), as source "cdc". Started by `hub serve` when HUB_CDC_URL is
set, or alone by `hub adapters run cdc [--until-idle]`."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Awaitable, Callable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.cdc import translate
from adapters.immunization.client import ImmunizationClient
from adapters.runtime import log
from adapters.runtime.db import writing
from adapters.runtime.process import Item, ingest
from adapters.runtime.types import Applied, Backoff, Message, Outcome, Problem, Reject, Work
from adapters.runtime.worker import Loop, Switch, retry_step
from hub.access.principal import system
from hub.errors import DomainError
from hub.logs import get_logger
from hub.plugins import PullPlugin
from hub.tuberculosis.service import Notification, apply_notification, mark_overdue

if TYPE_CHECKING:
    from hub.core import Hub

NAME, STREAM = "cdc", "notifications"
logger = get_logger("adapters.cdc")


class CdcSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HUB_CDC_", env_file=".env", extra="ignore")

    url: str | None = None  # HUB_CDC_URL; unset: off
    token: str | None = None  # HUB_CDC_TOKEN
    page_size: int = 100
    poll_seconds: float = 5.0
    timeout: float = 10.0
    max_attempts: int = 8
    backoff_base: float = 1.0
    backoff_cap: float = 300.0


@lru_cache
def get_cdc_settings() -> CdcSettings:
    return CdcSettings()


class CdcAdapter:
    name = NAME

    def __init__(self, hub: Hub) -> None:
        self.registry = hub.registry
        self.principal = system("adapter:cdc")

    def read(self, raw: bytes) -> Message:
        return translate.read(raw)

    async def apply(self, session: AsyncSession, batch: Sequence[Work]) -> list[Outcome]:
        out: list[Outcome] = []
        for w in batch:
            body = w.message.body
            assert isinstance(body, Notification)
            try:
                async with session.begin_nested():
                    result = await apply_notification(session, self.principal, self.registry, body)
            except DomainError as err:
                out.append(Reject(Problem(err.code, err.message, "AE", err.field or "")))
                continue
            out.append(Applied({k: v for k, v in result.items() if v is not None}))
        return out


def build_adapter(hub: Hub) -> CdcAdapter:
    import hub.models as _tables  # noqa: F401

    return CdcAdapter(hub)


class CdcRunner:
    def __init__(self, hub: Hub, settings: CdcSettings | None = None) -> None:
        self.hub = hub
        self.settings = s = settings or get_cdc_settings()
        if not s.url or not s.token:
            raise SystemExit("set HUB_CDC_URL and HUB_CDC_TOKEN")
        self.client = ImmunizationClient(s.url, s.token, timeout=s.timeout)  # same HTTP rules
        self.adapter = build_adapter(hub)
        self.backoff = Backoff(s.backoff_base, s.backoff_cap, s.max_attempts)
        self.switch = Switch(hub.db, NAME, True)
        self.pull = self._pull_step()
        self.retry = retry_step(hub.db, self.adapter, self.backoff)
        self.loops = [
            Loop("cdc:pull", self.pull, self.switch, idle=s.poll_seconds),
            Loop("cdc:retries", self.retry, self.switch),
            Loop("cdc:overdue", self._overdue_step(), self.switch, idle=300.0),
        ]
        self.pulled = 0
        self.has_more = True

    def _pull_step(self) -> Callable[[], Awaitable[bool]]:
        db, s = self.hub.db, self.settings

        async def step() -> bool:
            async with db.reader() as session:
                position = await log.checkpoint(session, NAME, STREAM)
            params = {"limit": str(s.page_size), **({"cursor": position} if position else {})}
            async with asyncio.timeout(s.timeout * 2):
                r = await self.client.get("/notifications", params=params)
            page = r.json()
            messages = [translate.encode(n) for n in page.get("notifications") or []]
            now = dt.datetime.now(dt.UTC)
            async with writing(db) as session:
                await ingest(session, self.adapter, [Item(m) for m in messages], now=now,
                             backoff=self.backoff)  # fmt: skip
                cursor = page.get("next_cursor")
                if cursor and cursor != position:
                    await log.advance(session, NAME, STREAM, cursor)
                await mark_overdue(session, now)
            self.pulled += len(messages)
            self.has_more = bool(page.get("has_more"))
            return self.has_more

        return step

    def _overdue_step(self) -> Callable[[], Awaitable[bool]]:
        async def step() -> bool:
            async with writing(self.hub.db) as session:
                await mark_overdue(session, dt.datetime.now(dt.UTC))
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
        failures, i, steps = 0, 0, [self.pull, self.retry]
        while i < len(steps):
            try:
                busy = await steps[i]()
                failures = 0
            except Exception as err:
                failures += 1
                logger.warning("cdc.step_failed", error=type(err).__name__, failures=failures)
                if failures >= max_failures:
                    raise
                await asyncio.sleep(Backoff(base=0.2, cap=10).delay(failures))
                continue
            if not busy:
                i += 1
        return {"pulled": self.pulled, "requests": self.client.requests}


plugin = PullPlugin(NAME, CdcRunner, lambda: get_cdc_settings().url)


async def run(hub: Hub, *, until_idle: bool = False) -> None:
    runner = CdcRunner(hub)
    try:
        if until_idle:
            print(json.dumps(await runner.until_idle()), flush=True)
            return
        await runner.start()
        print(f"cdc adapter pulling from {runner.settings.url}", flush=True)
        await asyncio.Event().wait()
    finally:
        await runner.stop()
