"""The hub's GraphQL reads against the bare stack they run on, side by side (issue 16).

    .venv/bin/python bench/read_ceiling.py [--seconds 5] [--rounds 3] [--workers 1,2]
        [--connections 16] [--database URL] [--only point,list]

Starts, for each worker count, the bare strawberry + Starlette + uvicorn (uvloop,
httptools) app (bench/bare_app.py: `{ hello }` and a 50x10 list, parser and validation
caches on) and `hub serve` on the demo data (built once under var/bench/read.db), both
with the same workers, and drives them with wrk (one thread, --connections connections)
alternately: bare hello, hub point read, bare 50x10 list, hub list page, repeated
--rounds times. A 2 s warm-up of each shape is discarded. Prints every run, the medians
and the ratios hub/bare. wrk shares the two cores with the servers, so absolute
figures are lower bounds; the ratios are what the issue sets targets for.

Status: written at the end of a stop and not yet run end to end; no figure in
BENCHMARKS.md comes from it yet (wrk: `apt-get install wrk`).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
HUB = str(BIN / "hub")

POINT = (
    "query($id: ID!) { resident(id: $id) { id name sex birthDate categories "
    "team { name leader { name } } "
    "contracts { number status startsOn endsOn packages { code } } } }"
)
LIST = (
    "query($region: String!) { residents(first: 50, filter: {region: $region, "
    "category: HYPERTENSION}) { totalCount edges { node { id name sex birthDate age "
    "categories team { name leader { name } } } } } }"
)
HELLO = "{ hello }"
BARE_LIST = "{ items { f0 f1 f2 f3 f4 f5 f6 f7 f8 f9 } }"


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def prepare(url: str, client_args: list[str]) -> tuple[str, list[int], list[str]]:
    env = {**os.environ, "HUB_DATABASE_URL": url}
    subprocess.run([HUB, "migrate"], env=env, check=True, capture_output=True)
    subprocess.run([HUB, "demo", "--if-empty"], env=env, check=True, capture_output=True)
    out = subprocess.run(
        [HUB, "client", "create", f"ceiling-{int(time.time() * 1000)}", "--scope", "admin",
         *client_args],
        env=env, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    token = out.strip().splitlines()[-1]
    con = sqlite3.connect(url.split("///", 1)[1])
    # residents with a contract, so the point read returns contracts and packages
    ids = [r[0] for r in con.execute(
        "select distinct resident_id from contract order by random() limit 1000")]
    if len(ids) < 100:
        ids += [r[0] for r in con.execute("select id from resident order by random() limit 1000")]
    regions = [r[0] for r in con.execute(
        "select region_key from resident where region_key is not null group by region_key "
        "order by count(*) desc limit 5")]  # fmt: skip
    return token, ids, regions


def lua_script(bodies: list[str], token: str | None) -> str:
    """A wrk script cycling through prebuilt request bodies."""
    lines = ['wrk.method = "POST"', 'wrk.headers["Content-Type"] = "application/json"']
    if token:
        lines.append(f'wrk.headers["Authorization"] = "Bearer {token}"')
    lines.append("local bodies = {")
    lines += ["  " + json.dumps(b) + "," for b in bodies]  # JSON strings are Lua strings
    lines += ["}", "local i = 0", "request = function()", "  i = i % #bodies + 1",
              "  return wrk.format(nil, nil, nil, bodies[i])", "end"]
    return "\n".join(lines) + "\n"


def wrk(url: str, script: str, seconds: float, connections: int) -> tuple[float, int]:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", script, url],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return rps, int(m.group(1)) if m else 0


def wait_up(base: str, proc: subprocess.Popen) -> None:
    for _ in range(600):
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {proc.returncode}")
        try:
            httpx.post(base + "/graphql", json={"query": "{ __typename }"}, timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit("server did not start")


def check(base: str, body: str, token: str | None) -> None:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    r = httpx.post(base + "/graphql", content=body, timeout=10,
                   headers={"Content-Type": "application/json", **headers})
    data = r.json()
    if r.status_code != 200 or data.get("errors"):
        raise SystemExit(f"query failed: {r.status_code} {r.text[:500]}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--database",
                    default=f"sqlite+aiosqlite:///{ROOT / 'var' / 'bench' / 'read.db'}")
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--only", default="point,list")
    ap.add_argument("--client-args", default="--rate 0 --cost 0",
                    help="options for `hub client create` (default: no budgets)")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (apt-get install -y wrk)")
    token, ids, regions = prepare(args.database, args.client_args.split())
    from schema.relay import to_global_id

    shapes = {  # name: (server, bodies)
        "bare hello": ("bare", [json.dumps({"query": HELLO})]),
        "hub point read": ("hub", [json.dumps({"query": POINT, "variables": {
            "id": to_global_id("Resident", i)}}) for i in ids]),
        "bare 50x10 list": ("bare", [json.dumps({"query": BARE_LIST})]),
        "hub list page": ("hub", [json.dumps({"query": LIST, "variables": {"region": r}})
                                  for r in regions]),
    }
    wanted = args.only.split(",")
    pairs = [("bare hello", "hub point read", "point")] if "point" in wanted else []
    if "list" in wanted:
        pairs.append(("bare 50x10 list", "hub list page", "list"))
    tmp = Path(tempfile.mkdtemp(prefix="ceiling-"))
    scripts = {}
    for name, (server, bodies) in shapes.items():
        path = tmp / (name.replace(" ", "_") + ".lua")
        path.write_text(lua_script(bodies, token if server == "hub" else None))
        scripts[name] = str(path)
    load = os.getloadavg()
    print(f"# {os.cpu_count()} cores, load average {load[0]:.1f} at start, wrk -t1 "
          f"-c{args.connections}, {args.seconds:g} s per run, {args.rounds} rounds, "
          f"{args.database.split(':')[0]}")
    summary = []
    for workers in [int(w) for w in args.workers.split(",")]:
        ports = {"bare": free_port(), "hub": free_port()}
        env = {**os.environ, "HUB_DATABASE_URL": args.database, "HUB_ADAPTERS_ENABLED": "false",
               "HUB_HIS_ENABLED": "false", "HUB_LOG_LEVEL": "WARNING"}
        procs = {
            "bare": subprocess.Popen(
                [str(BIN / "python"), "-m", "uvicorn", "bare_app:app", "--app-dir",
                 str(ROOT / "bench"), "--port", str(ports["bare"]), "--workers", str(workers),
                 "--loop", "uvloop", "--http", "httptools", "--log-level", "warning"],
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
            "hub": subprocess.Popen(
                [HUB, "serve", "--port", str(ports["hub"]), "--workers", str(workers),
                 "--no-adapters"],
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
        }  # fmt: skip
        try:
            for server, proc in procs.items():
                wait_up(f"http://127.0.0.1:{ports[server]}", proc)
            runs: dict[str, list[float]] = {}
            errors = 0
            names = [n for pair in pairs for n in pair[:2]]
            for name in names:  # check the answers, then warm up (discarded)
                server, bodies = shapes[name]
                base = f"http://127.0.0.1:{ports[server]}"
                check(base, bodies[0], token if server == "hub" else None)
                wrk(base + "/graphql", scripts[name], 2, args.connections)
            for _ in range(args.rounds):
                for name in names:  # alternate, run by run
                    server = shapes[name][0]
                    rps, bad = wrk(f"http://127.0.0.1:{ports[server]}/graphql",
                                   scripts[name], args.seconds, args.connections)
                    runs.setdefault(name, []).append(rps)
                    errors += bad
            for name in names:
                print(f"workers={workers} {name:16} runs " +
                      ", ".join(f"{r:,.0f}" for r in runs[name]) +
                      f"  median {statistics.median(runs[name]):,.0f} req/s")
            for bare, hub, label in pairs:
                ratio = statistics.median(runs[hub]) / statistics.median(runs[bare])
                summary.append((workers, label, statistics.median(runs[bare]),
                                statistics.median(runs[hub]), ratio))
            if errors:
                print(f"workers={workers}: {errors} non-2xx responses")
        finally:
            for proc in procs.values():
                proc.terminate()
            for proc in procs.values():
                proc.wait(timeout=20)
    print("\n| workers | read | bare req/s | hub req/s | hub / bare |")
    print("|---|---|---|---|---|")
    for workers, label, bare, hub, ratio in summary:
        print(f"| {workers} | {label} | {bare:,.0f} | {hub:,.0f} | {ratio:.2f} |")
    print(f"# load average {os.getloadavg()[0]:.1f} at the end", file=sys.stderr)


if __name__ == "__main__":
    main()
