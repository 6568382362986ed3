"""Helpers for the HIS adapter tests: messages, a running adapter, database counts."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import func, select, text

from adapters.his.adapter import HisService
from adapters.his.settings import HisSettings
from hub.registry.idnumber import make

FAST = HisSettings(park_seconds=1.0, backoff_base=0.05, backoff_cap=0.3, max_attempts=6)


def id_number(seq: int, born: dt.date = dt.date(1958, 3, 14)) -> str:
    return make("440113", born, seq)


def adt(event: str, cid: str, mr: str, number: str | None, *, name: str = "王建国",
        birth: str = "19580314", sex: str = "M", phone: str = "13800138000",
        when: str = "20260105080000", address: str = "市桥街道繁华路1号^^广州市^广东省",
        charset: str = "UNICODE UTF-8") -> bytes:  # fmt: skip
    ids = f"{mr}^^^PYZXYY^MR" + (f"~{number}^^^CHN^NNCHN" if number else "")
    lines = [
        f"MSH|^~\\&|HIS|PYZXYY|FDHUB|FDHUB|{when}||ADT^{event}^ADT_A01|{cid}|P|2.5|||AL|NE|CHN|"
        f"{charset}",
        f"EVN|{event}|{when}",
        f"PID|1||{ids}||{name}^^^^^^L||{birth}|{sex}|||{address}||{phone}^PRN^CP",
        "PV1|1|O",
    ]
    return ("\r".join(lines) + "\r").encode("utf-8" if "UTF" in charset else "gb18030")


def a40(cid: str, survivor: str, prior: str, when: str = "20260106080000") -> bytes:
    lines = [
        f"MSH|^~\\&|HIS|PYZXYY|FDHUB|FDHUB|{when}||ADT^A40^ADT_A39|{cid}|P|2.5",
        f"EVN|A40|{when}",
        f"PID|1||{survivor}^^^PYZXYY^MR||王建国",
        f"MRG|{prior}^^^PYZXYY^MR",
    ]
    return ("\r".join(lines) + "\r").encode()


def oru(cid: str, mr: str, *, systolic: int = 150, diastolic: int = 95, glucose: float = 7.2,
        extra: str = "", when: str = "20260107093000") -> bytes:  # fmt: skip
    lines = [
        f"MSH|^~\\&|HIS|PYZXYY|FDHUB|FDHUB|{when}||ORU^R01^ORU_R01|{cid}|P|2.5",
        f"PID|1||{mr}^^^PYZXYY^MR||王建国",
        f"OBR|1||{cid}BP|85354-9^Blood pressure panel^LN|||{when}",
        f"OBX|1|NM|8480-6^Systolic blood pressure^LN|1|{systolic}|mm[Hg]|||||F",
        f"OBX|2|NM|8462-4^Diastolic blood pressure^LN|1|{diastolic}|mm[Hg]|||||F",
        f"OBR|2||{cid}GLU|GLU^空腹血糖^L|||{when}",
        f"OBX|1|NM|14771-0^Fasting glucose^LN||{glucose}|mmol/L|||||F",
        "OBX|2|NM|HBA1C^糖化血红蛋白^L||6.8|%|||||F",
    ]
    if extra:
        lines.append(extra)
    return ("\r".join(lines) + "\r").encode()


@asynccontextmanager
async def running(hub: Any, settings: HisSettings = FAST) -> AsyncIterator[HisService]:
    service = HisService(hub, port=0, settings=settings)
    await service.start()
    try:
        yield service
    finally:
        await service.stop()


async def scalar(hub: Any, sql: str, **params: Any) -> Any:
    async with hub.db.reader() as session:
        return (await session.execute(text(sql), params)).scalar()


async def settle(hub: Any, *, timeout: float = 30.0) -> None:
    """Wait until no message is pending (parked ones woken and applied, retries done)."""
    from adapters.runtime.models import PENDING, InboundMessage

    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        async with hub.db.reader() as session:
            pending = await session.scalar(
                select(func.count()).where(InboundMessage.status.in_(PENDING))
            )
        if not pending:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{pending} messages still pending")
        await asyncio.sleep(0.1)
