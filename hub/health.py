"""Probes for a load balancer or an orchestrator.

`GET /healthz`: the process is up and serving (no database): 200 `{"status": "ok"}`.
`GET /readyz`: this process can serve requests: the database answers within
`HUB_READY_TIMEOUT_SECONDS`, its schema is at the migrations' head(s), and no adapter's
oldest waiting message is older than `HUB_READY_MAX_ADAPTER_LAG_SECONDS` (0: lag is
reported but never makes the process unready). 200 when ready, else 503 with the failing
checks. Both are open (no token) and answer JSON with no personal data."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import Any

from sqlalchemy import func, select, text
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.logs import get_logger

log = get_logger("hub.health")

PATHS = ("/healthz", "/readyz")


def migration_heads() -> set[str]:
    """The revisions `alembic upgrade heads` brings a database to."""
    from alembic.script import ScriptDirectory

    from hub.migrate import config

    return set(ScriptDirectory.from_config(config("sqlite://")).get_heads())


async def _database(hub: Any, heads: set[str]) -> dict[str, Any]:
    async with hub.db.reader() as session:
        await session.execute(text("SELECT 1"))
        current = set(
            (await session.scalars(text("SELECT version_num FROM alembic_version"))).all()
        )
        from adapters.runtime.models import PENDING, InboundMessage

        oldest = (
            await session.execute(
                select(InboundMessage.adapter, func.min(InboundMessage.received_at))
                .where(InboundMessage.status.in_(PENDING))
                .group_by(InboundMessage.adapter)
            )
        ).all()
    now = dt.datetime.now(dt.UTC)
    lag = {}
    for adapter, at in oldest:
        if at is not None and at.tzinfo is None:
            at = at.replace(tzinfo=dt.UTC)
        lag[adapter] = round(max(0.0, (now - at).total_seconds()), 1) if at else 0.0
    return {"current": sorted(current), "missing": sorted(heads - current), "lag": lag}


def routes(hub: Any) -> list[Route]:
    heads = migration_heads()
    started = time.monotonic()

    async def healthz(_: Request) -> Response:
        return JSONResponse(
            {"status": "ok", "uptime_seconds": round(time.monotonic() - started, 1)}
        )

    async def readyz(_: Request) -> Response:
        settings = hub.settings
        checks: dict[str, Any] = {}
        t0 = time.perf_counter()
        try:
            found = await asyncio.wait_for(_database(hub, heads), settings.ready_timeout_seconds)
        except Exception as exc:  # unreachable, timed out, or no schema at all
            log.warning("readyz.database", error=type(exc).__name__)
            checks["database"] = {"ok": False, "error": type(exc).__name__}
            return JSONResponse({"status": "unavailable", "checks": checks}, status_code=503)
        checks["database"] = {"ok": True, "ms": round((time.perf_counter() - t0) * 1000, 1)}
        checks["migrations"] = {"ok": not found["missing"], "current": found["current"],
                                "missing": found["missing"]}  # fmt: skip
        limit = settings.ready_max_adapter_lag_seconds
        over = sorted(a for a, s in found["lag"].items() if limit and s > limit)
        checks["adapters"] = {"ok": not over, "lag_seconds": found["lag"], "over_limit": over,
                              "limit_seconds": limit}  # fmt: skip
        ready = all(c["ok"] for c in checks.values())
        return JSONResponse({"status": "ready" if ready else "unavailable", "checks": checks},
                            status_code=200 if ready else 503)  # fmt: skip

    return [Route("/healthz", healthz), Route("/readyz", readyz)]
