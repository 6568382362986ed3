"""Write transactions for the adapter runtime.

On SQLite a deferred transaction that reads and then writes fails at once with "database
is locked" when another connection wrote in between (the busy timeout cannot help an
upgrade from reader to writer). The runtime's loops write concurrently by design, so they
take the write lock up front (BEGIN IMMEDIATE). And they queue for it in the process
first: SQLite's busy handler sleeps in steps of up to 100 ms, so two writers meeting at
the database level cost far more than waiting in line for an asyncio lock.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db import Database

_locks: weakref.WeakKeyDictionary[Database, asyncio.Lock] = weakref.WeakKeyDictionary()


@asynccontextmanager
async def writing(db: Database) -> AsyncIterator[AsyncSession]:
    """Like `Database.transaction()`; on SQLite, one writer of this process at a time,
    holding the database's write lock from the start."""
    if not db.is_sqlite:
        async with db.transaction() as session:
            yield session
        return
    lock = _locks.get(db)
    if lock is None:
        lock = _locks[db] = asyncio.Lock()
    async with lock, db.sessions() as session, session.begin():
        await session.execute(text("BEGIN IMMEDIATE"))
        yield session
