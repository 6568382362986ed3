"""`hub backup` under write load and `hub restore` into an empty database, on both engines:
the restored hub answers the same GraphQL queries; a restore never overwrites a hub
unless told to."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub.app import build_hub, create_app
from hub.cli import app as cli
from hub.demo.load import load_demo
from hub.migrate import upgrade
from tests.conftest import Api, LiveServer, create_client_token
from tests.integration.scale_support import empty_database

QUERY = """{ residents(first: 25) { totalCount edges { node { id name } } } }"""


def _writes(url: str, stop: threading.Event) -> int:
    """Clients created one transaction at a time until told to stop (the write load)."""
    from hub.access.service import create_client
    from hub.db import Database

    async def run() -> int:
        db = Database(url)
        n = 0
        try:
            while not stop.is_set():
                async with db.transaction() as session:
                    await create_client(session, f"load-{n}", ["residents:read"], [])
                n += 1
        finally:
            await db.dispose()
        return n

    return asyncio.run(run())


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_a_backup_under_write_load_restores_to_a_hub_answering_the_same(
    kind: str, tmp_path: Path
) -> None:
    runner = CliRunner()
    with empty_database(kind, tmp_path) as url, empty_database(kind, tmp_path) as copy:
        upgrade(url)
        asyncio.run(load_demo(url, scale=0.01, regions=("erqi",)))
        token = create_client_token(url, "reader", ["admin", "residents:read"])
        stop, written = threading.Event(), []
        writer = threading.Thread(target=lambda: written.append(_writes(url, stop)))
        writer.start()
        try:
            out = runner.invoke(cli, ["backup", str(tmp_path / "hub.bak"), "--database", url])
        finally:
            stop.set()
            writer.join()
        assert out.exit_code == 0, out.output
        assert written[0] > 0  # the backup ran while clients were being written
        out = runner.invoke(cli, ["restore", str(tmp_path / "hub.bak"), "--database", copy])
        assert out.exit_code == 0, out.output
        again = runner.invoke(cli, ["restore", str(tmp_path / "hub.bak"), "--database", copy])
        assert again.exit_code == 2 and "RESTORE_TARGET_NOT_EMPTY" in again.output
        answers = []
        for db in (url, copy):
            with LiveServer(create_app(build_hub(database_url=db))) as server:
                answers.append(Api(server.url, token)(QUERY))
        assert answers[0]["residents"]["totalCount"] > 0
        assert answers[1] == answers[0]
