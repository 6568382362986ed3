"""Shared set-up for the maternal-child adapter tests: the simulator as a real separate
process, records written by hand, and feeding them through the adapter runtime."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import httpx

from adapters.maternal.settings import MaternalSettings

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CST = dt.timezone(dt.timedelta(hours=8))
TODAY = dt.date.today()
TOKEN = "maternal-test-token"


@contextmanager
def simulator(*args: str, token: str = TOKEN) -> Iterator[str]:
    """`hub simulate maternal` in its own process on a free port; yields its URL."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "adapters.maternal.simulator",
            "--port",
            "0",
            "--token",
            token,
            *args,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        found = re.search(r"http://127\.0\.0\.1:\d+", line)
        assert found, f"simulator did not start: {line!r}"
        yield found.group(0)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def access(url: str, token: str = TOKEN) -> httpx.Client:
    r = httpx.post(f"{url}/token", headers={"Authorization": f"Bearer {token}"})
    r.raise_for_status()
    bearer = r.json()["access_token"]
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {bearer}"}, timeout=10)


def stats(url: str) -> dict[str, Any]:
    with access(url) as c:
        out: dict[str, Any] = c.get("/stats").json()
        return out


def pushes(url: str) -> list[dict[str, Any]]:
    with access(url) as c:
        out: list[dict[str, Any]] = c.get("/signing-status").json()
        return out


def fast_settings(url: str, **kw: Any) -> MaternalSettings:
    base = dict(
        url=url,
        token=TOKEN,
        page_size=50,
        timeout=1.0,
        backoff_base=0.02,
        backoff_cap=0.2,
        poll_seconds=0.1,
    )
    return MaternalSettings(**{**base, **kw})


_seq = iter(range(1, 10**6))


def record(
    kind: str,
    data: dict[str, Any],
    *,
    rid: str | None = None,
    version: int = 1,
    deleted: bool = False,
    when: dt.datetime | None = None,
) -> dict[str, Any]:
    when = when or dt.datetime.now(CST) - dt.timedelta(hours=1)
    return {
        "id": rid or f"T{next(_seq):07d}",
        "kind": kind,
        "version": version,
        "deleted": deleted,
        "updated_at": when.isoformat(timespec="seconds"),
        "data": data,
    }


def days(n: int) -> dt.date:
    return TODAY - dt.timedelta(days=n)


def registration(handbook: str, mother: Any, *, lmp: dt.date) -> dict[str, Any]:
    return record(
        "pregnancy_registration",
        {
            "handbook_no": handbook,
            "mother_name": mother.name,
            "mother_id_number": mother.id_number,
            "mother_phone": (mother.phones or [None])[0],
            "address": mother.address_text,
            "lmp": lmp.isoformat(),
            "edd": (lmp + dt.timedelta(days=280)).isoformat(),
            "gravidity": 1,
            "parity": 0,
            "institution": "YKFYBJY",
            "registered_on": (lmp + dt.timedelta(weeks=10)).isoformat(),
            "registered_week": 10,
        },
    )


def prenatal(handbook: str, day: dt.date, week: int, colour: str = "绿") -> dict[str, Any]:
    return record(
        "prenatal_visit",
        {
            "handbook_no": handbook,
            "visit_date": day.isoformat(),
            "gestational_week": week,
            "institution": "YKJNSQ",
            "risk_colour": colour,
            "systolic": 118,
            "diastolic": 76,
            "weight_kg": 61.5,
            "findings": "",
        },
    )


def delivery(
    handbook: str, day: dt.date, *, discharged: dt.date | None, babies: int = 1
) -> dict[str, Any]:
    at = dt.datetime.combine(day, dt.time(3, 20), CST)
    return record(
        "delivery",
        {
            "handbook_no": handbook,
            "delivered_at": at.isoformat(),
            "institution": "YKFYBJY",
            "mode": "顺产",
            "discharge_date": discharged.isoformat() if discharged else None,
            "outcome": "活产",
            "babies": babies,
        },
    )


def birth(
    handbook: str,
    cert: str,
    mother: Any,
    day: dt.date,
    *,
    order: int = 1,
    sex: str = "2",
    name: str = "",
    child_id: str | None = None,
    rid: str | None = None,
    version: int = 1,
) -> dict[str, Any]:
    at = dt.datetime.combine(day, dt.time(3, 20 + order), CST)
    data = {
        "handbook_no": handbook,
        "certificate_no": cert,
        "child_name": name,
        "sex": sex,
        "born_at": at.isoformat(),
        "birth_weight_g": 2600,
        "mother_name": mother.name,
        "mother_id_number": mother.id_number,
        "father_name": None,
        "birthplace": "YKFYBJY",
        "birth_order": order,
    }
    if child_id:
        data["child_id_number"] = child_id
    return record("birth_certificate", data, rid=rid, version=version)


async def feed(hub: Any, records: Sequence[dict[str, Any]]) -> list[Any]:
    """Log and apply records through the runtime, as the pull loop does."""
    from adapters.maternal.adapter import build_adapter
    from adapters.maternal.translate import encode
    from adapters.runtime.db import writing
    from adapters.runtime.process import Item, ingest
    from adapters.runtime.types import Backoff

    adapter = build_adapter(hub, MaternalSettings())
    async with writing(hub.db) as session:
        return await ingest(
            session,
            adapter,
            [Item(encode(r)) for r in records],
            now=dt.datetime.now(dt.UTC),
            backoff=Backoff(0.01, 0.1, 3),
        )


def dumps(x: Any) -> str:
    return json.dumps(x, ensure_ascii=False)
