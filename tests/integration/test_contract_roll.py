"""The expiry roll and contract numbers on real databases (both engines): every outcome,
idempotence, two rolls at once, concurrent signings, bulk loading."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select, update

from hub.access.principal import system
from hub.contracts import changes, repository, service
from hub.contracts.errors import RuleViolation
from hub.contracts.models import Contract, ContractPeriod
from hub.contracts.roll import roll
from hub.contracts.service import SignCommand
from hub.db import Database
from hub.demo.load import load_demo
from hub.events.models import Event
from hub.registry.models import Resident

P = system("test")


@pytest.fixture(scope="module")
def demo(db_url: str) -> str:
    asyncio.run(load_demo(db_url, scale=0.02, regions=("panyu", "wenzhou")))
    return db_url


async def _residents(hub: Any, region: str, n: int, insurance: str | None = None) -> list[Resident]:
    async with hub.db.reader() as s:
        stmt = select(Resident).where(
            Resident.region_key == region,
            Resident.birth_date < dt.date(2000, 1, 1),
            ~Resident.id.in_(select(Contract.resident_id)),
        )
        if insurance:
            stmt = stmt.where(Resident.insurance_type == insurance)
        return list((await s.scalars(stmt.order_by(Resident.id).limit(n))).all())


async def _sign(hub: Any, r: Resident, codes: list[str], on: str, team: str | None = None) -> int:
    async with hub.db.transaction() as s:
        (c,) = await service.sign(
            s,
            P,
            SignCommand(
                team_id=team or r.team_id,
                package_codes=codes,
                resident_id=r.id,
                signed_on=dt.date.fromisoformat(on),
            ),
        )
        return c.id


async def _count(hub: Any, stmt: Any) -> int:
    async with hub.db.reader() as s:
        return int(await s.scalar(stmt) or 0)


async def test_two_rolls_at_once_roll_each_contract_once(hub: Any, demo: str) -> None:
    free = await _residents(hub, "panyu", 12, "URBAN_RURAL_RESIDENT")
    basic = await _residents(hub, "panyu", 8, "URBAN_EMPLOYEE")
    ids = [await _sign(hub, r, ["PY-FREE"], "2021-01-01") for r in free]
    ids += [await _sign(hub, r, ["PY-BASIC-1"], "2021-01-01") for r in basic]
    other = Database(demo)
    try:
        a, b = await asyncio.gather(
            roll(hub.db, dt.date(2022, 1, 1), batch=5), roll(other, dt.date(2022, 1, 1), batch=5)
        )
    finally:
        await other.dispose()
    assert a.renewed + b.renewed == 12 and a.converted + b.converted == 8
    assert a.failed == b.failed == 0
    again = await roll(hub.db, dt.date(2022, 1, 1))
    assert (again.renewed, again.converted, again.expired) == (0, 0, 0)
    periods = await _count(
        hub,
        select(func.count()).select_from(ContractPeriod).where(ContractPeriod.contract_id.in_(ids)),
    )
    assert periods == 2 * len(ids)
    feed = await _count(
        hub,
        select(func.count())
        .select_from(Event)
        .where(
            Event.type.in_(["contract.renewed", "contract.converted"]),
            Event.aggregate_id.in_([str(i) for i in ids]),
        ),
    )
    assert feed == len(ids)


async def test_a_late_roll_goes_through_every_missed_period(hub: Any, demo: str) -> None:
    (r,) = await _residents(hub, "panyu", 1, "URBAN_RURAL_RESIDENT")
    cid = await _sign(hub, r, ["PY-FREE"], "2018-03-01")
    result = await roll(hub.db, dt.date(2020, 3, 2))
    assert result.renewed >= 2
    async with hub.db.reader() as s:
        c = await s.get(Contract, cid)
    assert (c.period_no, c.starts_on, c.ends_on) == (3, dt.date(2020, 3, 1), dt.date(2021, 2, 28))


async def test_changed_personal_data_stops_panyu_auto_renewal(hub: Any, demo: str) -> None:
    (r,) = await _residents(hub, "panyu", 1, "URBAN_RURAL_RESIDENT")
    cid = await _sign(hub, r, ["PY-FREE"], "2019-05-01")
    async with hub.db.transaction() as s:
        await s.execute(
            update(Resident).where(Resident.id == r.id).values(insurance_type="SELF_PAY")
        )
    await roll(hub.db, dt.date(2020, 5, 1))
    async with hub.db.reader() as s:
        c = await s.get(Contract, cid)
    assert (c.status, c.ended_on) == ("EXPIRED", dt.date(2020, 4, 30))
    assert (
        await _count(
            hub,
            select(func.count())
            .select_from(Event)
            .where(Event.type == "contract.expired", Event.aggregate_id == str(cid)),
        )
        == 1
    )


async def test_wenzhou_contract_ends_unless_signed_again(hub: Any, demo: str) -> None:
    r1, r2 = await _residents(hub, "wenzhou", 2)
    ended = await _sign(hub, r1, ["WZ-STANDARD"], "2019-06-01")
    kept = await _sign(hub, r2, ["WZ-STANDARD"], "2019-06-01")
    async with hub.db.transaction() as s:
        await changes.renew(s, P, kept, today=dt.date(2020, 5, 20))
    await roll(hub.db, dt.date(2020, 6, 1))
    async with hub.db.reader() as s:
        assert (await s.get(Contract, ended)).status == "EXPIRED"
        c = await s.get(Contract, kept)
    assert (c.status, c.period_no, c.starts_on) == ("ACTIVE", 2, dt.date(2020, 6, 1))


async def test_one_active_contract_even_when_two_sign_at_once(hub: Any, demo: str) -> None:
    (r,) = await _residents(hub, "panyu", 1, "URBAN_RURAL_RESIDENT")
    async with hub.db.reader() as s:
        from hub.directory.models import Team

        team = await s.get(Team, r.team_id)
        others = (
            await s.scalars(
                select(Team.id).where(
                    Team.organization_id == team.organization_id, Team.id != team.id
                )
            )
        ).all()
    second = others[0] if others else r.team_id
    other = Database(demo)

    async def attempt(db: Database, team_id: str) -> str:
        try:
            async with db.transaction() as s:
                await service.sign(
                    s, P, SignCommand(team_id=team_id, package_codes=["PY-FREE"], resident_id=r.id)
                )
            return "ok"
        except RuleViolation as v:
            return str(v.code)
        except Exception as e:  # noqa: BLE001 - SQLite may refuse the second writer outright
            return type(e).__name__

    try:
        outcomes = await asyncio.gather(attempt(hub.db, r.team_id), attempt(other, second))
    finally:
        await other.dispose()
    assert outcomes.count("ok") == 1
    active = await _count(
        hub,
        select(func.count())
        .select_from(Contract)
        .where(Contract.resident_id == r.id, Contract.status == "ACTIVE"),
    )
    assert active == 1


async def test_numbers_are_unique_per_region_and_year(hub: Any, demo: str) -> None:
    async def take(n: int) -> list[int]:
        async with hub.db.transaction() as s:
            return list(await repository.allocate_numbers(s, "999999", 2030, n))

    first, second = await take(3), await take(2)
    assert first == [1, 2, 3] and second == [4, 5]
    assert repository.format_number("440113", 2024, 7) == "440113-2024-000007"


async def test_the_server_job_starts_and_stops_with_the_app(hub: Any, demo: str) -> None:
    from hub.contracts import jobs

    jobs.install(hub)
    jobs.install(hub)
    assert hub.extras["on_start"].count(jobs.start) == 1
    assert hub.extras["on_stop"].count(jobs.stop) == 1
    await jobs.start(hub)
    task = hub.extras[jobs.TASK_KEY]
    await jobs.stop(hub)
    assert task.done() and jobs.TASK_KEY not in hub.extras
