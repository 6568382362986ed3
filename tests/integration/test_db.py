"""The database layer under concurrent writers."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from hub.db import Database
from hub.events.models import Event
from hub.events.service import emit


async def test_concurrent_read_then_write_transactions_all_commit(db_url: str) -> None:
    """Each transaction reads before it writes: on SQLite two deferred transactions would
    deadlock on the lock upgrade and one would fail with "database is locked"."""
    db = Database(db_url)
    try:
        async with db.reader() as s:
            before = await s.scalar(select(func.count()).select_from(Event))

        async def work(i: int) -> None:
            async with db.transaction() as s:
                await s.scalar(select(func.count()).select_from(Event))
                await asyncio.sleep(0.005)
                emit(s, "test.concurrent", "Test", i)

        await asyncio.gather(*(work(i) for i in range(25)))
        async with db.reader() as s:
            after = await s.scalar(select(func.count()).select_from(Event))
        assert after == before + 25
    finally:
        await db.dispose()
