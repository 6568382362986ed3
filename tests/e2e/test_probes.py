"""/healthz and /readyz as a load balancer sees them, over HTTP on both engines: ready when
the database answers at the migrations' heads, 503 (with the failing check) when it does not
answer, when a migration is missing, or when an adapter lags past the configured limit."""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
from pathlib import Path

import httpx

from hub.app import build_hub, create_app
from hub.health import migration_heads
from hub.settings import Settings
from tests.conftest import LiveServer


def test_a_migrated_hub_is_live_and_ready_without_a_token(live: LiveServer) -> None:
    health = httpx.get(f"{live.url}/healthz")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    ready = httpx.get(f"{live.url}/readyz")
    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert body["status"] == "ready"
    assert body["checks"]["database"]["ok"]
    assert set(body["checks"]["migrations"]["current"]) == migration_heads()
    assert body["checks"]["migrations"]["missing"] == []


def test_an_adapter_lagging_past_the_limit_makes_the_process_unready(db_url: str) -> None:
    from adapters.runtime.models import InboundMessage, Status
    from hub.db import Database

    async def old_message(status: str) -> int:
        db = Database(db_url)
        try:
            async with db.transaction() as session:
                row = InboundMessage(
                    adapter="maternal", payload_hash="0" * 64, payload=b"x", status=status,
                    received_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1),
                )  # fmt: skip
                session.add(row)
                await session.flush()
                return row.id
        finally:
            await db.dispose()

    async def settle(row_id: int) -> None:
        db = Database(db_url)
        try:
            async with db.transaction() as session:
                (await session.get(InboundMessage, row_id)).status = Status.APPLIED  # type: ignore[union-attr]
        finally:
            await db.dispose()

    row_id = asyncio.run(old_message(Status.RETRY))
    settings = Settings(database_url=db_url, ready_max_adapter_lag_seconds=600)
    with LiveServer(create_app(build_hub(settings))) as server:
        ready = httpx.get(f"{server.url}/readyz")
        assert ready.status_code == 503, ready.text
        adapters = ready.json()["checks"]["adapters"]
        assert adapters["over_limit"] == ["maternal"]
        assert adapters["lag_seconds"]["maternal"] >= 3600 - 5
        asyncio.run(settle(row_id))  # the message is applied: lag is gone, ready again
        assert httpx.get(f"{server.url}/readyz").status_code == 200
        assert httpx.get(f"{server.url}/healthz").status_code == 200


def test_a_database_behind_the_migrations_is_not_ready(tmp_path: Path) -> None:
    from hub.migrate import upgrade

    url = f"sqlite+aiosqlite:///{tmp_path / 'behind.db'}"
    upgrade(url)
    import sqlite3

    with sqlite3.connect(tmp_path / "behind.db") as conn:
        dropped = conn.execute("SELECT version_num FROM alembic_version").fetchone()[0]
        conn.execute("DELETE FROM alembic_version WHERE version_num = ?", (dropped,))
    with LiveServer(create_app(build_hub(Settings(database_url=url)))) as server:
        ready = httpx.get(f"{server.url}/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["migrations"]["missing"] == [dropped]
        assert httpx.get(f"{server.url}/healthz").status_code == 200


async def test_an_unreachable_database_is_503_and_the_process_still_live() -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there
    url = f"postgresql+asyncpg://hub:hub@127.0.0.1:{port}/hub"
    app = create_app(build_hub(Settings(database_url=url, ready_timeout_seconds=1.0)))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hub") as client:
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["database"]["ok"] is False
        assert (await client.get("/healthz")).status_code == 200
