"""Many hub processes on one database: migrations run once when they start together,
API-only processes (`hub serve --no-adapters`) next to an adapter worker
(`hub adapters run his`)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from hub.health import migration_heads
from tests.integration.scale_support import Processes, empty_database, free_port, listening


def _versions(url: str) -> list[str]:
    from sqlalchemy import text

    from hub.db import Database

    async def run() -> list[str]:
        db = Database(url)
        try:
            async with db.reader() as session:
                return list(
                    (await session.scalars(text("SELECT version_num FROM alembic_version"))).all()
                )
        finally:
            await db.dispose()

    return asyncio.run(run())


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_processes_migrating_together_run_the_migrations_once(kind: str, tmp_path: Path) -> None:
    """Three `hub migrate` started at the same moment on an empty database: every one
    succeeds (one migrates, the others wait for its lock and find the schema at its heads)."""
    with empty_database(kind, tmp_path) as url, Processes({}, tmp_path) as procs:
        started = [procs.start("migrate", "--database", url) for _ in range(3)]
        codes = [p.wait(timeout=120) for p in started]
        assert codes == [0, 0, 0], procs.logs()
        versions = _versions(url)
        assert sorted(versions) == sorted(migration_heads())  # each head once, no duplicate


def test_api_only_processes_next_to_an_adapter_worker(tmp_path: Path) -> None:
    """`hub serve --workers 2 --migrate --no-adapters` on an empty PostgreSQL database: both
    workers start (the migration runs before them), the process is ready and opens no HIS
    listener although HIS is enabled; `hub adapters run his` alone opens it."""
    mllp = free_port()
    with (
        empty_database("postgres", tmp_path) as url,
        Processes(
            {"HUB_DATABASE_URL": url, "HUB_HIS_ENABLED": "true", "HUB_HIS_MLLP_PORT": str(mllp)},
            tmp_path,
        ) as procs,
    ):
        ports = [free_port()]
        procs.start("serve", "--port", str(ports[0]), "--workers", "2", "--migrate",
                    "--no-adapters")  # fmt: skip
        for port in ports:
            procs.wait_ready(port, timeout=120)  # cold starts on a shared 2-core machine
        body = httpx.get(f"http://127.0.0.1:{ports[0]}/readyz").json()
        assert body["checks"]["migrations"]["missing"] == []
        assert not listening(mllp), "an API-only process opened the HIS listener"
        procs.start("adapters", "run", "his", "--port", str(mllp))
        deadline = time.monotonic() + 30
        while not listening(mllp):
            assert time.monotonic() < deadline, procs.logs()
            time.sleep(0.1)
        for port in ports:  # still serving next to the worker
            assert httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200
