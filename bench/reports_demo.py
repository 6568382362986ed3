"""Every report on the full demo (`hub demo`: ~27,000 residents, ~10,000 contracts), warm,
through the service layer as GraphQL and the exports call it.

    .venv/bin/hub migrate --database sqlite+aiosqlite:///var/bench/demo.db
    .venv/bin/hub demo --database sqlite+aiosqlite:///var/bench/demo.db
    .venv/bin/python bench/reports_demo.py --database sqlite+aiosqlite:///var/bench/demo.db
    # --rollup: refresh the report rollup first (hub report-refresh), then time the reads
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CASES = [
    ("coverage", {"region": "panyu", "groupBy": "TOWNSHIP"}),
    ("coverage", {"region": "panyu", "groupBy": "INSTITUTION"}),
    ("coverage", {"region": "panyu", "groupBy": "CATEGORY"}),
    ("low-income", {"region": "wenzhou"}),
    ("package", {"region": "panyu"}),
    ("fulfilment", {"region": "panyu"}),
    ("referral", {"region": "panyu"}),
    ("fee", {"region": "panyu"}),
    ("signings", {"region": "panyu"}),
]


async def main(url: str, runs: int, rollup: bool = False) -> None:
    from hub.access.principal import SYSTEM
    from hub.db import Database
    from hub.reports.service import refresh, run

    db = Database(url)
    try:
        if rollup:  # hub report-refresh for the regions the cases read
            for region in sorted({args["region"] for _, args in CASES}):
                t = time.perf_counter()
                n = await refresh(db, region)
                print(f"refreshed {n} snapshots of {region} in {time.perf_counter() - t:.1f} s")
        for name, args in CASES:
            times = []
            for _ in range(runs + 1):  # the first run warms caches and is not counted
                async with db.reader() as s:
                    t = time.perf_counter()
                    report = await run(s, SYSTEM, name, args)
                    times.append((time.perf_counter() - t) * 1000)
            label = f"{name} {args.get('groupBy', '')}".strip()
            label += " [rollup]" if report.refreshed_at else ""
            print(
                f"{label:24} median {statistics.median(times[1:]):7.1f} ms  "
                f"best {min(times[1:]):7.1f} ms"
            )
    finally:
        await db.dispose()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--database", required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--rollup", action="store_true", help="refresh the report rollup first")
    a = ap.parse_args()
    asyncio.run(main(a.database, a.runs, a.rollup))
