"""The report rollup (hub.reports.snapshots) on both engines, on a generated demo: an
unbound client's coverage and fulfilment reports read the refreshed snapshot and equal the
report computed from scratch; a bound client never reads it; a stale snapshot shows its
stamp until the next refresh; one of another day is not used. And where residents are
counted (hub.reports.locality): a resident created through the API is placed from its
address or its team's grid, and a household is counted in one township only."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select, update

from hub.access.principal import SYSTEM, Principal, system
from hub.contracts.models import Contract
from hub.core import build_hub
from hub.db import Database
from hub.demo.load import load_demo
from hub.registry.models import Resident
from hub.registry.records import ResidentRecord
from hub.reports import service
from hub.reports.demo import add_report_demo
from hub.reports.export import to_csv
from hub.reports.locality import place
from hub.reports.models import ReportSnapshot, ResidentLocality
from hub.reports.snapshots import DEFAULTS

REGION = "panyu"
BOUND = Principal(name="snap-org", scopes=frozenset({"contracts:read"}),
                  organization_ids=("panyu-org-001",))  # fmt: skip
CASES = [(name, extra) for name, sets in DEFAULTS.items() for extra in sets]


@pytest.fixture(scope="module")
def url(db_url: str) -> Iterator[str]:
    asyncio.run(load_demo(db_url, scale=0.05, regions=(REGION,)))
    asyncio.run(add_report_demo(db_url))
    yield db_url


def go(url: str, fn: Any) -> Any:
    async def run() -> Any:
        db = Database(url)
        try:
            return await fn(db)
        finally:
            await db.dispose()

    return asyncio.run(run())


def shape(report: Any) -> list[Any]:
    return [(t.name, t.title_zh, t.rows, t.total) for t in report.tables]


def reports(url: str, principal: Principal) -> dict[str, Any]:
    async def fn(db: Database) -> dict[str, Any]:
        out = {}
        async with db.reader() as s:
            for name, extra in CASES:
                out[f"{name}:{extra['groupBy']}"] = await service.run(
                    s, principal, name, {"region": REGION, **extra}
                )
        return out

    return go(url, fn)


def scratch(url: str) -> dict[str, Any]:
    async def fn(db: Database) -> dict[str, Any]:
        async with db.reader() as s:
            return {f"{n}:{e['groupBy']}": await service.compute(s, n, {"region": REGION, **e})
                    for n, e in CASES}  # fmt: skip

    return go(url, fn)


def refresh(url: str) -> int:
    return go(url, lambda db: service.refresh(db, REGION))


def test_unbound_reports_answer_from_the_snapshot_and_equal_a_recount(url: str) -> None:
    before = reports(url, SYSTEM)
    assert all(r.refreshed_at is None for r in before.values())  # nothing refreshed yet
    assert refresh(url) == len(CASES)
    fresh = scratch(url)
    got = reports(url, SYSTEM)
    for key, report in got.items():
        assert report.refreshed_at is not None, key
        assert shape(report) == shape(fresh[key]) == shape(before[key]), key
        assert report.args == fresh[key].args
    cov = got["coverage:TOWNSHIP"].main
    assert cov.total["residents"] > 500 and 0.2 < cov.total["coverage"] < 0.5
    # the export shows when the counts were taken
    assert "数据更新于" in to_csv(got["coverage:TOWNSHIP"]).decode("utf-8-sig").splitlines()[0]
    assert "数据更新于" not in to_csv(fresh["coverage:TOWNSHIP"]).decode("utf-8-sig")


def test_a_bound_client_never_reads_the_snapshot(url: str) -> None:
    refresh(url)
    own = reports(url, BOUND)
    everyone = reports(url, SYSTEM)
    for key, report in own.items():
        assert report.refreshed_at is None, key  # computed through the access policy
    mine, all_ = own["coverage:INSTITUTION"].main, everyone["coverage:INSTITUTION"].main
    assert 0 < mine.total["residents"] < all_.total["residents"]
    assert {r["key"] for r in mine.rows} < {r["key"] for r in all_.rows}


def test_a_stale_snapshot_keeps_its_stamp_until_the_next_refresh(url: str) -> None:
    refresh(url)
    stamp = reports(url, SYSTEM)["coverage:TOWNSHIP"]
    signed = stamp.main.total["signed"]

    async def end_one(db: Database) -> None:
        async with db.transaction() as s:
            cid = await s.scalar(select(Contract.id).where(
                Contract.region_key == REGION, Contract.status == "ACTIVE").limit(1))  # fmt: skip
            await s.execute(update(Contract).where(Contract.id == cid).values(
                status="TERMINATED", ended_on=dt.date.today() - dt.timedelta(days=1)))  # fmt: skip

    go(url, end_one)
    stale = reports(url, SYSTEM)["coverage:TOWNSHIP"]
    assert stale.refreshed_at == stamp.refreshed_at and stale.main.total["signed"] == signed
    assert scratch(url)["coverage:TOWNSHIP"].main.total["signed"] == signed - 1
    refresh(url)
    new = reports(url, SYSTEM)["coverage:TOWNSHIP"]
    assert new.refreshed_at > stamp.refreshed_at and new.main.total["signed"] == signed - 1


def test_a_snapshot_of_another_day_is_not_used(url: str) -> None:
    refresh(url)

    async def age(db: Database) -> None:
        async with db.transaction() as s:
            await s.execute(update(ReportSnapshot).values(
                as_of=dt.date.today() - dt.timedelta(days=1)))  # fmt: skip

    go(url, age)
    assert all(r.refreshed_at is None for r in reports(url, SYSTEM).values())
    # a report for another day than today is always computed
    refresh(url)

    async def yesterday(db: Database) -> Any:
        async with db.reader() as s:
            day = (dt.date.today() - dt.timedelta(days=1)).isoformat()
            return await service.run(s, SYSTEM, "coverage", {"region": REGION, "asOf": day})

    assert go(url, yesterday).refreshed_at is None


def test_api_residents_are_placed_and_households_count_in_one_township(url: str) -> None:
    hub = build_hub(database_url=url)
    admin = system("test:locality")

    async def fn(db: Database) -> dict[str, Any]:
        async with hub.db.transaction() as s:
            made = await hub.registry.submit(s, admin, ResidentRecord(
                source="his", source_id="loc-1", name="黎晓彤", sex="2",
                birth_date=dt.date(1990, 5, 1), address="番禺区南村镇水口村12巷25号"),
                strict=False)  # fmt: skip
            loose = await hub.registry.submit(s, admin, ResidentRecord(
                source="his", source_id="loc-2", name="区志明", sex="1",
                birth_date=dt.date(1985, 2, 3), address="番禺区某小区"), strict=False)  # fmt: skip
            ids = (made.resident.id, loose.resident.id)
        async with hub.db.transaction() as s:
            # the second has no township in its address: its team's grid places it
            team = await s.scalar(select(Resident.team_id).where(
                Resident.region_key == REGION, Resident.team_id.is_not(None)).limit(1))  # fmt: skip
            # and the first moves into a household of another township: the household's
            other = await s.execute(
                select(Resident.household_id, ResidentLocality.township)
                .join(ResidentLocality, ResidentLocality.resident_id == Resident.id)
                .where(Resident.region_key == REGION, Resident.household_id.is_not(None),
                       ResidentLocality.township != "南村镇").limit(1))  # fmt: skip
            household, town = other.one()
            await s.execute(update(Resident).where(Resident.id == ids[1]).values(
                team_id=team, region_key=REGION))  # fmt: skip
            before = await s.get(ResidentLocality, ids[0])
            assert before is not None
            placed_first = (before.township, before.village)
            await s.execute(update(Resident).where(Resident.id == ids[0]).values(
                household_id=household))  # fmt: skip
            await place(s, ids)
        async with hub.db.reader() as s:
            loc = {r.resident_id: (r.township, r.village) for r in await s.scalars(
                select(ResidentLocality).where(ResidentLocality.resident_id.in_(ids)))}  # fmt: skip
            grid = await s.scalar(select(Resident.team_id).where(Resident.id == ids[1]))
            split = (await s.execute(
                select(Resident.household_id)
                .join(ResidentLocality, ResidentLocality.resident_id == Resident.id)
                .where(Resident.household_id.is_not(None))
                .group_by(Resident.household_id)
                .having(func_count_towns() > 1))).all()  # fmt: skip
            report = await service.compute(s, "coverage", {"region": REGION, "groupBy": "TOWNSHIP"})
        return dict(first=placed_first, loc=loc, ids=ids, town=town, grid=grid, split=split,
                    report=report)  # fmt: skip

    try:
        out = go(url, fn)
    finally:
        asyncio.run(hub.db.dispose())
    first, second = out["ids"]
    assert out["first"] == ("南村镇", "水口村")  # read from the address it was created with
    assert out["loc"][first][0] == out["town"]  # now the household's township
    from hub.directory.models import Team

    grid_area = go(
        url, lambda db: _scalar(db, select(Team.grid_area).where(Team.id == out["grid"]))
    )
    assert out["loc"][second][0] == grid_area.split(" ")[0]
    assert out["split"] == []
    t = out["report"].main
    # each household in one township: the townships' households add up to the total
    assert sum(r["households"] for r in t.rows) == t.total["households"]
    assert sum(r["signedHouseholds"] for r in t.rows) == t.total["signedHouseholds"]


def func_count_towns() -> Any:
    from sqlalchemy import distinct, func

    return func.count(distinct(ResidentLocality.township))


async def _scalar(db: Database, stmt: Any) -> Any:
    async with db.reader() as s:
        return await s.scalar(stmt)
