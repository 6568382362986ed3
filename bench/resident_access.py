"""The cost of resident tokens and of the appointment book.

    .venv/bin/python bench/resident_access.py [--database URL] [--n 2000] [--tokens 10000]

On a fresh database (default a temporary SQLite file, migrated) with the Panyu demo at scale
0.02: issues `--tokens` resident tokens, then times `TokenCache.authenticate` for a resident
token (one indexed lookup per request, never cached: revocation holds at once) against a
client token (cached), and `appointments.service.book` of free slots one after another.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import statistics
import tempfile
import time
from pathlib import Path


async def main(url: str, n: int, tokens: int) -> None:
    from sqlalchemy import insert, select

    from hub.access.principal import system
    from hub.access.resident_tokens import ResidentToken, _hash
    from hub.access.service import TokenCache, create_client
    from hub.appointments import service as appointments
    from hub.db import Database
    from hub.demo.load import load_demo
    from hub.directory.models import Team
    from hub.migrate import upgrade
    from hub.registry.models import Resident

    await asyncio.to_thread(upgrade, url)
    await load_demo(url, scale=0.02, regions=("panyu",))
    db = Database(url)
    async with db.transaction() as s:
        client, client_token = await create_client(
            s, "bench-app", ["residents:delegate", "residents:read", "contracts:write"]
        )
        rid = await s.scalar(select(Resident.id).order_by(Resident.id).limit(1))
        team = await s.scalar(select(Team.id).order_by(Team.id).limit(1))
        later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
        await s.execute(insert(ResidentToken), [
            dict(token_hash=_hash(f"hubr_bench{i}"), client_id=client.id, resident_id=rid,
                 ward_ids=[], expires_at=later, created_at=dt.datetime.now(dt.UTC))
            for i in range(tokens)])  # fmt: skip
    cache = TokenCache()

    async def timed(token: str) -> list[float]:
        out = []
        for _ in range(n):
            t = time.perf_counter()
            async with db.reader() as s:
                assert await cache.authenticate(s, token) is not None
            out.append((time.perf_counter() - t) * 1000)
        return out

    from sqlalchemy import text

    floor = []
    for _ in range(n):
        t = time.perf_counter()
        async with db.reader() as s:
            await s.scalar(text("select 1"))
        floor.append((time.perf_counter() - t) * 1000)
    floor.sort()
    print(f"{'select 1 (the floor)':24} median {statistics.median(floor):.3f} ms  "
          f"p95 {floor[int(len(floor) * .95)]:.3f} ms")
    for label, token in (("resident token", f"hubr_bench{tokens // 2}"),
                         ("client token (cached)", client_token)):  # fmt: skip
        ms = sorted(await timed(token))
        p95 = ms[int(len(ms) * 0.95)]
        print(f"{label:24} median {statistics.median(ms):.3f} ms  p95 {p95:.3f} ms"
              f"  ({n} calls, {tokens} resident tokens stored)")  # fmt: skip

    day = dt.datetime.now(appointments.LOCAL).date() + dt.timedelta(days=1)
    async with db.transaction() as s:
        _, slots = await appointments.publish(s, system("bench"), appointments.SessionCommand(
            team_id=str(team), day=day, start="06:00", end="22:00", slot_minutes=5,
            service_kind="GENERAL"))  # fmt: skip
        ids = [x.id for x in slots]
    ms = []
    for sid in ids:
        t = time.perf_counter()
        async with db.transaction() as s:
            await appointments.book(s, system("bench"), sid, int(rid), "GENERAL")
        ms.append((time.perf_counter() - t) * 1000)
    ms.sort()
    print(f"{'book (one transaction)':24} median {statistics.median(ms):.3f} ms  "
          f"p95 {ms[int(len(ms) * .95)]:.3f} ms  ({len(ms)} bookings)")
    await db.dispose()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--database")
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--tokens", type=int, default=10000)
    a = p.parse_args()
    url = a.database or f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
    asyncio.run(main(url, a.n, a.tokens))
