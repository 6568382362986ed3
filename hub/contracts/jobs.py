"""The daily expiry roll inside the server: once at start-up (catching up on missed days),
then every day at ``HUB_CONTRACTS_ROLL_AT`` (local time). Every API process may run it:
the roll is idempotent and safe to run concurrently.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from typing import Any

from pydantic_settings import BaseSettings, SettingsConfigDict

from hub.logs import get_logger

log = get_logger("hub.contracts.jobs")
TASK_KEY = "contracts.roll_task"


class RollSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HUB_CONTRACTS_", env_file=".env", extra="ignore")

    roll_enabled: bool = True
    roll_at: dt.time = dt.time(0, 10)


def seconds_until(at: dt.time, now: dt.datetime) -> float:
    """Seconds from ``now`` to the next ``at`` (local wall clock), always > 0."""
    target = now.replace(hour=at.hour, minute=at.minute, second=at.second, microsecond=0)
    if target <= now:
        target += dt.timedelta(days=1)
    return (target - now).total_seconds()


async def _run_once(hub: Any) -> None:
    from hub.contracts.roll import roll

    try:
        await roll(hub.db, dt.date.today())
    except Exception:  # noqa: BLE001 - a failed night must not stop the next one
        log.exception("contracts.roll.error")


async def _daily(hub: Any, at: dt.time) -> None:
    await _run_once(hub)
    while True:
        await asyncio.sleep(seconds_until(at, dt.datetime.now()))
        await _run_once(hub)


async def start(hub: Any) -> None:
    settings = RollSettings()
    if settings.roll_enabled:
        hub.extras[TASK_KEY] = asyncio.create_task(_daily(hub, settings.roll_at))


async def stop(hub: Any) -> None:
    task = hub.extras.pop(TASK_KEY, None)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def install(hub: Any) -> None:
    """Register the job with the app's lifespan (``hub.extras`` on_start / on_stop)."""
    if start not in hub.extras.setdefault("on_start", []):
        hub.extras["on_start"].append(start)
        hub.extras.setdefault("on_stop", []).insert(0, stop)
