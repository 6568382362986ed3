"""The report rollup's refresh loop inside the server: every ``HUB_REPORTS_REFRESH_EVERY``
seconds (0, the default, leaves it to a scheduled ``hub report-refresh``), the snapshots of
every region in ``HUB_REPORTS_REFRESH_REGIONS`` (default: all policy regions) are
recomputed from scratch. Safe in several processes: each refresh replaces the rows it
writes in one transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from pydantic_settings import BaseSettings, SettingsConfigDict

from hub.logs import get_logger

log = get_logger("hub.reports.jobs")
TASK_KEY = "reports.refresh_task"


class RefreshSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HUB_REPORTS_", env_file=".env", extra="ignore")

    refresh_every: float = 0.0
    refresh_regions: str = ""  # comma-separated policy keys; empty: every region


def regions(settings: RefreshSettings) -> list[str]:
    from hub.contracts.policy import _presets

    wanted = [r.strip() for r in settings.refresh_regions.split(",") if r.strip()]
    return wanted or sorted(_presets())


async def refresh_all(db: Any, region_keys: list[str]) -> dict[str, int]:
    from hub.reports.service import refresh

    done: dict[str, int] = {}
    for region in region_keys:
        done[region] = await refresh(db, region)
    return done


async def _loop(hub: Any, settings: RefreshSettings) -> None:
    while True:
        try:
            done = await refresh_all(hub.db, regions(settings))
            log.info("reports.refreshed", snapshots=sum(done.values()))
        except Exception:  # noqa: BLE001 - a failed refresh must not stop the next one
            log.exception("reports.refresh.error")
        await asyncio.sleep(settings.refresh_every)


async def start(hub: Any) -> None:
    settings = RefreshSettings()
    if settings.refresh_every > 0:
        hub.extras[TASK_KEY] = asyncio.create_task(_loop(hub, settings))


async def stop(hub: Any) -> None:
    task = hub.extras.pop(TASK_KEY, None)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def install(hub: Any) -> None:
    """Register the loop with the app's lifespan (``hub.extras`` on_start / on_stop)."""
    if start not in hub.extras.setdefault("on_start", []):
        hub.extras["on_start"].append(start)
        hub.extras.setdefault("on_stop", []).insert(0, stop)
