"""Maternal-child adapter throughput: a backlog of N records pulled over HTTP from the
simulator (a separate process), logged, linked (mothers through the registry's matcher,
newborns by birth certificate) and applied into SQLite (or PostgreSQL), checkpoint in
the same transaction — the catch-up of `hub adapters run maternal --until-idle`.

    .venv/bin/python bench/maternal_throughput.py --extra-mothers 10000   # ~100,000 records
    .venv/bin/python bench/maternal_throughput.py --extra-mothers 1000 --page-size 500
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


async def catch_up(url: str, sim: str, page: int) -> dict[str, object]:
    from sqlalchemy import text

    from adapters.maternal.adapter import MaternalRunner
    from adapters.maternal.settings import MaternalSettings
    from hub.core import build_hub
    from hub.tuning import settle_gc

    hub = build_hub(database_url=url)
    settle_gc(hub.settings.gc_threshold)
    runner = MaternalRunner(hub, MaternalSettings(url=sim, token="bench", page_size=page))
    started = time.perf_counter()
    try:
        out = await runner.until_idle()
    finally:
        await runner.stop()
    elapsed = time.perf_counter() - started
    async with hub.db.reader() as s:
        counts = {
            k: (await s.execute(text(q))).scalar()
            for k, q in {
                "applied": "select count(*) from adapter_inbound where status='APPLIED'",
                "other": "select count(*) from adapter_inbound where status<>'APPLIED'",
                "residents": "select count(*) from resident",
                "pregnancies": "select count(*) from maternal_pregnancy",
                "births": "select count(*) from maternal_birth",
                "visits": "select count(*) from maternal_visit",
                "exams": "select count(*) from maternal_child_exam",
            }.items()
        }
    await hub.db.dispose()
    pulled = int(out["pulled"])  # type: ignore[call-overload]
    return {
        **counts,
        "pulled": pulled,
        "seconds": round(elapsed, 1),
        "records_per_second": round(pulled / elapsed),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--extra-mothers", type=int, default=10000)
    p.add_argument("--page-size", type=int, default=1000)
    p.add_argument("--engine", choices=["sqlite", "postgres"], default="sqlite")
    p.add_argument("--postgres", default=os.environ.get("HUB_TEST_POSTGRES_URL"))
    args = p.parse_args()
    from hub.migrate import upgrade

    tmp = tempfile.mkdtemp(prefix="maternal-bench-")
    url = f"sqlite+aiosqlite:///{tmp}/hub.db" if args.engine == "sqlite" else args.postgres
    upgrade(url)
    sim = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "adapters.maternal.simulator",
            "--port",
            "0",
            "--token",
            "bench",
            "--mothers",
            "0",
            "--extra-mothers",
            str(args.extra_mothers),
            "--faults",
            "none",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert sim.stdout is not None
        line = sim.stdout.readline()
        found = re.search(r"http://127\.0\.0\.1:\d+", line)
        assert found, line
        print(line.strip(), flush=True)
        try:
            import uvloop

            asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
        except ImportError:
            pass
        print(asyncio.run(catch_up(url, found.group(0), args.page_size)), flush=True)
    finally:
        sim.terminate()
        sim.wait(timeout=10)


if __name__ == "__main__":
    main()
