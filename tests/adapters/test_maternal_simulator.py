"""The maternal-child adapter against its simulator as a separate HTTP process with every
fault on (5xx bursts, timeouts, 429 Retry-After, repeated and changed records, malformed
records, expired tokens): every record is logged and applied once, the counts equal the
simulator's, a second run finds nothing new, and a SIGKILL mid-run loses nothing."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select, text

from adapters.runtime.models import InboundMessage
from hub.demo.load import load_demo
from hub.maternal.models import Birth, Pregnancy
from tests.adapters import maternal_support as M
from tests.conftest import make_database
from tests.e2e.contract_support import run

SIM = ("--mothers", "40", "--demo-scale", "0.1", "--seed", "3", "--faults", "all")


async def _counts(s: Any) -> dict[str, Any]:
    log = InboundMessage
    rows = await s.execute(
        select(log.status, func.count()).where(log.adapter == "maternal").group_by(log.status)
    )
    by = dict(rows.all())
    taken = await s.execute(
        select(func.count(), func.count(func.distinct(log.control_id))).where(
            log.adapter == "maternal", log.duplicate_of_id.is_(None)
        )
    )
    n, distinct = taken.one()
    births = await s.scalar(select(func.count()).select_from(Birth))
    twins = await s.scalar(select(func.count()).select_from(Pregnancy).where(Pregnancy.babies == 2))
    mothers = await s.scalar(select(func.count(func.distinct(Pregnancy.resident_id))))
    return {
        "by": by,
        "taken": n,
        "distinct": distinct,
        "births": births,
        "twins": twins,
        "mothers": mothers,
    }


def _check(db: str, sim: str) -> dict[str, Any]:
    got, want = run(db, _counts), M.stats(sim)
    assert got["taken"] == got["distinct"]  # no record version applied twice
    assert got["by"].get("APPLIED") == want["valid"]  # none lost
    assert got["by"].get("REJECTED") == want["malformed"] > 0
    assert set(got["by"]) <= {"APPLIED", "REJECTED", "DUPLICATE"}  # nothing left waiting
    assert (got["births"], got["twins"]) == (want["births"], want["twinBirths"])
    assert got["mothers"] == want["mothers"]
    return got


@pytest.fixture(scope="module")
def district(db_url: str) -> str:
    asyncio.run(load_demo(db_url, scale=0.1, regions=["yongkang"]))
    return db_url


async def _until_idle(db: str, sim: str) -> dict[str, Any]:
    from adapters.maternal.adapter import MaternalRunner
    from hub.app import build_hub

    hub = build_hub(database_url=db)
    runner = MaternalRunner(hub, M.fast_settings(sim))
    try:
        return await runner.until_idle()
    finally:
        await runner.stop()
        await hub.db.dispose()


def test_faulty_source_every_record_once_counts_equal(district: str) -> None:
    with M.simulator(*SIM) as sim:
        first = asyncio.run(_until_idle(district, sim))
        got = _check(district, sim)
        assert got["by"].get("DUPLICATE", 0) > 0  # the repeated records were recognised
        assert first["requests"] > first["pulled"] / 50  # it had to retry
        again = asyncio.run(_until_idle(district, sim))
        after = _check(district, sim)
        assert after["taken"] - got["taken"] == again["pulled"] - (
            after["by"].get("DUPLICATE", 0) - got["by"].get("DUPLICATE", 0)
        )


def test_dead_letters_say_why_and_keep_the_raw_record(district: str) -> None:
    async def q(s: Any) -> list[Any]:
        rows = await s.execute(
            select(
                InboundMessage.error_code, InboundMessage.error_text, InboundMessage.payload
            ).where(InboundMessage.adapter == "maternal", InboundMessage.status == "REJECTED")
        )
        return list(rows.all())

    rows = run(district, q)
    assert {r[0] for r in rows} == {
        "BAD_DATE",
        "UNKNOWN_CODE",
        "INVALID_ID_NUMBER",
        "MISSING_FIELD",
    }
    assert all(r[1] and r[2].startswith(b"{") for r in rows)


@pytest.fixture
def sqlite_district(tmp_path: Any) -> Iterator[str]:
    url = make_database("sqlite", tmp_path)
    asyncio.run(load_demo(url, scale=0.1, regions=["yongkang"]))
    yield url


def _cli(url: str, sim: str, *args: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "HUB_DATABASE_URL": url,
        "HUB_MATERNAL_URL": sim,
        "HUB_MATERNAL_TOKEN": M.TOKEN,
        "HUB_MATERNAL_PAGE_SIZE": "10",
        "HUB_MATERNAL_TIMEOUT": "1",
        "HUB_MATERNAL_BACKOFF_BASE": "0.02",
        "HUB_MATERNAL_BACKOFF_CAP": "0.2",
        "HUB_HIS_ENABLED": "false",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "adapters", "run", "maternal", *args],
        cwd=M.ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def test_sigkill_mid_run_then_restart_loses_nothing(sqlite_district: str) -> None:
    url = sqlite_district

    async def applied(s: Any) -> int:
        return int(
            await s.scalar(
                text(
                    "select count(*) from adapter_inbound where adapter='maternal' and status='APPLIED'"
                )
            )
        )

    with M.simulator(*SIM) as sim:
        proc = _cli(url, sim)
        deadline = time.monotonic() + 60
        while run(url, applied) < 120:
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        assert run(url, applied) < M.stats(sim)["valid"]  # killed mid-run
        done = _cli(url, sim, "--until-idle")
        out, _ = done.communicate(timeout=120)
        assert done.returncode == 0, out
        _check(url, sim)
