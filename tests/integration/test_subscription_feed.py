"""The event feed against real databases: no event skipped when transactions commit out
of order (PostgreSQL), wake-ups across processes (LISTEN/NOTIFY), polling (SQLite)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from hub.db import Database
from hub.events import repository, signals
from hub.events.feed import EventFeed
from hub.events.repository import FeedEvent
from hub.events.service import emit
from hub.events.settings import EventSettings


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = Database(db_url)
    yield database
    await database.dispose()


async def settled_after(db: Database, start: repository.Position) -> list[FeedEvent]:
    """Events settle once every older transaction of the server has ended, including other
    databases' (transaction ids are server-wide): wait for that, with a guard."""
    for _ in range(600):
        async with db.reader() as r:
            if got := await repository.read_after(r, start, limit=100):
                return got
        await asyncio.sleep(0.1)
    raise AssertionError("events never settled")


async def test_a_reader_never_skips_an_event_committed_late(db: Database) -> None:
    if db.is_sqlite:
        pytest.skip("SQLite has one writer at a time: ids are in commit order")
    async with db.reader() as r:
        start = await repository.head(r)
    async with db.sessions() as slow, db.sessions() as fast:
        await slow.begin()
        emit(slow, "test.slow", "Test", 1)
        await slow.flush()  # the slow transaction holds the lower id and transaction id
        await fast.begin()
        emit(fast, "test.fast", "Test", 2)
        await fast.commit()
        async with db.reader() as r:
            # fast's event is committed, but taking it now would move a reader's position
            # past the slow one, which is still to come
            assert await repository.read_after(r, start, limit=100) == []
        await slow.commit()
    got = await settled_after(db, start)
    assert [e.type for e in got] == ["test.slow", "test.fast"]
    async with db.reader() as r:
        assert await repository.head(r) == got[-1].position


async def test_the_feed_is_woken_by_another_process(db: Database) -> None:
    """PostgreSQL: a commit that emitted events sends NOTIFY, which reaches the feed of
    every process (here: another engine, and no in-process signal)."""
    if db.is_sqlite:
        pytest.skip("SQLite has no notifications; the feed polls (next test)")
    feed = EventFeed(db, EventSettings(poll_interval=0.05))
    await feed.start()
    signals.remove_waker(feed.wake)
    try:
        before = feed.notifications
        stream = feed.stream()
        first = asyncio.ensure_future(anext(stream))
        other = Database(db.url)
        try:
            async with other.transaction() as s:
                emit(s, "test.elsewhere", "Test", 3)
            async with other.transaction() as s:
                pass  # a transaction without events notifies nobody
        finally:
            await other.dispose()
        event = await asyncio.wait_for(first, 60)
        assert event.type == "test.elsewhere"
        for _ in range(600):  # the notification may trail the poll that found the event
            if feed.notifications > before:
                break
            await asyncio.sleep(0.1)
        assert feed.notifications == before + 1
        await stream.aclose()
    finally:
        await feed.stop()


async def test_the_feed_polls_the_outbox(db: Database) -> None:
    feed = EventFeed(db, EventSettings(poll_interval=0.05))
    await feed.start()
    signals.remove_waker(feed.wake)
    try:
        since = feed.position
        async with db.transaction() as s:
            emit(s, "test.polled", "Test", 4, organization_ids=["X"])
        stream = feed.stream(since)
        event = await asyncio.wait_for(anext(stream), 60)
        assert (event.type, event.organization_ids) == ("test.polled", ("X",))
        await stream.aclose()
    finally:
        await feed.stop()
