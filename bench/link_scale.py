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


def split(residents: int, batch: int, seed: int) -> Iterator[tuple[str, dict[str, Any]]]:
    """("prefill" | "batch", record): the first record of each of the first `residents`
    people prefills; later records of the last 5,000 of them and records of new people
    make the batch, up to `batch` records."""
    seen: set[str] = set()
    in_batch = 0
    for record, pid in generate(residents + batch, seed):
        n = int(pid[1:])
        if n <= residents and pid not in seen:
            seen.add(pid)
            yield "prefill", record
        elif in_batch < batch and (n > residents - 5000):
            in_batch += 1
            yield "batch", record


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
        for kind, record in split(residents, batch, seed):
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prefill")
    p.add_argument("--residents", type=int, default=1_000_000)
    p.add_argument("--batch", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=3)
    p.add_argument("--out", type=Path, required=True, help="path stem: STEM.db, STEM-batch.jsonl")
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    prefill(args.residents, args.batch, args.out, args.seed)


if __name__ == "__main__":
    main()
