"""The CDC adapter against its simulator (a separate process, faults on), through the real
runtime and database (SQLite and PostgreSQL): each valid notification applied once, the
malformed ones dead-lettered; TB patients get the TUBERCULOSIS category until closed; the
team work list shows TB_FIRST_VISIT due 72 hours after the notification and OVERDUE after,
a visit fulfils it, and `tb.visit_overdue` fires once."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select, update

from adapters.cdc.adapter import CdcRunner, CdcSettings
from adapters.runtime.models import InboundMessage
from hub.access.principal import system
from hub.directory.models import Organization, Team
from hub.events.models import Event
from hub.records.models import Encounter
from hub.registry.idnumber import make
from hub.registry.models import ResidentCategory
from hub.tuberculosis.models import TbEpisode
from hub.tuberculosis.service import Notification, apply_notification, mark_overdue
from hub.tuberculosis.worklist import tb_items
from tests.adapters.immunization_support import ROOT
from tests.e2e.contract_support import run

TOKEN = "cdc-test-token"
NOW = dt.datetime.now(dt.UTC)


@pytest.fixture(scope="module")
def sim() -> Iterator[str]:
    import re
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "adapters.cdc.simulator", "--port", "0", "--token", TOKEN,
         "--patients", "40", "--seed", "4", "--faults", "all"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        found = re.search(r"http://127\.0\.0\.1:\d+", proc.stdout.readline())
        assert found
        yield found.group(0)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _stats(url: str) -> dict[str, Any]:
    import httpx

    out: dict[str, Any] = httpx.get(
        f"{url}/stats", headers={"Authorization": f"Bearer {TOKEN}"}
    ).json()
    return out


async def _pull(db_url: str, url: str) -> dict[str, Any]:
    from hub.core import build_hub

    hub = build_hub(database_url=db_url)
    runner = CdcRunner(hub, CdcSettings(url=url, token=TOKEN, page_size=15, timeout=2.0,
                                        backoff_base=0.02, backoff_cap=0.2))  # fmt: skip
    try:
        return await runner.until_idle()
    finally:
        await runner.stop()
        await hub.db.dispose()


@pytest.fixture(scope="module")
def pulled(db_url: str, sim: str) -> dict[str, Any]:
    return {"first": asyncio.run(_pull(db_url, sim)), "second": asyncio.run(_pull(db_url, sim))}


def test_notifications_applied_once_malformed_dead_lettered(db_url, sim, pulled):
    held = _stats(sim)

    async def q(s: Any) -> Counter[str]:
        rows = await s.scalars(select(InboundMessage.status).where(InboundMessage.adapter == "cdc"))
        return Counter(rows)

    statuses = run(db_url, q)
    assert statuses["APPLIED"] == held["valid"] and statuses["REJECTED"] == held["malformed"]
    assert pulled["second"]["pulled"] == 0


def test_open_tb_patients_have_the_category_and_closed_ones_do_not(db_url, sim, pulled):
    async def q(s: Any) -> tuple[set[int], set[int], set[int]]:
        open_ = set(
            await s.scalars(select(TbEpisode.resident_id).where(TbEpisode.closed_on.is_(None)))
        )
        closed = set(
            await s.scalars(select(TbEpisode.resident_id).where(TbEpisode.closed_on.is_not(None)))
        )
        tb = set(await s.scalars(select(ResidentCategory.resident_id).where(
            ResidentCategory.category == "TUBERCULOSIS")))  # fmt: skip
        return open_, closed, tb

    open_, closed, tb = run(db_url, q)
    assert open_ and closed and tb == open_ and not (tb & closed)
    assert len(open_) + len(closed) == _stats(sim)["patients"]


def _notify(db_url: str, nid: str, hours_ago: float, seq: int) -> int:
    born = dt.date(1970, 1, 1 + seq)
    n = Notification(nid, 1, "notification", NOW - dt.timedelta(hours=hours_ago),
                     {"name": "结核" + str(seq), "sex": "1", "birth_date": born,
                      "id_number": make("330784", born, 700 + seq)}, {})  # fmt: skip

    async def go(s: Any) -> int:
        from hub.core import build_hub

        hub = build_hub(database_url=db_url)
        try:
            result = await apply_notification(s, system("adapter:cdc"), hub.registry, n)
            return int(result["resident_id"])
        finally:
            await hub.db.dispose()

    return run(db_url, go, write=True)


def test_tb_first_visit_due_in_72_hours_overdue_after_fulfilled_by_a_visit(db_url, pulled):
    late = _notify(db_url, "TB-T-LATE", 73, 1)
    fresh = _notify(db_url, "TB-T-FRESH", 10, 2)
    visited = _notify(db_url, "TB-T-VISITED", 80, 3)

    async def setup(s: Any) -> Team:
        s.add(
            Organization(id="t-org", name="东城社区卫生服务中心", kind="CHC", region_code="330784")
        )
        await s.flush()
        team = Team(id="t-team", name="东城1组", organization_id="t-org")
        s.add(team)
        await s.flush()
        from hub.registry.models import Resident

        await s.execute(update(Resident).where(Resident.id.in_([late, fresh, visited]))
                        .values(team_id="t-team"))  # fmt: skip
        s.add(Encounter(resident_id=visited, source="his", origin="T-ENC-1",
                        started_at=NOW - dt.timedelta(hours=5)))  # fmt: skip
        return team

    run(db_url, setup, write=True)

    async def items(s: Any) -> dict[int, str]:
        team = await s.get(Team, "t-team")
        return {i.resident_id: i.status.value for i in await tb_items(s, team, NOW.date())}

    assert run(db_url, items) == {late: "OVERDUE", fresh: "DUE"}
    for _ in range(3):  # the job, again and again: one event
        run(db_url, lambda s: mark_overdue(s, NOW), write=True)

    async def events(s: Any) -> list[str]:
        rows = await s.scalars(select(Event.aggregate_id).where(Event.type == "tb.visit_overdue"))
        return list(rows)

    overdue = run(db_url, events)
    assert (
        overdue.count(str(late)) == 1 and str(visited) not in overdue and str(fresh) not in overdue
    )
