"""The cost of the one access policy: how long "may this client see this resident" takes for
each kind of bound client, and a policy-filtered page, on the full demo (27,010 residents).

    .venv/bin/python bench/access_policy.py [--database URL] [--n 2000]

Builds (once) var/bench/policy.db with `hub demo`, signs a share of residents and adds
referrals, then times `policy.visible_resident_ids` (one resident, and batches of 50) and a
first page of `residents` through `RegistryService.list`, per principal.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import statistics
import time
from pathlib import Path

from sqlalchemy import func, insert, select

ROOT = Path(__file__).resolve().parent.parent


async def prepare(url: str) -> None:
    from hub.contracts.models import Contract
    from hub.db import Database
    from hub.demo.load import load_demo
    from hub.directory.models import Team
    from hub.referrals.models import Referral
    from hub.registry.models import Resident

    db = Database(url)
    try:
        async with db.reader() as s:
            if await s.scalar(select(func.count()).select_from(Resident)):
                return
        await load_demo(url)
        async with db.transaction() as s:
            teams = {t.id: t for t in await s.scalars(select(Team))}
            rows = (
                await s.execute(select(Resident.id, Resident.team_id, Resident.region_key))
            ).all()
            today = dt.date.today()
            contracts, referrals = [], []
            for i, (rid, team_id, region) in enumerate(rows):
                team = teams.get(team_id)
                if team is None:
                    continue
                if i % 3 == 0:  # a third signed
                    contracts.append(dict(number=f"B-{rid}", resident_id=rid, team_id=team.id,
                                          organization_id=team.organization_id,
                                          region_key=region or "panyu", status="ACTIVE",
                                          signed_on=today, starts_on=today,
                                          ends_on=today.replace(year=today.year + 1)))  # fmt: skip
                if i % 50 == 0:
                    referrals.append(dict(direction="UP", status="REQUESTED", resident_id=rid,
                                          team_id=team.id, team_organization_id=team.organization_id,
                                          hospital_id="panyu-org-020", reason="bench",
                                          diagnosis_code="I10"))  # fmt: skip
            await s.execute(insert(Contract), contracts)
            await s.execute(insert(Referral), referrals)
    finally:
        await db.dispose()


async def measure(url: str, n: int) -> None:
    from hub.access import policy
    from hub.access.principal import Principal
    from hub.core import build_hub
    from hub.directory.models import TeamMember
    from hub.registry.repository import ResidentFilter

    hub = build_hub(database_url=url)
    scopes = frozenset({"residents:read"})
    async with hub.db.reader() as s:
        practitioner = await s.scalar(select(TeamMember.practitioner_id).limit(1))
    principals = {
        "unbound (district-wide)": Principal("all", scopes),
        "institution-bound": Principal("inst", scopes, ("panyu-org-001",), client_id=1),
        "practitioner-bound": Principal(
            "gp", scopes, client_id=2, practitioner_ids=(practitioner,)
        ),
        "hospital-bound": Principal("hosp", scopes, ("panyu-org-020",), client_id=3),
    }
    print(f"{'principal':26} {'1 resident µs':>14} {'50 residents µs':>16} {'page(20) ms':>12}")
    async with hub.db.reader() as s:
        total = await s.scalar(select(func.count()).select_from(Residentish))
        for name, p in principals.items():
            one, batch, page = [], [], []
            for i in range(n):
                rid = 1 + (i * 7919) % total
                t = time.perf_counter()
                await policy.visible_resident_ids(s, p, [rid])
                one.append(time.perf_counter() - t)
            for i in range(n // 10):
                start = 1 + (i * 7919) % (total - 50)
                t = time.perf_counter()
                await policy.visible_resident_ids(s, p, range(start, start + 50))
                batch.append(time.perf_counter() - t)
            for _ in range(50):
                t = time.perf_counter()
                await hub.registry.list(s, p, ResidentFilter(region="panyu"), after=None, limit=20)
                page.append(time.perf_counter() - t)
            print(f"{name:26} {statistics.median(one) * 1e6:14.0f} "
                  f"{statistics.median(batch) * 1e6:16.0f} {statistics.median(page) * 1e3:12.1f}")  # fmt: skip
    await hub.db.dispose()


from hub.registry.models import Resident as Residentish  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--database", default=f"sqlite+aiosqlite:///{ROOT / 'var' / 'bench' / 'policy.db'}"
    )
    ap.add_argument("--n", type=int, default=2000)
    args = ap.parse_args()
    (ROOT / "var" / "bench").mkdir(parents=True, exist_ok=True)
    from hub.migrate import upgrade

    upgrade(args.database)
    asyncio.run(prepare(args.database))
    asyncio.run(measure(args.database, args.n))


if __name__ == "__main__":
    main()
