"""Helpers for the tests that start real hub processes: a database of their own (a new
PostgreSQL database dropped afterwards, or a SQLite file), ephemeral ports, `hub` processes
with their stderr kept for the failure message, stopped at the end."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
PG_URL = os.environ.get("HUB_TEST_POSTGRES_URL")


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _pg_admin(sql: str) -> None:
    import asyncpg

    assert PG_URL
    dsn = PG_URL.replace("postgresql+asyncpg://", "postgresql://")

    async def run() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())


@contextlib.contextmanager
def empty_database(kind: str, tmp: Path) -> Iterator[str]:
    """A database URL with nothing in it (not migrated); a PostgreSQL one is dropped after."""
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp / f'hub-{uuid.uuid4().hex[:8]}.db'}"
        return
    if not PG_URL:
        pytest.skip("no PostgreSQL (set HUB_TEST_POSTGRES_URL; `make test` does)")
    name = f"hub_scale_{uuid.uuid4().hex[:10]}"
    _pg_admin(f'CREATE DATABASE "{name}"')
    try:
        yield PG_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Processes:
    """`hub ...` processes started with one environment; all stopped on exit."""

    def __init__(self, env: dict[str, str], tmp: Path) -> None:
        self.env = {**os.environ, "HUB_LOG_LEVEL": "WARNING", "HUB_HIS_ENABLED": "false",
                    "HUB_GC_THRESHOLD": "0", **env}  # fmt: skip
        self.tmp = tmp
        self.procs: list[tuple[subprocess.Popen[bytes], Path]] = []

    def start(self, *args: str, **env: str) -> subprocess.Popen[bytes]:
        log = self.tmp / f"proc-{len(self.procs)}.log"
        proc = subprocess.Popen([sys.executable, "-m", "hub.cli", *args], cwd=ROOT,
                                env={**self.env, **env}, stdout=log.open("wb"),
                                stderr=subprocess.STDOUT)  # fmt: skip
        self.procs.append((proc, log))
        return proc

    def logs(self) -> str:
        return "\n".join(f"--- {p.args}\n{log.read_text()[-1500:]}" for p, log in self.procs)

    def wait_ready(self, port: int, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200:
                    return
            assert time.monotonic() < deadline, self.logs()
            assert all(p.poll() is None for p, _ in self.procs), self.logs()
            time.sleep(0.1)

    def stop(self, proc: subprocess.Popen[bytes], *, kill: bool = False) -> None:
        proc.kill() if kill else proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def __enter__(self) -> Processes:
        return self

    def __exit__(self, *exc: object) -> None:
        for proc, _ in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc, _ in self.procs:
            self.stop(proc)


def listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0
