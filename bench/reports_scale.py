# ruff: noqa: E501
"""coverageReport on a large registry: does grouping by township stay under 2 s?

Generates N residents (default 1,000,000) in one region — 40 townships, 600 villages, 400
teams in 40 institutions, households of ~2.8, a third of residents signed — straight into
a migrated database (stdlib sqlite3 / asyncpg COPY: no matching, like `hub demo`), then
times `hub.reports.coverage.coverage_report` through the hub's own engine.

    .venv/bin/python bench/reports_scale.py --residents 1000000 \
        --database sqlite+aiosqlite:///var/bench/reports-1m.db
    .venv/bin/python bench/reports_scale.py --residents 1000000 \
        --database postgresql+asyncpg://…/reports_1m
    # --skip-fill times an already filled database again; --rollup refreshes the report
    # rollup first (hub report-refresh) and times the reports read from it
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

REGION = "panyu"
TOWNSHIPS, VILLAGES_PER_TOWN, ORGS, TEAMS_PER_ORG = 40, 15, 40, 10


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def orgs_and_teams() -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    now = _now()
    orgs = [(f"b-org-{i:03d}", f"第{i}社区卫生服务中心", "COMMUNITY_HEALTH_CENTER", REGION,
             "440113", None, True, None, None, None, now) for i in range(ORGS)]  # fmt: skip
    teams = [(f"b-team-{i:03d}-{j:02d}", f"第{i}中心第{j}团队", f"b-org-{i:03d}", None, None,
              1500, now) for i in range(ORGS) for j in range(TEAMS_PER_ORG)]  # fmt: skip
    return orgs, teams


def people(n: int, seed: int = 0) -> Iterator[dict[str, tuple[Any, ...]]]:
    """Rows per resident: resident, locality, household (for heads), contract (a third)."""
    rng = random.Random(seed)
    now = _now()
    today = dt.date.today()
    household, left_in_household, contract = 0, 0, 0
    for rid in range(1, n + 1):
        if left_in_household == 0:
            household += 1
            left_in_household = rng.choice((1, 2, 2, 3, 3, 4, 5))
            town = rng.randrange(TOWNSHIPS)
            village = rng.randrange(VILLAGES_PER_TOWN)
            org = town % ORGS
            team = f"b-team-{org:03d}-{rng.randrange(TEAMS_PER_ORG):02d}"
            new_household = True
        else:
            new_household = False
        left_in_household -= 1
        born = today - dt.timedelta(days=rng.randrange(0, 90 * 365))
        row: dict[str, tuple[Any, ...]] = {
            "resident": (rid, "ACTIVE", born, "[]", "[]", REGION, f"b-org-{org:03d}", team,
                         household, "{}", now, now),
            "locality": (rid, REGION, f"第{town:02d}镇", f"第{village:02d}村"),
        }  # fmt: skip
        if new_household:
            row["household"] = (household, REGION, now)
        if rng.random() < 1 / 3:
            contract += 1
            signed = today - dt.timedelta(days=rng.randrange(365))
            row["contract"] = (contract, f"440113-B-{contract:08d}", rid, team, f"b-org-{org:03d}",
                               REGION, "ACTIVE", signed, 1, signed, signed + dt.timedelta(days=364),
                               "[]", now, now, 1)  # fmt: skip
        yield row


COLUMNS = {
    "organization": ("id", "name", "kind", "region_key", "region_code", "parent_id",
                     "primary_care", "address", "phone", "integration", "updated_at"),
    "team": ("id", "name", "organization_id", "leader_id", "grid_area", "capacity_households",
             "updated_at"),
    "household": ("id", "region_key", "created_at"),
    "resident": ("id", "status", "birth_date", "id_number_flags", "phones", "region_key",
                 "organization_id", "team_id", "household_id", "provenance", "created_at",
                 "updated_at"),
    "resident_locality": ("resident_id", "region_key", "township", "village"),
    "contract": ("id", "number", "resident_id", "team_id", "organization_id", "region_key",
                 "status", "signed_on", "period_no", "starts_on", "ends_on", "hospital_ids",
                 "created_at", "updated_at", "version"),
}  # fmt: skip
KEYS = {"resident": "resident", "locality": "resident_locality", "household": "household",
        "contract": "contract"}  # fmt: skip


def batches(n: int, size: int = 50_000) -> Iterator[dict[str, list[tuple[Any, ...]]]]:
    out: dict[str, list[tuple[Any, ...]]] = {t: [] for t in KEYS.values()}
    for i, row in enumerate(people(n), start=1):
        for k, v in row.items():
            out[KEYS[k]].append(v)
        if i % size == 0:
            yield out
            out = {t: [] for t in KEYS.values()}
    yield out


def fill_sqlite(path: str, n: int) -> None:
    import sqlite3

    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    orgs, teams = orgs_and_teams()

    def ins(table: str, rows: list[tuple[Any, ...]]) -> None:
        cols = COLUMNS[table]
        iso = [tuple(v.isoformat(sep=" ") if isinstance(v, dt.datetime) else
                     v.isoformat() if isinstance(v, dt.date) else v for v in r) for r in rows]  # fmt: skip
        con.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES "
                        f"({', '.join('?' * len(cols))})", iso)  # fmt: skip

    ins("organization", orgs)
    ins("team", teams)
    for b in batches(n):
        for table in ("household", "resident", "resident_locality", "contract"):
            ins(table, b[table])
    con.commit()
    con.execute("ANALYZE")
    con.close()


async def fill_postgres(url: str, n: int) -> None:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        orgs, teams = orgs_and_teams()

        # COPY's binary format has no json encoder: this throwaway database gets defaults for
        # the JSON columns instead, and the rows leave them out.
        json_cols = {"resident": ("id_number_flags", "phones", "provenance"),
                     "contract": ("hospital_ids",)}  # fmt: skip
        for table, cols in json_cols.items():
            for col in cols:
                default = "'{}'" if col == "provenance" else "'[]'"
                await conn.execute(f"ALTER TABLE {table} ALTER COLUMN {col} SET DEFAULT {default}")

        async def copy(table: str, rows: list[tuple[Any, ...]]) -> None:
            cols = list(COLUMNS[table])
            keep = [i for i, c in enumerate(cols) if c not in json_cols.get(table, ())]
            await conn.copy_records_to_table(
                table,
                records=[tuple(r[i] for i in keep) for r in rows],
                columns=[cols[i] for i in keep],
            )

        await copy("organization", orgs)
        await copy("team", teams)
        for b in batches(n):
            for table in ("household", "resident", "resident_locality", "contract"):
                await copy(table, b[table])
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


async def time_reports(url: str, runs: int, rollup: bool = False) -> dict[str, list[float]]:
    from hub.access.principal import SYSTEM, Principal
    from hub.db import Database
    from hub.reports.coverage import GroupBy
    from hub.reports.service import refresh, run

    async def coverage_report(s: Any, p: Any, *, region: str, as_of: Any, group_by: Any) -> Any:
        # through the service, as GraphQL and the exports call it (the rollup when refreshed)
        return await run(s, p, "coverage", {"region": region, "groupBy": group_by.value})

    db = Database(url)
    if rollup:  # hub report-refresh: every default report of the region from scratch
        t = time.perf_counter()
        n = await refresh(db, REGION)
        print(f"refreshed {n} snapshots in {time.perf_counter() - t:.1f}s", flush=True)
    bound = Principal(name="bench-org", scopes=frozenset({"contracts:read"}),
                      organization_ids=("b-org-007",))  # fmt: skip
    out: dict[str, list[float]] = {}
    try:
        for label, principal, group in (("township (unbound)", SYSTEM, GroupBy.TOWNSHIP),
                                        ("institution (unbound)", SYSTEM, GroupBy.INSTITUTION),
                                        ("township (one institution)", bound, GroupBy.TOWNSHIP)):  # fmt: skip
            times = []
            for _ in range(runs):
                async with db.reader() as s:
                    t = time.perf_counter()
                    r = await coverage_report(s, principal, region=REGION, as_of=dt.date.today(),
                                              group_by=group)  # fmt: skip
                    times.append(time.perf_counter() - t)
            out[label] = times
            label += " [rollup]" if r.refreshed_at else ""
            print(f"{label}: {len(r.main.rows)} rows, total {r.main.total['residents']} residents "
                  f"{r.main.total['signed']} signed; median {statistics.median(times):.3f}s "
                  f"best {min(times):.3f}s worst {max(times):.3f}s", flush=True)  # fmt: skip
    finally:
        await db.dispose()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--residents", type=int, default=1_000_000)
    ap.add_argument("--database", required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--skip-fill", action="store_true")
    ap.add_argument("--rollup", action="store_true",
                    help="refresh the report rollup first (hub report-refresh) and time reads of it")
    a = ap.parse_args()
    if not a.skip_fill:
        from hub.migrate import upgrade

        if a.database.startswith("sqlite"):
            Path(a.database.split("///", 1)[1]).parent.mkdir(parents=True, exist_ok=True)
        upgrade(a.database)
        t = time.perf_counter()
        if a.database.startswith("sqlite"):
            fill_sqlite(a.database.split("///", 1)[1], a.residents)
        else:
            asyncio.run(fill_postgres(a.database, a.residents))
        print(f"filled {a.residents} residents in {time.perf_counter() - t:.1f}s", flush=True)
    asyncio.run(time_reports(a.database, a.runs, a.rollup))


if __name__ == "__main__":
    main()
