"""FHIR facade throughput over real HTTP against `hub serve` on the full demo.

    .venv/bin/python bench/fhir_search.py [--database URL] [--seconds 10] [--concurrency 16]

Builds (once) var/bench/fhir.db like bench/access_policy.py (the demo, a third of the
residents signed, one in 50 referred), starts `hub serve` in a subprocess and drives it
with an async httpx client per request shape: a Patient search page (with its total), the
page after it through the cursor, an identifier search, `$everything` of a resident with a
contract and a referral, and a `$graphql` list. Prints requests/s and latency percentiles;
the client shares the 2 cores with the server, so the figures are a lower bound.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from access_policy import prepare as prepare_data  # noqa: E402
from graphql_read import HUB, free_port  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ID_CARD = "urn:oid:2.16.156.10011.1.3"


def prepare(url: str) -> tuple[str, dict[str, list[str]]]:
    env = {**os.environ, "HUB_DATABASE_URL": url}
    subprocess.run([HUB, "migrate"], env=env, check=True, capture_output=True)
    asyncio.run(prepare_data(url))
    out = subprocess.run([HUB, "client", "create", f"fhir-bench-{int(time.time() * 1000)}",
                          "--scope", "admin"], env=env, check=True, capture_output=True,
                         text=True).stdout  # fmt: skip
    token = out.strip().splitlines()[-1]
    con = sqlite3.connect(url.split("///", 1)[1])
    numbers = [
        r[0]
        for r in con.execute(
            "select id_number from resident where id_number is not null "
            "order by random() limit 2000"
        )
    ]
    busy = [str(r[0]) for r in con.execute(
        "select r.resident_id from referral r join contract c on c.resident_id = r.resident_id "
        "group by r.resident_id limit 200")]  # fmt: skip
    return token, {"numbers": numbers, "busy": busy}


async def first_next(base: str, token: str, path: str) -> list[str]:
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}) as c:
        body = (await c.get(path)).json()
        return [next(lk["url"] for lk in body["link"] if lk["relation"] == "next")]


async def drive(
    base: str, token: str, method: str, paths: list[str], body: dict | None, seconds: float,
    concurrency: int,
) -> tuple[int, list[float], int]:  # fmt: skip
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(
        base_url=base, limits=limits, timeout=30, headers=headers
    ) as client:

        async def worker() -> None:
            nonlocal errors
            rng = random.Random()
            while time.perf_counter() < deadline:
                path = rng.choice(paths)
                t0 = time.perf_counter()
                if method == "POST":
                    r = await client.post(path, json=body)
                else:
                    r = await client.get(path)
                latencies.append(time.perf_counter() - t0)
                if r.status_code != 200:
                    errors += 1
                    if errors == 1:
                        print(f"  first error: {r.status_code} {r.text[:200]}", file=sys.stderr)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(latencies), latencies, errors


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--database", default=f"sqlite+aiosqlite:///{ROOT / 'var' / 'bench' / 'fhir.db'}"
    )
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--concurrency", type=int, default=16)
    args = ap.parse_args()
    (ROOT / "var" / "bench").mkdir(parents=True, exist_ok=True)
    token, data = prepare(args.database)
    port = free_port()
    env = {**os.environ, "HUB_DATABASE_URL": args.database, "HUB_HIS_ENABLED": "false",
           "HUB_LOG_LEVEL": "WARNING", "HUB_DEFAULT_RATE_PER_MINUTE": "0"}  # fmt: skip
    server = subprocess.Popen([HUB, "serve", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(base + "/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        page = "/fhir/Patient?birthdate=ge1950&birthdate=lt1960&_count=20&_sort=birthdate"
        shapes: dict[str, tuple[str, list[str], dict | None]] = {
            "Patient search page (20, total)": ("GET", [page], None),
            "next page through the cursor": (
                "GET", asyncio.run(first_next(base, token, page)), None),
            "Patient?identifier=system|value": (
                "GET", [f"/fhir/Patient?identifier={quote(ID_CARD)}|{n}" for n in data["numbers"]],
                None),
            "Patient/{id}/$everything (contract + referral)": (
                "GET", [f"/fhir/Patient/{i}/$everything" for i in data["busy"]], None),
            "$graphql PatientList(_count: 20)": (
                "POST", ["/fhir/$graphql"],
                {"query": '{ PatientList(birthdate: "ge1950", _count: 20) '
                          "{ id name { text } birthDate gender } }"}),
        }  # fmt: skip
        print(f"# {sys.platform}, {os.cpu_count()} cores, concurrency={args.concurrency}, "
              f"{args.seconds:.0f}s per shape, {args.database.split(':')[0]}, "
              f"{len(data['busy'])} busy residents")  # fmt: skip
        print("| request | requests/s | p50 ms | p99 ms | errors |")
        print("|---|---|---|---|---|")
        for name, (method, paths, body) in shapes.items():
            asyncio.run(drive(base, token, method, paths, body, 1.0, args.concurrency))  # warm
            n, lat, errors = asyncio.run(
                drive(base, token, method, paths, body, args.seconds, args.concurrency)
            )
            lat.sort()
            p99 = lat[int(len(lat) * 0.99) - 1] if lat else 0
            print(f"| {name} | {n / args.seconds:,.0f} | {statistics.median(lat) * 1000:.1f} | "
                  f"{p99 * 1000:.1f} | {errors} |")  # fmt: skip
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
