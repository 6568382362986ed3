"""A simulated immunization information system (模拟免疫规划信息系统), as a separate HTTP
process: `hub simulate immunization --port P --token T [--seed N] [--faults ...]`.

It serves the children of a generated district with their vaccination histories the way
provincial platforms exchange them: XML, `GET /changes?cursor=N&limit=M` (Bearer token),
`<VaccinationChanges next=".." hasMore="..">` of `<Subject>` versions (the child, the
guardian, every vaccination and adverse event); `X-Next-Cursor` / `X-Has-More` headers
say the same for a consumer that cannot read the body. `GET /stats` answers what it holds.
Faults on demand (names in `--help`).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
import socket
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

from hub.immunization.schedule import load_schedule
from hub.registry import idnumber

FAULTS = {
    "5xx": "bursts of 503 Service Unavailable (three in a row, now and then)",
    "429": "now and then 429 Too Many Requests with Retry-After: 1",
    "timeout": "now and then an answer that takes 4 s",
    "repeat": "the last subject of a page is served again first on the next page",
    "malformed": "2 percent extra subjects a consumer must refuse (bad dates, broken ID numbers, "
    "missing fields, a bad 追溯码)",
    "xml": "now and then a page that is not well-formed XML",
    "gbk": "a fifth of the pages encoded in GBK, declared so (the data is good)",
    "bomb": "now and then a page that is an XML bomb (nested entity expansion)",
    "xxe": "now and then a page with an external entity reference (file:///etc/passwd)",
}
DOC_FAULTS = ("xml", "bomb", "xxe")  # whole documents a consumer must refuse unexpanded

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾"
    "肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
)
GIVEN = "子涵梓轩一诺欣怡宇航思远浩然雨桐若曦俊杰佳怡明轩晨阳紫萱嘉懿语嫣皓轩沐宸芷若奕辰"
UNITS = ["永康市东城街道社区卫生服务中心预防接种门诊", "永康市西城街道社区卫生服务中心预防接种门诊",
         "永康市古山镇卫生院预防接种门诊", "永康市妇幼保健院产科接种室"]  # fmt: skip
MAKERS = [
    "北京天坛生物",
    "华兰生物",
    "武汉生物制品研究所",
    "成都生物制品研究所",
    "长春生物制品研究所",
]
ROUTES = {"BCG": ("ID", "左上臂三角肌"), "bOPV": ("PO", "口服"), "IPV": ("IM", "大腿前外侧"),
          "HepB": ("IM", "上臂三角肌"), "DTaP": ("IM", "上臂三角肌"),
          "DT": ("IM", "上臂三角肌")}  # fmt: skip
LOCAL = {"HepB": "0101", "BCG": "0201", "IPV": "0311", "bOPV": "0305", "DTaP": "0401",
         "DT": "0601", "MMR": "1201", "JE-L": "1401", "JE-I": "1402", "MPSV-A": "1601",
         "MPSV-AC": "1701", "HepA-L": "1901", "HepA-I": "1903"}  # fmt: skip
REGION = "330784"  # 永康市


@dataclass
class Entry:
    """One position of the change feed: a subject version, or a document fault."""

    subject: ET.Element | None = None
    fault: str | None = None
    malformed: bool = False
    doses: int = 0


@dataclass
class State:
    feed: list[Entry]
    token: str
    faults: set[str]
    rng: random.Random
    children: int = 0
    requests: int = 0
    burst: int = 0
    served_faults: dict[str, int] = field(default_factory=dict)
    latest_doses: dict[str, int] = field(default_factory=dict)  # subject id -> doses now

    def stats(self) -> dict[str, Any]:
        subjects = [e for e in self.feed if e.subject is not None]
        bad = sum(1 for e in subjects if e.malformed)
        docs = [e for e in self.feed if e.fault]
        return {
            "total": len(subjects),
            "valid": len(subjects) - bad,
            "malformed": bad,
            "fault_documents": len(docs),
            "fault_documents_by_kind": {
                k: sum(1 for e in docs if e.fault == k) for k in DOC_FAULTS
            },
            "children": self.children,
            "vaccinations": sum(self.latest_doses.values()),
            "positions": len(self.feed),
            "requests": self.requests,
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


def _history(rng: random.Random, born: dt.date, today: dt.date) -> list[tuple[str, dt.date]]:
    """Doses given by the schedule, a little late, some series stopped (missed)."""
    schedule = load_schedule()
    out: list[tuple[str, dt.date]] = []
    for series in schedule.series.values():
        path = series.paths[0]
        if len(series.paths) > 1 and rng.random() < 0.3:
            path = series.paths[1]
        previous: list[dt.date] = []
        for rule in path.doses:
            if rng.random() < 0.05:
                break  # missed: the rest of the series waits
            day = rule.min_age.after(born)
            for interval in rule.intervals:
                if interval.series is None and len(previous) >= interval.from_dose:
                    day = max(day, interval.minimum.after(previous[interval.from_dose - 1]))
            day += dt.timedelta(days=rng.choice([0, 0, 1, 3, 7, 14, 30]))
            if series.name == "MenAC" and day < dt.date(born.year + 3, born.month, 1):
                day = rule.min_age.after(born) + dt.timedelta(days=10)
            if day > today:
                break
            product = rule.products[0]
            out.append((product, day))
            previous.append(day)
    out.sort(key=lambda d: d[1])
    return out


def _subject(
    rng: random.Random, index: int, born: dt.date, doses: list[tuple[str, dt.date]],
    version: int, updated: dt.datetime, bad: str | None = None,
) -> ET.Element:  # fmt: skip
    sid = f"{REGION}{born:%Y}{index:06d}"
    r = random.Random(index)  # the same child in every version
    sex = r.choice("12")
    mother_born = dt.date(born.year - r.randint(22, 38), r.randint(1, 12), r.randint(1, 28))
    s = ET.Element("Subject", id=sid, version=str(version), updated=updated.isoformat())
    child = ET.SubElement(s, "Child", name=r.choice(SURNAMES) + r.choice(GIVEN) + r.choice(GIVEN),
                          sex=sex, birthDate=born.isoformat(),
                          birthCertificateNo=f"Q{330000000 + index:09d}",
                          certificateNo=f"JZ{REGION}{index:08d}",
                          address=f"浙江省永康市东城街道{r.randint(1, 300)}号")  # fmt: skip
    if r.random() < 0.7:
        child.set("idNumber", idnumber.make(REGION, born, (index * 2 + (sex == "2")) % 1000))
    ET.SubElement(s, "Guardian", name=r.choice(SURNAMES) + r.choice(GIVEN) + r.choice(GIVEN),
                  idNumber=idnumber.make(REGION, mother_born, 300 + index % 600),
                  phone=f"139{r.randint(10**7, 10**8 - 1)}", relation="mother")  # fmt: skip
    for n, (vaccine, day) in enumerate(doses, start=1):
        route, site = ROUTES.get(vaccine, ("SC", "上臂外侧三角肌"))
        v = ET.SubElement(s, "Vaccination", id=f"{sid}-{n:02d}", code=LOCAL[vaccine],
                          product=load_schedule().vaccine_names[vaccine],
                          dose=str(sum(1 for x, _ in doses[:n] if x == vaccine)),
                          date=day.isoformat(), lot=f"{day:%Y}{r.randint(1000, 9999)}",
                          manufacturer=r.choice(MAKERS),
                          traceCode="".join(r.choice("0123456789") for _ in range(20)),
                          site=site, route=route, unit=r.choice(UNITS))  # fmt: skip
        if r.random() < 0.03:
            ET.SubElement(s, "AdverseEvent", id=f"{sid}-aefi-{n}", vaccinationId=v.get("id", ""),
                          onset=(day + dt.timedelta(days=1)).isoformat(), reaction="发热",
                          severity="一般反应")  # fmt: skip
    if bad == "id":
        child.set("idNumber", idnumber.make(REGION, born, 7)[:-1] + "0")
        if idnumber.parse(child.get("idNumber")).valid:
            child.set("idNumber", child.get("idNumber", "")[:-1] + "1")
    elif bad == "date":
        child.set("birthDate", f"{born:%Y}/{born:%m}/{born:%d}")
    elif bad == "name":
        child.set("name", "")
    elif bad == "trace":
        ET.SubElement(s, "Vaccination", id=f"{sid}-99", code="0101", date=born.isoformat(),
                      traceCode="12345")  # fmt: skip
    return s


def generate(count: int, today: dt.date, seed: int, faults: set[str]) -> tuple[list[Entry], int]:
    rng = random.Random(seed)
    versions: list[tuple[dt.datetime, Entry]] = []
    t0 = dt.datetime.combine(
        today - dt.timedelta(days=30), dt.time(8), dt.timezone(dt.timedelta(hours=8))
    )
    for index in range(1, count + 1):
        born = today - dt.timedelta(days=rng.randint(0, 6 * 365 + 300))
        doses = _history(rng, born, today)
        cut = max(0, int(len(doses) * rng.uniform(0.4, 0.9)))
        stages = [doses[:cut], doses] if cut < len(doses) and rng.random() < 0.5 else [doses]
        for v, given in enumerate(stages, start=1):
            when = t0 + dt.timedelta(days=15 * (v - 1), seconds=index)
            versions.append(
                (when, Entry(_subject(rng, index, born, given, v, when), doses=len(given)))
            )
        if "malformed" in faults and rng.random() < 0.02:
            bad = rng.choice(["id", "date", "name", "trace"])
            when = t0 + dt.timedelta(days=20, seconds=index)
            versions.append(
                (when, Entry(_subject(rng, index, born, doses, 9, when, bad), malformed=True))
            )
    versions.sort(key=lambda pair: pair[0])
    feed = [entry for _, entry in versions]
    docs = [f for f in DOC_FAULTS if f in faults]
    if docs:
        for position in range(len(feed) - 1, 0, -37):
            feed.insert(position, Entry(fault=docs[position % len(docs)]))
    return feed, count


BOMB = (
    b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'.encode()
        for i in range(1, 10)
    )
    + b"]>\n<VaccinationChanges>&lol9;</VaccinationChanges>"
)
XXE = (
    b'<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
    b'<VaccinationChanges><Subject id="&xxe;"/></VaccinationChanges>'
)
BROKEN = b'<?xml version="1.0" encoding="UTF-8"?>\n<VaccinationChanges next="x"><Subject id="1"'


def page(state: State, cursor: int, limit: int) -> tuple[bytes, int, bool]:
    feed = state.feed
    if cursor < len(feed) and feed[cursor].fault:
        kind = feed[cursor].fault or ""
        state.served_faults[kind] = state.served_faults.get(kind, 0) + 1
        body = {"xml": BROKEN, "bomb": BOMB, "xxe": XXE}[kind] + f"\n<!-- {cursor} -->".encode()
        return body, cursor + 1, cursor + 1 < len(feed)
    end = cursor
    while end < len(feed) and end - cursor < limit and not feed[end].fault:
        end += 1
    entries = feed[cursor:end]
    if "repeat" in state.faults and cursor > 0 and feed[cursor - 1].subject is not None:
        if state.rng.random() < 0.2:
            entries = [feed[cursor - 1], *entries]
    root = ET.Element("VaccinationChanges", cursor=str(cursor), next=str(end),
                      hasMore="true" if end < len(feed) else "false")  # fmt: skip
    for e in entries:
        assert e.subject is not None
        root.append(e.subject)
    if "gbk" in state.faults and state.rng.random() < 0.2:
        return ET.tostring(root, encoding="GBK", xml_declaration=True), end, end < len(feed)
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True), end, end < len(feed)


def create_app(state: State) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    def denied(request: Request) -> Response | None:
        token = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if token != state.token:
            return JSONResponse({"error": "invalid_token"}, status_code=401)
        return None

    async def changes(request: Request) -> Response:
        if (no := denied(request)) is not None:
            return no
        state.requests += 1
        f, rng = state.faults, state.rng
        if state.burst > 0:
            state.burst -= 1
            return Response("unavailable", status_code=503)
        if "5xx" in f and rng.random() < 0.05:
            state.burst = 2
            return Response("unavailable", status_code=503)
        if "429" in f and rng.random() < 0.05:
            return Response("slow down", status_code=429, headers={"Retry-After": "1"})
        if "timeout" in f and rng.random() < 0.02:
            await asyncio.sleep(4)
        try:
            cursor = max(0, int(request.query_params.get("cursor") or 0))
            limit = max(1, min(1000, int(request.query_params.get("limit") or 200)))
        except ValueError:
            return JSONResponse({"error": "bad_cursor"}, status_code=400)
        body, next_cursor, more = page(state, cursor, limit)
        headers = {"X-Next-Cursor": str(next_cursor), "X-Has-More": "true" if more else "false"}
        return Response(body, media_type="application/xml", headers=headers)

    async def stats(request: Request) -> Response:
        if (no := denied(request)) is not None:
            return no
        return JSONResponse({**state.stats(), "served_faults": state.served_faults})

    return Starlette(routes=[Route("/changes", changes), Route("/stats", stats)])


def build_state(args: argparse.Namespace) -> State:
    faults = parse_faults(args.faults)
    today = dt.date.fromisoformat(args.today) if args.today else dt.date.today()
    feed, children = generate(args.children, today, args.seed, faults)
    state = State(feed, args.token, faults, random.Random(args.seed), children)
    for e in feed:
        if e.subject is not None and not e.malformed:
            state.latest_doses[e.subject.get("id", "")] = e.doses
    return state


def main(argv: list[str] | None = None) -> int:
    fault_help = "; ".join(f"{k}: {v}" for k, v in FAULTS.items())
    p = argparse.ArgumentParser(
        prog="hub simulate immunization", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8091, help="0 picks a free port (printed)")
    p.add_argument("--token", default="immunization-demo-token", help="the bearer token it accepts")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--children", type=int, default=300, help="children 0-6 in the district")
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
    sock.listen(128)  # connections queue from now on, before the server loop starts
    server = uvicorn.Server(uvicorn.Config(create_app(state), log_level="warning"))
    s = state.stats()
    print(
        f"immunization simulator listening on http://{args.host}:{port} "
        f"({s['total']} subject versions, {s['children']} children, "
        f"faults: {','.join(sorted(state.faults)) or 'none'})",
        flush=True,
    )
    server.run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
