"""End to end: the real app (`hub serve`'s ASGI app under uvicorn, its MLLP listener
started with it), a plain MLLP client that is not the project's (python-hl7), and the
GraphQL API over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import hl7
import hl7.client
import httpx
import pytest

from tests.adapters.his_support import adt, id_number
from tests.conftest import Api, LiveServer, create_client_token


@pytest.fixture(scope="module")
def served(db_url: str) -> Iterator[tuple[LiveServer, int]]:
    from hub.app import build_hub, create_app
    from hub.settings import Settings

    settings = Settings(database_url=db_url, his_enabled=True, his_mllp_port=0)
    hub = build_hub(settings, database_url=db_url)
    with LiveServer(create_app(hub)) as server:
        yield server, hub.extras["his"].port


def exchange(port: int, message: bytes) -> tuple[str, str, list[str]]:
    """(MSA-1, MSA-2, ERR codes) of the answer, read with python-hl7 alone."""
    with hl7.client.MLLPClient("127.0.0.1", port) as client:
        raw = client.send_message(message)
    answer = hl7.parse(raw.strip(b"\x0b\x1c\r").decode("utf-8"))
    msa = answer.segment("MSA")
    errs = [str(seg[5][0][0]) for seg in answer if str(seg[0]) == "ERR"]
    return str(msa[1]), str(msa[2]), errs


def source_records(db_url: str, mr: str) -> int:
    from sqlalchemy import text

    from hub.db import Database

    async def count() -> int:
        db = Database(db_url)
        try:
            async with db.reader() as session:
                return int(
                    (
                        await session.execute(
                            text(
                                "select count(*) from source_record where source='his' and source_id=:mr"
                            ),
                            {"mr": mr},
                        )
                    ).scalar_one()
                )
        finally:
            await db.dispose()

    return asyncio.run(count())


def test_a04_over_mllp_then_found_over_graphql(served: tuple[LiveServer, int], db_url: str) -> None:
    server, port = served
    number = id_number(701)
    message = adt("A04", "E2E-0001", "MRE2E1", number, name="陈国强")

    assert exchange(port, message)[:2] == ("AA", "E2E-0001")
    assert exchange(port, message)[:2] == ("AA", "E2E-0001")  # the same again: AA ...
    assert source_records(db_url, "MRE2E1") == 1  # ... and no second source record

    broken = message.replace(b"MRE2E1^^^PYZXYY^MR~", b"").replace(b"E2E-0001", b"E2E-0002")
    code, control_id, errors = exchange(port, broken)
    assert (code, control_id) == ("AE", "E2E-0002") and "MISSING_PATIENT_ID" in errors
    assert exchange(port, b"MSH|garbage")[0] == "AR"
    good = adt("A04", "E2E-0003", "MRE2E3", id_number(703), name="陈小红", sex="F")
    assert exchange(port, good)[:2] == ("AA", "E2E-0003")  # the next good one goes through

    token = create_client_token(db_url, "e2e-his-reader", ["residents:read", "residents:pii"])
    found = Api(server.url, token)(
        """query($v: String!) { residentByIdentifier(system: ID_CARD, value: $v) {
             name sourceRecords { source sourceId } } }""",
        {"v": number},
    )["residentByIdentifier"]
    assert found["name"] == "陈国强"
    assert {"source": "his", "sourceId": "MRE2E1"} in found["sourceRecords"]


def test_operators_see_the_adapter(served: tuple[LiveServer, int], db_url: str) -> None:
    server, port = served
    exchange(port, adt("A04", "E2E-0101", "MRE2E101", id_number(711)))
    token = create_client_token(db_url, "e2e-his-operator", ["admin"])
    api = Api(server.url, token)
    status: Any = api(
        '{ adapterStatus(name: "his") { name enabled received applied '
        "duplicates failed deadLettered lagSeconds } }"
    )["adapterStatus"][0]
    assert status["name"] == "his" and status["enabled"] is True
    assert status["received"] >= 1 and status["applied"] >= 1
    letters = api('{ deadLetters(adapter: "his") { id status errorCode ack } }')["deadLetters"]
    assert all(d["status"] in ("REJECTED", "DEAD") for d in letters)
    metrics = httpx.get(f"{server.url}/metrics", headers={"Authorization": f"Bearer {token}"})
    assert metrics.status_code == 200
    assert 'hub_adapter_received_total{adapter="his"}' in metrics.text
    reader = create_client_token(db_url, "e2e-his-nosy", ["residents:read"])
    assert (
        httpx.get(
            f"{server.url}/metrics", headers={"Authorization": f"Bearer {reader}"}
        ).status_code
        == 403
    )
