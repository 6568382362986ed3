"""The HIS adapter under the failure modes of INTEGRATION.md, counted: nothing lost,
nothing applied twice.

- duplicates and replays, updates before creates, malformed input (framing, `\\n`, wrong
  encoding, missing fields, invalid IDs, unknown codes): ten thousand simulated messages
  with every fault switched on;
- the hub killed (SIGKILL, a real `hub adapters run his` process) in the middle of a run
  and restarted;
- a slow sender: bounded by the frame timeout, other connections unaffected.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from adapters.his.mllp import START, MllpClient
from adapters.his.settings import HisSettings
from adapters.his.simulator import Faults, Outgoing, Report, plan, send
from adapters.his.translate import parse_ack
from tests.adapters.his_support import FAST, adt, id_number, running, scalar, settle

ROOT = Path(__file__).resolve().parents[2]
FAULTS = Faults(duplicate=0.05, out_of_order=0.05, malformed=0.03, slow=0.001, slow_delay=0.05)


async def originals(hub: Any) -> dict[str, Counter[str]]:
    """control id -> statuses of its non-duplicate log rows."""
    from sqlalchemy import select

    from adapters.runtime.models import InboundMessage

    out: dict[str, Counter[str]] = {}
    async with hub.db.reader() as session:
        rows = await session.execute(
            select(InboundMessage.control_id, InboundMessage.status).where(
                InboundMessage.duplicate_of_id.is_(None)
            )
        )
        for cid, status in rows:
            out.setdefault(cid or "", Counter())[status] += 1
    return out


async def check_nothing_lost_nothing_twice(
    hub: Any, messages: list[Outgoing], report: Report
) -> None:
    unexpected = [r for r in report.results if not r.ok]
    assert not unexpected, unexpected[:5]  # every message got the answer it deserved
    await settle(hub)
    seen = await originals(hub)
    wanted = {m.control_id: m for m in messages if m.expected == "AA"}
    # A patient whose registration was refused (AE/AR) cannot take results or merges: those
    # are stored, answered AA, and end as dead letters (UNKNOWN_PATIENT) for an operator.
    known = {m.mr_id for m in wanted.values() if m.kind in ("A04", "A08")}
    orphans = {
        c for c, m in wanted.items() if m.kind in ("R01", "A40") and not _applicable(m, known)
    }
    lost = [c for c in wanted if c not in orphans and seen.get(c, Counter())["APPLIED"] != 1]
    assert lost == [], [(c, wanted[c].kind, wanted[c].fault, seen.get(c)) for c in lost][:8]
    assert all(seen[c]["DEAD"] == 1 for c in orphans)  # kept, listed for operators
    twice = [cid for cid, c in seen.items() if c["APPLIED"] > 1]
    assert twice == []
    refused = {m.control_id for m in messages if m.expected in ("AE", "AR")}
    assert all(seen.get(cid, Counter())["APPLIED"] == 0 for cid in refused)
    assert all(seen.get(cid, Counter())["REJECTED"] >= 1 for cid in refused)  # kept
    people = {m.mr_id for m in wanted.values() if m.kind in ("A04", "A08")}
    assert await scalar(hub, "select count(*) from source_record where source='his'") == len(people)
    results = [m for c, m in wanted.items() if m.kind == "R01" and c not in orphans]
    assert await scalar(hub, "select count(*) from encounter where source='his'") == len(results)


SOAK = pytest.mark.skipif(not os.environ.get("HUB_SOAK"), reason="soak: set HUB_SOAK=1")


@pytest.mark.parametrize(
    "count", [10_000, pytest.param(100_000, marks=[pytest.mark.slow, SOAK], id="soak")]
)
async def test_ten_thousand_messages_with_every_fault(sqlite_url: str, count: int) -> None:
    from hub.app import build_hub

    hub = build_hub(database_url=sqlite_url)
    messages = plan(count, seed=2026, faults=FAULTS)
    kinds = Counter((m.fault or "none").split("+")[0] for m in messages)
    assert len(messages) > count and kinds["duplicate"] > 100 and kinds["out_of_order"] > 10
    try:
        async with running(
            hub, HisSettings(park_seconds=8.0, backoff_base=0.05, backoff_cap=0.5, linger_ms=2)
        ) as his:
            report = await send(
                messages, "127.0.0.1", his.port, faults=FAULTS, connections=16, timeout=20.0
            )
            await check_nothing_lost_nothing_twice(hub, messages, report)
    finally:
        await hub.db.dispose()


async def test_faults_on_both_engines(hub: Any) -> None:
    """The same run, smaller, on SQLite and PostgreSQL."""
    messages = plan(1500, seed=77, faults=FAULTS)
    async with running(
        hub, HisSettings(park_seconds=8.0, backoff_base=0.05, backoff_cap=0.5)
    ) as his:
        report = await send(
            messages, "127.0.0.1", his.port, faults=FAULTS, connections=8, timeout=20.0
        )
        await check_nothing_lost_nothing_twice(hub, messages, report)


def _applicable(m: Outgoing, known: set[str]) -> bool:
    if m.mr_id not in known:
        return False
    if m.kind == "A40":  # MRG-1 names the second registration
        prior = m.payload.split(b"MRG|", 1)[1].split(b"^", 1)[0].decode()
        return prior in known
    return True


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _start(url: str, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "HUB_DATABASE_URL": url,
        "HUB_HIS_PARK_SECONDS": "8",
        "HUB_HIS_BACKOFF_BASE": "0.05",
        "HUB_HIS_BACKOFF_CAP": "0.5",
        "HUB_LOG_LEVEL": "WARNING",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "adapters", "run", "his", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(600):  # up to a minute to start (imports, matcher model)
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return proc
        except OSError:
            if proc.poll() is not None:
                raise AssertionError("hub adapters run his exited") from None
            await asyncio.sleep(0.1)
    raise AssertionError("hub adapters run his did not start listening")


async def test_hub_killed_mid_run_and_restarted_loses_nothing(tmp_path: Path) -> None:
    from hub.app import build_hub
    from tests.conftest import make_database

    sqlite_url = await asyncio.to_thread(make_database, "sqlite", tmp_path)  # counts from 0

    port = _free_port()
    messages = plan(3000, seed=99, faults=Faults(duplicate=0.03, out_of_order=0.03))
    proc = await _start(sqlite_url, port)
    hub = build_hub(database_url=sqlite_url)
    try:
        sending = asyncio.create_task(
            send(messages, "127.0.0.1", port, connections=8, timeout=10.0, retries=40)
        )
        while await scalar(hub, "select count(*) from adapter_inbound") < 1000:
            assert not sending.done()
            await asyncio.sleep(0.02)
        proc.send_signal(signal.SIGKILL)  # no clean shutdown: mid-batch, mid-ACK
        proc.wait()
        logged_at_kill = await scalar(hub, "select count(*) from adapter_inbound")
        proc = await _start(sqlite_url, port)  # the senders keep resending meanwhile
        report = await sending
        assert logged_at_kill < len(messages)
        async with running(hub, FAST):  # a second worker to drain the parked ones, too
            await check_nothing_lost_nothing_twice(hub, messages, report)
    finally:
        proc.kill()
        proc.wait()
        await hub.db.dispose()


async def test_a_stalled_sender_is_cut_off_and_others_go_on(hub: Any) -> None:
    settings = HisSettings(frame_timeout=0.5, park_seconds=1.0)
    msg = adt("A04", "F6-1", "MRF600", id_number(601))
    async with running(hub, settings) as his:
        reader, writer = await asyncio.open_connection("127.0.0.1", his.port)
        writer.write(START + msg[:20])  # starts a frame and stops
        await writer.drain()
        async with MllpClient("127.0.0.1", his.port) as client:
            ack = parse_ack(await client.send(msg))
        assert ack.code == "AA"  # the other connection went through meanwhile
        assert await reader.read() == b""  # the stalled one was closed after frame_timeout
        writer.close()
        async with MllpClient("127.0.0.1", his.port) as client:
            again = parse_ack(await client.send(msg))
        assert again.code == "AA"
    kept = await scalar(
        hub,
        "select error_code from adapter_inbound where status='REJECTED' "
        "and error_code='BROKEN_FRAME' limit 1",
    )
    assert kept == "BROKEN_FRAME"  # the cut frame's bytes are kept


async def test_a_whole_batch_replayed_is_acknowledged_and_not_applied_again(hub: Any) -> None:
    """Failure mode 1: the HIS resends everything (its ACKs were lost): all AA, no change."""
    messages = plan(300, seed=303)
    async with running(hub, FAST) as his:
        first = await send(messages, "127.0.0.1", his.port, connections=4)
        await settle(hub)
        before = await originals(hub)
        sources = await scalar(hub, "select count(*) from source_record")
        again = await send(messages, "127.0.0.1", his.port, connections=4)
    assert all(r.ok for r in first.results) and all(r.ok for r in again.results)
    assert await originals(hub) == before  # every resend logged as a duplicate only
    assert await scalar(hub, "select count(*) from source_record") == sources
    dups = await scalar(
        hub,
        "select count(*) from adapter_inbound where status='DUPLICATE' "
        "and control_id like 'SIM0303%'",
    )
    assert dups == len(messages)
