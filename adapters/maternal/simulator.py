"""A simulated maternal-child health system (模拟妇幼保健信息系统), as a separate HTTP
process: `hub simulate maternal --port P --token T [--seed N] [--faults ...]`.

It serves the change feed of a generated district (adapters/maternal/district.py) the way
provincial platforms do — `POST /token` (the configured token buys an access token),
`GET /records?updated_since=…&cursor=…&limit=…` ordered by (updated_at, id) — accepts
`POST /signing-status` (idempotent by its `Idempotency-Key`) and answers `GET /stats`
with what it holds. Faults on demand (names in `--help`).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import random
import secrets
import socket
import sys
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from adapters.maternal.district import Feed, generate, mothers_from_demo, synthetic_mothers

FAULTS = {
    "5xx": "bursts of 503 Service Unavailable (three in a row, now and then)",
    "timeout": "now and then an answer that takes 4 s (longer than a sane client waits)",
    "429": "now and then 429 Too Many Requests with Retry-After: 1",
    "repeat": "the last record of a page is served again first on the next page",
    "change": "a record on a page is changed (a new version, later updated_at) after the read",
    "malformed": "2 percent extra records a correct consumer must refuse: bad dates, unknown "
    "codes, "
    "broken ID numbers, missing fields",
    "token": "access tokens expire after 25 requests (401 token_expired; get a new one)",
    "push": "POST /signing-status fails twice (503) for every new key before it is accepted",
}


def parse_faults(text: str) -> set[str]:
    if text in ("", "none"):
        return set()
    if text == "all":
        return set(FAULTS)
    names = {n.strip() for n in text.split(",") if n.strip()}
    unknown = names - set(FAULTS)
    if unknown:
        raise ValueError(
            f"unknown fault(s): {', '.join(sorted(unknown))}; known: {', '.join(FAULTS)}"
        )
    return names


def _key(rec: dict[str, Any]) -> str:
    return f"{rec['updated_at']}|{rec['id']}|{rec['version']:04d}"


@dataclass
class State:
    feed: Feed
    token: str
    faults: set[str]
    rng: random.Random
    malformed: set[tuple[str, int]] = field(default_factory=set)
    access: dict[str, int] = field(default_factory=dict)  # access token -> uses left
    requests: int = 0
    slow: int = 0
    burst: int = 0
    pushes: dict[str, dict[str, Any]] = field(default_factory=dict)  # key -> accepted body
    push_failures: Counter[str] = field(default_factory=Counter)
    push_requests: int = 0

    def stats(self) -> dict[str, Any]:
        recs = self.feed.records
        kinds = Counter(r["kind"] for r in recs)
        bad = sum(1 for r in recs if (r["id"], r["version"]) in self.malformed)
        return {
            "total": len(recs),
            "valid": len(recs) - bad,
            "malformed": bad,
            "records": dict(sorted(kinds.items())),
            "mothers": self.feed.mothers,
            "births": self.feed.births,
            "twinBirths": self.feed.twin_births,
            "signingStatuses": len(self.pushes),
            "pushRequests": self.push_requests,
        }


def build_state(args: argparse.Namespace) -> State:
    today = dt.date.fromisoformat(args.today) if args.today else dt.date.today()
    mothers = mothers_from_demo(args.district, args.mothers, seed=args.seed, scale=args.demo_scale)
    mothers += synthetic_mothers(args.extra_mothers, seed=args.seed)
    faults = parse_faults(args.faults)
    feed = generate(mothers, today=today, seed=args.seed, malformed="malformed" in faults)
    malformed = {(r["id"], r["version"]) for r in feed.records if r.pop("malformed", None)}
    return State(feed, args.token, faults, random.Random(args.seed), malformed)


def create_app(state: State) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    def error(status: int, code: str, **headers: str) -> JSONResponse:
        return JSONResponse({"error": code}, status_code=status, headers=headers)

    def authorized(request: Request) -> JSONResponse | None:
        token = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if token not in state.access:
            return error(401, "invalid_token")
        if state.access[token] <= 0:
            return error(401, "token_expired")
        if "token" in state.faults:
            state.access[token] -= 1
        return None

    async def faulty() -> JSONResponse | None:
        state.requests += 1
        f, rng = state.faults, state.rng
        if state.burst > 0:
            state.burst -= 1
            return error(503, "unavailable")
        if "5xx" in f and rng.random() < 0.06:
            state.burst = 2
            return error(503, "unavailable")
        if "429" in f and rng.random() < 0.06:
            return error(429, "rate_limited", **{"Retry-After": "1"})
        if "timeout" in f and rng.random() < 0.03:
            state.slow += 1
            await asyncio.sleep(4)
        return None

    async def token(request: Request) -> JSONResponse:
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not secrets.compare_digest(given, state.token):
            return error(401, "invalid_client")
        access = secrets.token_urlsafe(16)
        state.access[access] = 25 if "token" in state.faults else 10**12
        return JSONResponse({"access_token": access, "token_type": "Bearer", "expires_in": 600})

    async def records(request: Request) -> JSONResponse:
        if (denied := authorized(request)) is not None:
            return denied
        slow = state.slow
        if (fault := await faulty()) is not None:
            return fault
        answered = slow == state.slow  # a slow answer nobody waits for changes nothing
        q = request.query_params
        try:
            limit = max(1, min(1000, int(q.get("limit", "200"))))
        except ValueError:
            return error(400, "bad_limit")
        cursor, since = q.get("cursor") or "", q.get("updated_since") or ""
        recs = state.feed.records
        start = 0
        if cursor or since:  # records sorted by key; bisect by hand (keys are strings)
            import bisect

            keys = [_key(r) for r in recs]
            start = bisect.bisect_right(keys, cursor) if cursor else bisect.bisect_left(keys, since)
        page = recs[start : start + limit]
        served = list(page)
        if "repeat" in state.faults and start > 0 and state.rng.random() < 0.2:
            served.insert(0, recs[start - 1])
        next_cursor = _key(page[-1]) if page else cursor
        if "change" in state.faults and page and answered and state.rng.random() < 0.15:
            _change(state, state.rng.choice(page))
        has_more = start + len(page) < len(state.feed.records)  # changes made just now included
        return JSONResponse(
            {"records": served, "next_cursor": next_cursor or None, "has_more": has_more}
        )

    async def signing(request: Request) -> JSONResponse:
        if (denied := authorized(request)) is not None:
            return denied
        state.push_requests += 1
        key = request.headers.get("idempotency-key", "")
        if not key:
            return error(400, "idempotency_key_required")
        try:
            body = json.loads(await request.body())
        except ValueError:
            return error(400, "bad_json")
        missing = [k for k in ("contract_no", "status", "handbook_no") if not body.get(k)]
        if missing:
            return error(422, "missing:" + ",".join(missing))
        if key in state.pushes:
            return JSONResponse({"accepted": True, "repeat": True})
        if "push" in state.faults and state.push_failures[key] < 2:
            state.push_failures[key] += 1
            return error(503, "unavailable")
        state.pushes[key] = body
        return JSONResponse({"accepted": True})

    async def received(request: Request) -> JSONResponse:
        if (denied := authorized(request)) is not None:
            return denied
        return JSONResponse([{"key": k, **v} for k, v in state.pushes.items()])

    async def stats(request: Request) -> JSONResponse:
        if (denied := authorized(request)) is not None:
            return denied
        return JSONResponse(state.stats())

    return Starlette(
        routes=[
            Route("/token", token, methods=["POST"]),
            Route("/records", records),
            Route("/signing-status", signing, methods=["POST"]),
            Route("/signing-status", received, methods=["GET"]),
            Route("/stats", stats),
        ]
    )


def _change(state: State, rec: dict[str, Any]) -> None:
    """The record is edited at the source right after it was read: a new version."""
    if (rec["id"], rec["version"]) in state.malformed or rec["deleted"]:
        return
    versions = [r["version"] for r in state.feed.records if r["id"] == rec["id"]]
    if len(versions) >= 5 or any(r["deleted"] for r in state.feed.records if r["id"] == rec["id"]):
        return
    last = state.feed.records[-1]["updated_at"]
    t = dt.datetime.strptime(last[:19], "%Y-%m-%dT%H:%M:%S") + dt.timedelta(seconds=1)
    data = {**rec["data"], "findings": "复核更正"}
    state.feed.records.append(
        {
            **rec,
            "version": max(versions) + 1,
            "data": data,
            "updated_at": t.strftime("%Y-%m-%dT%H:%M:%S+08:00"),
        }
    )


def main(argv: list[str] | None = None) -> int:
    fault_help = "; ".join(f"{k}: {v}" for k, v in FAULTS.items())
    p = argparse.ArgumentParser(prog="hub simulate maternal", description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8090, help="0 picks a free port (printed)")
    p.add_argument("--token", default="maternal-demo-token", help="the client token it accepts")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--mothers", type=int, default=200, help="pregnancies in the district")
    p.add_argument("--extra-mothers", type=int, default=0, help="mothers not in the demo (scale)")
    p.add_argument("--district", default="yongkang", help="demo district the mothers live in")
    p.add_argument("--demo-scale", type=float, default=1.0, help="the scale `hub demo` used")
    p.add_argument("--today", default=None, help="reference day (YYYY-MM-DD; default today)")
    p.add_argument("--faults", default="none", help=f"none, all, or names: {fault_help}")
    args = p.parse_args(argv)
    try:
        state = build_state(args)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    import uvicorn

    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(state), log_level="warning"))
    s = state.stats()
    print(
        f"maternal simulator listening on http://{args.host}:{port} "
        f"({s['total']} records, faults: {','.join(sorted(state.faults)) or 'none'})",
        flush=True,
    )
    server.run(sockets=[sock])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
