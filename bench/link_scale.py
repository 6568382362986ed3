"""Does linking stay as cheap per record when the registry is large?

1. `prefill`: a registry of N residents, one source record each (generated people, like
   `hub demo` loads its districts: features, blocking keys, golden record, identifiers
   written in bulk, no matching), plus a batch file of ~10k records to link into it:
   further records of the registry's last people and records of people not yet in it.
2. time `hub link BATCH --database URL` against it, and against an empty registry.

    .venv/bin/python bench/link_scale.py prefill --residents 1000000 --out var/bench/scale-1m
    cp var/bench/scale-1m.db /tmp/run.db   # keep the prefilled one for reruns
    time .venv/bin/hub link var/bench/scale-1m-batch.jsonl --out /tmp/c.csv \
        --database sqlite+aiosqlite:////tmp/run.db
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import multiprocessing
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.link_generate import generate  # noqa: E402

CHUNK = 20_000


def _prepare(rows: list[dict[str, Any]]) -> list[Any]:
    from hub.registry.bulk import prepare
    from hub.registry.records import ResidentRecord

    return [prepare(*ResidentRecord.lenient(r)) for r in rows]


def split(residents: int, batch: int, seed: int) -> Iterator[tuple[str, dict[str, Any], str]]:
    """("prefill" | "batch", record, person): the first record of each of the first
    `residents` people prefills. The batch is alike whatever the registry's size: half
    further records of the registry's last 10,000 people (LINKED when all goes well), half
    every record of the next people, not in the registry (NEW, then LINKED to each other;
    about 2.1 records each)."""
    seen: set[str] = set()
    known = 0
    newcomers = int(batch / 2 / 2.1)
    for record, pid in generate(residents + batch, seed):
        n = int(pid[1:])
        if n <= residents and pid not in seen:
            seen.add(pid)
            yield "prefill", record, pid
        elif residents - 10_000 < n <= residents and known < batch // 2:
            known += 1
            yield "batch", record, pid
        elif residents < n <= residents + newcomers:
            yield "batch", record, pid


async def _write(url: str, prepared: list[Any], priority: list[str], first_id: int) -> None:
    from hub.db import Database
    from hub.registry.bulk import R, S, insert_rows
    from hub.registry.models import BlockingKey, ResidentIdentifier
    from hub.registry.service import refreshed

    db = Database(url)
    now = dt.datetime.now(dt.UTC)
    residents, sources, keys, idents = [], [], [], []
    for i, p in enumerate(prepared):
        rid = sid = first_id + i

        class _Src:  # golden.SourceLike
            id, source, payload, received_at = sid, p.source, p.payload, now

        r = refreshed([_Src()], priority)
        residents.append({"id": rid, "status": "ACTIVE", "created_at": now, **r.values})
        sources.append({"id": sid, "source": p.source, "source_id": p.source_id, "resident_id": rid,
                        "payload": p.payload, "features": p.stored_features, "flags": p.flags,
                        "link_grade": None, "link_score": None, "received_at": now,
                        "updated_at": now})  # fmt: skip
        keys += [{"key": k, "source_record_id": sid} for k in p.keys]
        idents += [{"resident_id": rid, "system": s, "value": v} for s, v in sorted(r.identifiers)]
    keys.sort(key=lambda k: k["key"])  # B-tree locality
    try:
        async with db.transaction() as s:
            await insert_rows(s, R, residents)
            await insert_rows(s, S, sources)
            await insert_rows(s, BlockingKey.__table__, keys)
            await insert_rows(s, ResidentIdentifier.__table__, idents)
    finally:
        await db.dispose()


def prefill(residents: int, batch: int, out: Path, seed: int) -> None:
    from hub.migrate import upgrade
    from hub.settings import get_settings

    db_path = out.with_suffix(".db")
    db_path.unlink(missing_ok=True)
    url = f"sqlite+aiosqlite:///{db_path.resolve()}"
    upgrade(url)
    priority = list(get_settings().source_priority)
    start = time.perf_counter()
    done = 0
    with open(f"{out}-batch.jsonl", "w", encoding="utf-8") as fb, \
            multiprocessing.get_context("fork").Pool(2) as pool:  # fmt: skip
        chunk: list[dict[str, Any]] = []
        pending = []
        for kind, record, _ in split(residents, batch, seed):
            if kind == "batch":
                fb.write(json.dumps(record, ensure_ascii=False) + "\n")
                continue
            chunk.append(record)
            if len(chunk) >= CHUNK:
                pending.append(pool.apply_async(_prepare, (chunk,)))
                chunk = []
            while pending and (pending[0].ready() or len(pending) > 2):
                prepared = pending.pop(0).get()
                asyncio.run(_write(url, prepared, priority, done + 1))
                done += len(prepared)
                rate = done / (time.perf_counter() - start)
                print(f"\r{done:,} residents ({rate:,.0f}/s)", end="", flush=True)
        if chunk:
            pending.append(pool.apply_async(_prepare, (chunk,)))
        for job in pending:
            prepared = job.get()
            asyncio.run(_write(url, prepared, priority, done + 1))
            done += len(prepared)
    print(f"\nprefilled {done:,} residents into {db_path} in {time.perf_counter() - start:.0f} s;"
          f" batch: {out}-batch.jsonl")  # fmt: skip


def batch_only(residents: int, batch: int, out: Path, seed: int) -> None:
    """Write STEM-batch.jsonl again (the prefilled database depends only on the seed)."""
    with open(f"{out}-batch.jsonl", "w", encoding="utf-8") as fb, \
            open(f"{out}-batch-truth.csv", "w", encoding="utf-8") as ft:  # fmt: skip
        ft.write("source,source_id,true_person\n")
        for kind, record, pid in split(residents, batch, seed):
            if kind == "batch":
                fb.write(json.dumps(record, ensure_ascii=False) + "\n")
                ft.write(f"{record['source']},{record['source_id']},{pid}\n")


_ONE_RUN = """
import asyncio, json, sys
from pathlib import Path
from hub.logs import configure
from hub.migrate import upgrade
from hub.registry.linkfile import link_file
configure("WARNING", False)
url, batch, out = sys.argv[1:4]
upgrade(url)
r = asyncio.run(link_file(Path(batch), Path(out), url))
print(json.dumps({"records": r.records, "seconds": r.seconds, "outcomes": dict(r.outcomes)}))
"""


def run(db: Path, batch: Path, repeat: int) -> None:
    """Link `batch` into a copy of the prefilled `db`, `repeat` times; the median time.
    The copy is written to disk before each run (else the kernel writes the copy's
    2 GB back while the run is timed), and read once so that it starts warm, as a
    running hub's database is."""
    import os
    import shutil
    import statistics
    import subprocess

    work = db.with_name(db.stem + "-run.db")
    times = []
    for _ in range(repeat):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{work}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(db, work)
        os.sync()
        with open(work, "rb") as fh:
            while fh.read(1 << 24):
                pass
        time.sleep(1)
        url = f"sqlite+aiosqlite:///{work.resolve()}"
        clusters = db.with_name(db.stem + "-clusters.csv")
        done = subprocess.run([sys.executable, "-c", _ONE_RUN, url, str(batch), str(clusters)],
                              check=True, capture_output=True, text=True)  # fmt: skip
        result = json.loads(done.stdout.strip().splitlines()[-1])
        times.append(result["seconds"])
        print(f"{result['records']:,} records in {result['seconds']:.2f} s "
              f"({result['seconds'] * 1000 / result['records']:.3f} ms each) {result['outcomes']}",
              flush=True)  # fmt: skip
    median = statistics.median(times)
    print(
        f"median {median:.2f} s over {repeat} runs: "
        f"{median * 1000 / result['records']:.3f} ms per record"
    )


