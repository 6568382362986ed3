"""HIS adapter throughput: simulator send -> hub ACK, with every record stored and linked.

The hub side (MLLP listener, group-commit intake, the registry's matcher) runs in this
process, as `hub adapters run his` would; the simulated hospital runs in a second process
over real sockets, so the two share the machine's cores as they would in production.
Messages/s is counted from the first send to the last ACK (the simulator's clock); after
the run the database is checked: every message logged, every ADT applied, one source
record per patient.

    .venv/bin/python bench/his_throughput.py --engine sqlite --count 10000
    .venv/bin/python bench/his_throughput.py --engine postgres --count 10000 \
        --postgres postgresql+asyncpg://hub@127.0.0.1:55432/hub_test
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

KINDS = {"adt": ("A04", "A08"), "mixed": ("A04", "A08", "A40", "R01")}


def send_only(args: argparse.Namespace) -> None:
    """The sending process: plan, keep the wanted kinds, send, print the summary."""
    from adapters.his.simulator import Faults, plan, send

    messages = [m for m in plan(args.count * 2, seed=args.seed) if m.kind in KINDS[args.kinds]]
    messages = messages[: args.count]
    _fast_loop()
    report = asyncio.run(send(messages, "127.0.0.1", args.port, faults=Faults(),
                              connections=args.connections, timeout=30.0))  # fmt: skip
    print(json.dumps(report.summary()))


def _fast_loop() -> None:
    """uvloop, as `hub serve` and `hub adapters run his` use."""
    try:
        import uvloop
    except ImportError:
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def fresh_database(engine: str, postgres: str | None) -> str:
    if engine == "sqlite":
        return f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
    import asyncpg

    if not postgres:
        raise SystemExit("--postgres URL (or HUB_TEST_POSTGRES_URL) is needed for PostgreSQL")
    name = f"bench_{uuid.uuid4().hex[:8]}"

    async def create() -> None:
        conn = await asyncpg.connect(postgres.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(create())
    return postgres.rsplit("/", 1)[0] + "/" + name


async def run(args: argparse.Namespace, url: str) -> dict[str, object]:
    from sqlalchemy import func, select

    from adapters.his.adapter import HisService
    from adapters.his.settings import HisSettings
    from adapters.runtime.models import InboundMessage
    from hub.app import build_hub
    from hub.registry.models import SourceRecord

    hub = build_hub(database_url=url)
    settings = HisSettings(max_batch=args.max_batch, linger_ms=args.linger_ms)
    service = HisService(hub, port=0, settings=settings)
    await service.start()
    from hub.tuning import settle_gc

    settle_gc(hub.settings.gc_threshold)  # as `hub adapters run his` and `hub serve` do
    cmd = [sys.executable, str(Path(__file__).resolve()), "--send-only", "--port", str(service.port), "--count",
           str(args.count), "--connections", str(args.connections), "--kinds", args.kinds,
           "--seed", str(args.seed)]  # fmt: skip
    started = time.process_time()
    proc = await asyncio.create_subprocess_exec(*cmd, stdout=subprocess.PIPE)
    out, _ = await proc.communicate()
    hub_cpu = time.process_time() - started
    import resource
    sender_cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    sender_cpu = sender_cpu.ru_utime + sender_cpu.ru_stime
    summary = json.loads(out)
    await service.stop()
    async with hub.db.reader() as session:
        logged = await session.scalar(select(func.count()).select_from(InboundMessage))
        applied = await session.scalar(
            select(func.count()).where(InboundMessage.status == "APPLIED")
        )
        sources = await session.scalar(select(func.count()).select_from(SourceRecord))
    await hub.db.dispose()
    return {
        "engine": args.engine,
        "kinds": args.kinds,
        "messages": summary["sent"],
        "acks": summary["acks"],
        "all_acked_aa": summary["ok"] == summary["sent"],
        "seconds": summary["elapsed_s"],
        "messages_per_s": summary["per_second"],
        "connections": args.connections,
        "batches": service.intake.batches,
        "mean_batch": round(service.intake.committed / max(1, service.intake.batches), 1),
        "hub_cpu_ms_per_message": round(hub_cpu * 1000 / max(1, summary["sent"]), 3),
        "sender_cpu_ms_per_message": round(sender_cpu * 1000 / max(1, summary["sent"]), 3),
        "logged": logged,
        "applied": applied,
        "source_records": sources,
        "linker": type(hub.registry.linker).__name__,
        "machine": f"{platform.machine()} {os.cpu_count()} cores, Python "
        f"{platform.python_version()}",
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--engine", choices=("sqlite", "postgres"), default="sqlite")
    p.add_argument("--postgres", default=os.environ.get("HUB_TEST_POSTGRES_URL"))
    p.add_argument("--count", type=int, default=10_000)
    p.add_argument("--connections", type=int, default=128)
    p.add_argument("--kinds", choices=tuple(KINDS), default="adt")
    p.add_argument("--max-batch", type=int, default=200)
    p.add_argument("--linger-ms", type=float, default=10.0)
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--send-only", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.send_only:
        send_only(args)
        return
    from hub.logs import configure
    from hub.migrate import upgrade

    configure("WARNING", False)
    url = fresh_database(args.engine, args.postgres)
    upgrade(url)
    _fast_loop()
    print(json.dumps(asyncio.run(run(args, url)), ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
