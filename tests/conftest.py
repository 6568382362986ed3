"""Shared fixtures: real databases built from the migrations, a real HTTP server.

Database tests run on a SQLite file and, when HUB_TEST_POSTGRES_URL is set (make test
starts a throwaway server), on PostgreSQL too.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.migrate import upgrade

# Many hubs start in this one process: leave the garbage collector as Python sets it
# (hub.tuning.settle_gc freezes what is alive, for a real server's lifetime).
os.environ.setdefault("HUB_GC_THRESHOLD", "0")
# The tests' webhook receivers listen on 127.0.0.1 (refused by default: SSRF guard).
os.environ.setdefault("HUB_EVENTS_WEBHOOK_ALLOW_PRIVATE", "true")
# Every in-process hub listens for HIS MLLP on a port of its own (0: the OS picks one), so
# servers started one after another never contend for 2575.
os.environ.setdefault("HUB_HIS_MLLP_PORT", "0")

PG_URL = os.environ.get("HUB_TEST_POSTGRES_URL")
ENGINES = ["sqlite", "postgres"]


def _fresh_postgres() -> str:
    """A new, empty database on the test server."""
    import asyncpg

    assert PG_URL
    name = f"hub_{uuid.uuid4().hex[:10]}"
    dsn = PG_URL.replace("postgresql+asyncpg://", "postgresql://")

    async def create() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(create())
    return PG_URL.rsplit("/", 1)[0] + "/" + name


def make_database(kind: str, tmp: Path) -> str:
    if kind == "postgres":
        if not PG_URL:
            if os.environ.get("HUB_REQUIRE_POSTGRES"):
                pytest.fail("HUB_TEST_POSTGRES_URL is not set but PostgreSQL is required")
            pytest.skip("no PostgreSQL (set HUB_TEST_POSTGRES_URL; `make test` does)")
        url = _fresh_postgres()
    else:
        url = f"sqlite+aiosqlite:///{tmp / f'hub-{uuid.uuid4().hex[:8]}.db'}"
    upgrade(url)
    return url


@pytest.fixture(scope="module", params=ENGINES)
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated database per test module, on each engine."""
    return make_database(request.param, tmp_path_factory.mktemp("db"))


@pytest.fixture(scope="module")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return make_database("sqlite", tmp_path_factory.mktemp("db"))


@pytest.fixture(scope="module")
async def hub(db_url: str) -> AsyncIterator[Any]:
    from hub.app import build_hub

    h = build_hub(database_url=db_url)
    yield h
    await h.db.dispose()


class LiveServer:
    """The real ASGI app under uvicorn on an ephemeral port, in a background thread."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        sock.close()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(
            uvicorn.Config(
                app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
            )
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def create_client_token(
    url: str,
    name: str,
    scopes: list[str],
    orgs: list[str] | None = None,
    *,
    practitioners: list[str] | None = None,
    sources: list[str] | None = None,
) -> str:
    """A client's bearer token. Sources not yet registered are registered first (trust 10,
    as a signing app's would be)."""
    from hub.access.models import SourceSystem
    from hub.access.service import add_source, create_client
    from hub.db import Database

    async def run() -> str:
        db = Database(url)
        try:
            async with db.transaction() as session:
                for key in sources or []:
                    if await session.get(SourceSystem, key) is None:
                        await add_source(session, key, key, trust=10)
                _, token = await create_client(
                    session, name, scopes, orgs or [], practitioner_ids=practitioners or [],
                    sources=sources or [],
                )  # fmt: skip
                return token
        finally:
            await db.dispose()

    return asyncio.run(run())


class Api:
    """A GraphQL client over real HTTP."""

    def __init__(self, base: str, token: str | None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=base, headers=headers, timeout=30)

    def raw(self, query: str, variables: dict[str, Any] | None = None) -> httpx.Response:
        return self.http.post("/graphql", json={"query": query, "variables": variables or {}})

    def __call__(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.raw(query, variables)
        assert response.status_code == 200, response.text
        body = response.json()
        assert not body.get("errors"), body["errors"]
        return body["data"]


@pytest.fixture(scope="module")
def live(db_url: str) -> Iterator[LiveServer]:
    from hub.app import build_hub, create_app

    with LiveServer(create_app(build_hub(database_url=db_url))) as server:
        yield server