def merge(db: Path) -> None:
    """The deferred cost: merging the recent keys into the settled ones when due. On a
    copy of the registry, recent keys are made as many as the policy lets wait (as many as
    the records, at least MERGE_AT), spread over the key space like real ones, and
    the merge is timed; per record = that time over the records that fill the table."""
    import os
    import shutil

    from sqlalchemy import text

    from hub.db import Database
    from hub.registry import mpi_index
    from hub.registry.linkfile import tune_sqlite

    work = db.with_name(db.stem + "-run.db")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{work}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(db, work)
    os.sync()
    url = f"sqlite+aiosqlite:///{work.resolve()}"
    from hub.migrate import upgrade

    upgrade(url)

    async def go() -> None:
        d = Database(url)
        tune_sqlite(d)
        try:
            async with d.transaction() as s:
                settled = int(await s.scalar(text("SELECT count(*) FROM blocking_key")) or 0)
                top = int(await s.scalar(text("SELECT max(id) FROM source_record")) or 0)
                want = max(mpi_index.MERGE_AT, top)  # as many as wait before a merge
                step = max(1, round(settled / want))
                copies = max(1, -(-want // settled))  # a small registry: each key again
                # The keys of every step-th record (spread over the key space like real
                # ones), made to belong to the newest records: a record's keys go in when
                # it does, so recent keys belong to recent records.
                newest = max(1, min(top, want // 9))
                fill = text(
                    "INSERT INTO blocking_key_recent (key, source_record_id) "
                    "SELECT key || :mark, :top - source_record_id % :newest "
                    "FROM blocking_key WHERE source_record_id % :step = 0")  # fmt: skip
                for copy in range(copies):
                    await s.execute(fill, {"step": step, "top": top, "newest": newest,
                                           "mark": f"~{copy}"})  # fmt: skip
            per_record = 9.0  # blocking keys per record, as linked
            start = time.perf_counter()
            async with d.transaction() as s:
                moved = await mpi_index.compact(s, force=True)
            seconds = time.perf_counter() - start
            print(
                f"merged {moved:,} recent keys into {settled:,} in {seconds:.1f} s: "
                f"{seconds * 1000 / (moved / per_record):.3f} ms per record linked "
                f"(~{per_record:.0f} keys a record)"
            )
        finally:
            await d.dispose()

    asyncio.run(go())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prefill")
    b = sub.add_parser("batch", help="write the batch file only, for a prefilled registry")
    for q in (p, b):
        q.add_argument("--residents", type=int, default=1_000_000)
        q.add_argument("--batch", type=int, default=10_000)
        q.add_argument("--seed", type=int, default=3)
        q.add_argument("--out", type=Path, required=True,
                       help="path stem: STEM.db, STEM-batch.jsonl")  # fmt: skip
    r = sub.add_parser("run", help="time linking the batch into copies of the registry")
    r.add_argument("--out", type=Path, required=True, help="path stem: STEM.db, STEM-batch.jsonl")
    r.add_argument("--repeat", type=int, default=3)
    m = sub.add_parser("merge", help="time merging a full table of recent keys (deferred cost)")
    m.add_argument("--out", type=Path, required=True, help="path stem: STEM.db")
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if args.cmd == "merge":
        merge(args.out.with_suffix(".db"))
    elif args.cmd == "run":
        run(args.out.with_suffix(".db"), Path(f"{args.out}-batch.jsonl"), args.repeat)
    elif args.cmd == "batch":
        batch_only(args.residents, args.batch, args.out, args.seed)
    else:
        prefill(args.residents, args.batch, args.out, args.seed)


if __name__ == "__main__":
    main()
