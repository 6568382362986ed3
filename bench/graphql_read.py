"""GraphQL read throughput over real HTTP against `hub serve` on the demo data.

    .venv/bin/python bench/graphql_read.py [--database URL] [--seconds 10]
        [--concurrency 16] [--workers 1]

Builds (once) a demo database under var/bench/, starts `hub serve` in a subprocess, and
drives it with an async httpx client for each query shape; prints requests/s and latency
percentiles. The client shares the 2 cores with the server, so figures are a lower bound.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
HUB = str(ROOT / ".venv" / "bin" / "hub")

QUERIES = {
    "resident(id) point read": (
        "query($id: ID!) { resident(id: $id) { id name sex birthDate categories team { name } } }"
    ),
    "residentByIdentifier + fhir": (
        "query($v: String!) { residentByIdentifier(system: ID_CARD, value: $v) { id name fhir } }"
    ),
    "residents(first: 20) page": (
        'query { residents(first: 20, filter: {region: "panyu", category: HYPERTENSION}) '
        "{ totalCount edges { node { id name age categories } } } }"
    ),
}


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


CLIENT_ARGS: list[str] = []  # --client-args, e.g. "--rate 0 --cost 0" (no budgets)


def prepare(url: str) -> tuple[str, list[int], list[str]]:
    env = {**os.environ, "HUB_DATABASE_URL": url}
    subprocess.run([HUB, "migrate"], env=env, check=True, capture_output=True)
    subprocess.run([HUB, "demo", "--if-empty"], env=env, check=True, capture_output=True)
    name = f"bench-{int(time.time() * 1000)}"
    out = subprocess.run(
        [HUB, "client", "create", name, "--scope", "admin", *CLIENT_ARGS],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    token = out.strip().splitlines()[-1]
    import sqlite3

    ids: list[int] = []
    numbers: list[str] = []
    if url.startswith("sqlite"):
        con = sqlite3.connect(url.split("///", 1)[1])
        rows = con.execute(
            "select id, id_number from resident where id_number is not null "
            "order by random() limit 2000"
        ).fetchall()
        ids, numbers = [r[0] for r in rows], [r[1] for r in rows]
    return token, ids, numbers


async def drive(
    base: str, token: str, query: str, variables: list[dict], seconds: float, concurrency: int
) -> tuple[int, list[float], int]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=base, limits=limits, timeout=30, headers={"Authorization": f"Bearer {token}"}
    ) as client:

        async def worker() -> None:
            nonlocal errors
            rng = random.Random()
            while time.perf_counter() < deadline:
                body = {"query": query, "variables": rng.choice(variables) if variables else {}}
                t0 = time.perf_counter()
                r = await client.post("/graphql", json=body)
                latencies.append(time.perf_counter() - t0)
                if r.status_code != 200 or "errors" in r.json():
                    errors += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(latencies), latencies, errors


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--database", default=f"sqlite+aiosqlite:///{ROOT / 'var' / 'bench' / 'read.db'}"
    )
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--client-args", default="",
                    help='options for `hub client create`, e.g. "--rate 0 --cost 0"')
    ap.add_argument("--only", default="", help="run only the queries whose name has this")
    args = ap.parse_args()
    CLIENT_ARGS.extend(args.client_args.split())
    token, ids, numbers = prepare(args.database)
    port = free_port()
    env = {
        **os.environ,
        "HUB_DATABASE_URL": args.database,
        "HUB_HIS_ENABLED": "false",
        "HUB_LOG_LEVEL": "WARNING",
    }
    server = subprocess.Popen(
        [HUB, "serve", "--port", str(port), "--workers", str(args.workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(base + "/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        from schema.relay import to_global_id

        variables = {
            "resident(id) point read": [{"id": to_global_id("Resident", i)} for i in ids],
            "residentByIdentifier + fhir": [{"v": n} for n in numbers],
            "residents(first: 20) page": [],
        }
        print(
            f"# {sys.platform}, {os.cpu_count()} cores, workers={args.workers}, "
            f"concurrency={args.concurrency}, {args.seconds:.0f}s per query, "
            f"{args.database.split(':')[0]}"
        )
        print("| query | requests/s | p50 ms | p99 ms | errors |")
        print("|---|---|---|---|---|")
        for name, query in QUERIES.items():
            if args.only not in name:
                continue
            asyncio.run(drive(base, token, query, variables[name], 1.0, args.concurrency))  # warm
            n, lat, errors = asyncio.run(
                drive(base, token, query, variables[name], args.seconds, args.concurrency)
            )
            lat.sort()
            p99 = lat[int(len(lat) * 0.99) - 1] if lat else 0
            print(
                f"| {name} | {n / args.seconds:,.0f} | {statistics.median(lat) * 1000:.1f} | "
                f"{p99 * 1000:.1f} | {errors} |"
            )
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
