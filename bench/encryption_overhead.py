"""Cost of encryption at rest on submitResidentRecord (registry.submit) and a resident point
read (repository.get_many of one id), in process on a fresh SQLite file (or --database).

A/B in one process: "on" is the shipped code; "off" replaces AES-GCM and the HMAC with
identity functions (same code paths otherwise). Run:
    .venv/bin/python bench/encryption_overhead.py --n 300
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import statistics
import tempfile
import time
from typing import Any


async def main(n: int, url: str) -> None:
    from hub import crypto
    from hub.access.principal import system
    from hub.core import build_hub
    from hub.registry import repository
    from hub.registry.idnumber import make
    from hub.registry.records import ResidentRecord

    hub = build_hub(database_url=url)
    who = system("bench")
    real = (crypto.KeyRing.encrypt, crypto.KeyRing.decrypt, crypto.KeyRing.blind)

    def off() -> None:
        crypto.KeyRing.encrypt = lambda self, data, aad: data.decode()  # type: ignore[method-assign]
        crypto.KeyRing.decrypt = lambda self, token, aad: token.encode()  # type: ignore[method-assign]
        crypto.KeyRing.blind = lambda self, value: value  # type: ignore[method-assign]

    def on() -> None:
        crypto.KeyRing.encrypt, crypto.KeyRing.decrypt, crypto.KeyRing.blind = real  # type: ignore[method-assign]

    seq = iter(range(1, 10**6))

    async def submit() -> int:
        i = next(seq)
        born = dt.date(1950, 1, 1) + dt.timedelta(days=i * 7)
        rec = ResidentRecord(source="bench", source_id=f"B-{i}", name=f"测试{i % 97}号", sex="1",
                             birth_date=born, id_number=make("440113", born, i % 999),
                             phone=f"139{i:08d}", address="番禺区市桥街道")  # fmt: skip
        async with hub.db.transaction() as s:
            res = await hub.registry.submit(s, who, rec, strict=False)
        return int(res.resident.id)

    async def read(rid: int) -> None:
        async with hub.db.reader() as s:
            await repository.get_many(s, [rid])

    results: dict[str, dict[str, list[float]]] = {"on": {"submit": [], "read": []},
                                                   "off": {"submit": [], "read": []}}  # fmt: skip
    ids: dict[str, list[int]] = {"on": [], "off": []}
    for _ in range(20):  # warm up
        await submit()
    for rnd in range(6):  # interleaved rounds: load changes on a shared machine hit both
        for mode, switch in (
            (("on", on), ("off", off)) if rnd % 2 == 0 else (("off", off), ("on", on))
        ):
            switch()
            t = time.perf_counter()
            for _ in range(n // 6):
                ids[mode].append(await submit())
            results[mode]["submit"].append((time.perf_counter() - t) / (n // 6))
            t = time.perf_counter()
            for rid in ids[mode][:20] * (n // 60):  # rows written in the same mode
                await read(rid)
            results[mode]["read"].append((time.perf_counter() - t) / (20 * (n // 60)))
    on()
    await hub.db.dispose()
    for what in ("submit", "read"):
        a = statistics.median(results["on"][what]) * 1e3
        b = statistics.median(results["off"][what]) * 1e3
        print(f"{what:7s} on {a:.3f} ms  off {b:.3f} ms  overhead {100 * (a - b) / b:+.1f} %")


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=300)
    p.add_argument("--database")
    a = p.parse_args()
    from hub.migrate import upgrade

    url = a.database or f"sqlite+aiosqlite:///{tempfile.mkdtemp()}/bench.db"
    upgrade(url)
    asyncio.run(main(a.n, url))
