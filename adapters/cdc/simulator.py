"""A simulated infectious-disease reporting system (模拟传染病报告/结核病管理信息系统), as a
separate HTTP process: `hub simulate cdc --port P --token T [--seed N] [--faults ...]`.

JSON notifications of TB patients referred to primary care, later treatment outcomes and
closings: `GET /notifications?cursor=N&limit=M` (Bearer token) answers
`{"notifications": [...], "next_cursor", "has_more"}`; `GET /stats` what it holds.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
import socket
import sys
from typing import Any

from hub.registry import idnumber

FAULTS = {
    "5xx": "bursts of 503 Service Unavailable",
    "429": "now and then 429 Too Many Requests with Retry-After: 1",
    "timeout": "now and then an answer that takes 4 s",
    "malformed": "5 percent extra notifications a consumer must refuse (a bad date)",
}
CST = dt.timezone(dt.timedelta(hours=8))


def parse_faults(text: str) -> set[str]:
    if text in ("", "none"):
        return set()
    if text == "all":
        return set(FAULTS)
    names = {n.strip() for n in text.split(",") if n.strip()}
    if names - set(FAULTS):
        raise ValueError(f"unknown fault(s): {', '.join(sorted(names - set(FAULTS)))}")
    return names


def generate(count: int, now: dt.datetime, seed: int, faults: set[str]) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    for i in range(1, count + 1):
        born = dt.date(rng.randint(1940, 2000), rng.randint(1, 12), rng.randint(1, 28))
        notified = now - dt.timedelta(hours=rng.randint(1, 24 * 20))
        patient = {"name": rng.choice("王李张刘陈杨黄赵") + rng.choice("建国秀英志强丽华"),
                   "sex": rng.choice("12"), "birth_date": born.isoformat(),
                   "id_number": idnumber.make("330784", born, 500 + i % 400),
                   "phone": f"137{rng.randint(10**7, 10**8 - 1)}",
                   "address": f"浙江省永康市东城街道{rng.randint(1, 200)}号"}  # fmt: skip
        nid = f"TB-330784-{i:05d}"
        base = {"id": nid, "patient": patient, "notified_at": notified.isoformat()}
        out.append({**base, "version": 1, "kind": "notification",
                    "diagnosis_date": (notified - dt.timedelta(days=2)).date().isoformat(),
                    "diagnosis_type": rng.choice(["病原学阳性", "病原学阴性", "无病原学结果"]),
                    "hospital": "永康市第一人民医院（结核病定点医院）",
                    "treatment_start": notified.date().isoformat(),
                    "regimen": rng.choice(["2HRZE/4HR", "2HRZE/4HRE"])})  # fmt: skip
        if rng.random() < 0.2:
            out.append({**base, "version": 2, "kind": "closing", "outcome": "治愈",
                        "closed_on": now.date().isoformat()})  # fmt: skip
        if "malformed" in faults and rng.random() < 0.05:
            bad = dict(base, version=9, kind="notification", notified_at="yesterday")
            out.append(bad)
    out.sort(key=lambda n: (n["version"], n["id"]))
    return out


def create_app(state: dict[str, Any]) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    rng: random.Random = state["rng"]

    def denied(request: Request) -> JSONResponse | None:
        if request.headers.get("authorization", "") != f"Bearer {state['token']}":
            return JSONResponse({"error": "invalid_token"}, status_code=401)
        return None

    async def notifications(request: Request) -> JSONResponse:
        if (no := denied(request)) is not None:
            return no
        f = state["faults"]
        if "5xx" in f and rng.random() < 0.05:
            return JSONResponse({"error": "unavailable"}, status_code=503)
        if "429" in f and rng.random() < 0.05:
            return JSONResponse(
                {"error": "slow down"}, status_code=429, headers={"Retry-After": "1"}
            )
        if "timeout" in f and rng.random() < 0.02:
            await asyncio.sleep(4)
        cursor = int(request.query_params.get("cursor") or 0)
        limit = max(1, min(500, int(request.query_params.get("limit") or 100)))
        feed = state["feed"]
        page = feed[cursor : cursor + limit]
        end = cursor + len(page)
        return JSONResponse(
            {"notifications": page, "next_cursor": str(end), "has_more": end < len(feed)}
        )

    async def stats(request: Request) -> JSONResponse:
        if (no := denied(request)) is not None:
            return no
        feed = state["feed"]
        bad = sum(1 for n in feed if n["notified_at"] == "yesterday")
        return JSONResponse({"total": len(feed), "valid": len(feed) - bad, "malformed": bad,
                             "patients": len({n["id"] for n in feed}),
                             "closed": sum(1 for n in feed if n["kind"] == "closing")})  # fmt: skip

    return Starlette(routes=[Route("/notifications", notifications), Route("/stats", stats)])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="hub simulate cdc", description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8092, help="0 picks a free port (printed)")
    p.add_argument("--token", default="cdc-demo-token")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--patients", type=int, default=30)
    p.add_argument("--faults", default="none", help="none, all, or: " + ", ".join(FAULTS))
    args = p.parse_args(argv)
    try:
        faults = parse_faults(args.faults)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    feed = generate(args.patients, dt.datetime.now(CST), args.seed, faults)
    state = {"feed": feed, "token": args.token, "faults": faults, "rng": random.Random(args.seed)}
    import uvicorn

    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    port = sock.getsockname()[1]
    sock.listen(128)  # connections queue from now on, before the server loop starts
    print(f"cdc simulator listening on http://{args.host}:{port} ({len(feed)} notifications)",
          flush=True)  # fmt: skip
    uvicorn.Server(uvicorn.Config(create_app(state), log_level="warning")).run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
