"""Immunization: forecasts per second (the pure function, and the daily recompute against a
database) and subjects pulled per second from the simulator.

    .venv/bin/python bench/immunization_forecast.py --children 100000            # pure forecast
    .venv/bin/python bench/immunization_forecast.py --children 100000 --recompute # + database job
    .venv/bin/python bench/immunization_forecast.py --pull 300                    # adapter catch-up
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def children(n: int, today: dt.date) -> list[tuple[dt.date, list[tuple[str, dt.date]]]]:
    from adapters.immunization.simulator import _history

    rng = random.Random(1)
    out = []
    for _ in range(n):
        born = today - dt.timedelta(days=rng.randint(0, 6 * 365))
        out.append((born, _history(rng, born, today)))
    return out


def pure(n: int) -> None:
    from hub.immunization.forecast import GivenDose, forecast
    from hub.immunization.schedule import load_schedule

    today = dt.date.today()
    kids = children(n, today)
    schedule = load_schedule()
    doses = sum(len(d) for _, d in kids)
    t = time.perf_counter()
    for born, given in kids:
        forecast(born, [GivenDose(v, d) for v, d in given], today, schedule=schedule)
    s = time.perf_counter() - t
    print(f"pure forecast: {n} children, {doses} doses in {s:.2f} s = {n / s:,.0f} forecasts/s")


async def recompute(n: int, url: str) -> None:
    from sqlalchemy import insert

    from hub.core import build_hub
    from hub.immunization.models import VaccinationEvent
    from hub.immunization.service import recompute as job
    from hub.registry.models import Resident

    today = dt.date.today()
    hub = build_hub(database_url=url)
    kids = children(n, today)
    async with hub.db.transaction() as s:
        await s.execute(
            insert(Resident), [{"id": i + 1, "birth_date": b} for i, (b, _) in enumerate(kids)]
        )
        rows = [
            {"source": "immunization", "source_event_id": f"{i}-{k}", "resident_id": i + 1,
             "vaccine": v, "local_code": "0", "given_on": d}
            for i, (_, given) in enumerate(kids) for k, (v, d) in enumerate(given)
        ]  # fmt: skip
        for start in range(0, len(rows), 20000):
            await s.execute(insert(VaccinationEvent), rows[start : start + 20000])
    t = time.perf_counter()
    async with hub.db.transaction() as s:
        first = await job(s, today)
    s1 = time.perf_counter() - t
    t = time.perf_counter()
    async with hub.db.transaction() as s:
        again = await job(s, today)
    s2 = time.perf_counter() - t
    print(f"daily recompute (SQLite): {first['children']} children in {s1:.1f} s "
          f"({first['children'] / s1:,.0f}/s, {first['overdue_events']} overdue events); "
          f"again {s2:.1f} s ({again['overdue_events']} new)")  # fmt: skip
    await hub.db.dispose()


async def pull(n: int, url: str) -> None:
    from adapters.immunization.adapter import ImmunizationRunner
    from adapters.immunization.settings import ImmunizationSettings
    from hub.core import build_hub

    proc = subprocess.Popen(
        [sys.executable, "-m", "adapters.immunization.simulator", "--port", "0", "--token", "B",
         "--children", str(n)], cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        found = re.search(r"http://127\.0\.0\.1:\d+", proc.stdout.readline())
        assert found
        hub = build_hub(database_url=url)
        runner = ImmunizationRunner(hub, ImmunizationSettings(url=found.group(0), token="B"))
        t = time.perf_counter()
        result = await runner.until_idle()
        s = time.perf_counter() - t
        await runner.stop()
        await hub.db.dispose()
        print(f"pulled {result['pulled']} subject versions ({n} children) in {s:.1f} s = "
              f"{result['pulled'] / s:,.1f} subjects/s")  # fmt: skip
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--children", type=int, default=0)
    p.add_argument("--recompute", action="store_true")
    p.add_argument("--pull", type=int, default=0, help="children in the simulator to pull")
    a = p.parse_args()
    from hub.migrate import upgrade

    if a.children:
        pure(a.children)
        if a.recompute:
            url = f"sqlite+aiosqlite:///{tempfile.mkdtemp()}/bench.db"
            upgrade(url)
            asyncio.run(recompute(a.children, url))
    if a.pull:
        url = f"sqlite+aiosqlite:///{tempfile.mkdtemp()}/bench.db"
        upgrade(url)
        asyncio.run(pull(a.pull, url))


if __name__ == "__main__":
    main()
