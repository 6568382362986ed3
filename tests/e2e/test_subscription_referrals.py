"""referralEvents over a real WebSocket (graphql-transport-ws), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from hub.app import build_hub, create_app
from tests.conftest import LiveServer
from tests.e2e.test_referral_support import (
    DAY,
    World,
    accept,
    act,
    build_world,
    complete,
    publish,
)


@pytest.fixture(scope="module")
def world(live: LiveServer, db_url: str) -> World:
    return build_world(live, db_url)


SUBSCRIBE = """subscription($org: ID) { referralEvents(organizationId: $org) {
  eventId type status previousStatus referralId at
  referral { id status direction resident { residentId } } } }"""
GUARD = 60  # seconds a receive may block before the test fails (a hang guard, not a check)


@contextmanager
def socket(url: str, token: str | None, *, header: bool = False) -> Iterator[ClientConnection]:
    """An acknowledged graphql-transport-ws connection."""
    headers = {"Authorization": f"Bearer {token}"} if header and token else None
    ws = connect(
        url.replace("http://", "ws://") + "/graphql",
        subprotocols=["graphql-transport-ws"],
        additional_headers=headers,
        open_timeout=GUARD,
    )  # type: ignore[list-item]
    try:
        payload = {"Authorization": f"Bearer {token}"} if token and not header else {}
        ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        yield ws
    finally:
        ws.close()


def ack(ws: ClientConnection) -> None:
    message = json.loads(ws.recv(timeout=GUARD))
    assert message["type"] == "connection_ack", message


def subscribe(ws: ClientConnection, op: str, org: str | None = None) -> None:
    ws.send(
        json.dumps(
            {
                "id": op,
                "type": "subscribe",
                "payload": {"query": SUBSCRIBE, "variables": {"org": org}},
            }
        )
    )


def events(ws: ClientConnection) -> Iterator[dict[str, Any]]:
    """The subscription's events, as they come."""
    while True:
        message = json.loads(ws.recv(timeout=GUARD))
        if message["type"] == "ping":
            ws.send(json.dumps({"type": "pong"}))
            continue
        assert message["type"] == "next", message
        assert not message["payload"].get("errors"), message
        yield message["payload"]["data"]["referralEvents"]


def test_a_subscriber_connected_before_the_referral_gets_every_transition(world: World) -> None:
    team, h2 = world.team_client("JL-CHC"), world.hospital("JL-H2")
    publish(h2, "JL-H2", DAY, "心内科", 10, 4)
    world.hospital("JL-HX")  # registers the other hospital's client
    with (
        socket(world.live.url, world.tokens["hospital-JL-H2"]) as ws,
        socket(world.live.url, world.tokens["hospital-JL-HX"]) as other,
    ):
        ack(ws)
        ack(other)
        subscribe(ws, "h2", "JL-H2")
        subscribe(other, "hx")  # all of its own organization's referrals
        rid = world.received(team, h2, "sub-1")
        assert accept(h2, rid, {"kind": "EXPERT_SLOT", "date": DAY.isoformat()})["userErrors"] == []
        assert act(h2, "arrive", rid)["userErrors"] == []
        down = complete(h2, rid, "门诊诊治完毕")["downReferral"]["id"]

        got: list[dict[str, Any]] = []
        for event in events(ws):
            if event["referralId"] in (rid, down):
                got.append(event)
            if event["referralId"] == down:
                break
        mine = [
            (e["previousStatus"], e["status"], e["type"]) for e in got if e["referralId"] == rid
        ]
        assert mine == [
            (None, "REQUESTED", "referral.requested"),
            ("REQUESTED", "RECEIVED", "referral.received"),
            ("RECEIVED", "ACCEPTED", "referral.accepted"),
            ("ACCEPTED", "ARRIVED", "referral.arrived"),
            ("ARRIVED", "COMPLETED", "referral.completed"),
        ]
        assert got[-1]["type"] == "referral.requested"
        assert got[-1]["referral"]["direction"] == "DOWN"
        assert all(e["referral"]["id"] == rid for e in got[:-1])
        assert len({e["eventId"] for e in got}) == len(got)
        assert [e["at"] for e in got] == sorted(e["at"] for e in got)

        # showing the resident in a push is a read of personal data: audited like any other
        resident = got[0]["referral"]["resident"]["residentId"]
        wait_for_audit(world, "hospital-JL-H2", str(resident))

        # the other hospital was told nothing of it: its first event is its own referral
        marker = world.refer(team, "sub-marker", to="JL-HX")["referral"]["id"]
        first = next(events(other))
        assert first["referralId"] == marker and first["type"] == "referral.requested"


def wait_for_audit(world: World, client: str, resident_id: str) -> None:
    """Audit rows are written by a background writer: wait for this one (with a guard)."""
    import asyncio
    import time

    from sqlalchemy import select

    from hub.access.models import AuditEvent
    from hub.db import Database

    async def operations() -> set[str]:
        db = Database(world.db_url)
        try:
            async with db.reader() as s:
                rows = await s.scalars(select(AuditEvent).where(AuditEvent.action == "READ"))
                return {
                    a.operation
                    for a in rows
                    if a.actor.startswith(client) and resident_id in a.resident_ids
                }
        finally:
            await db.dispose()

    deadline = time.monotonic() + GUARD
    while time.monotonic() < deadline:
        if "resident" in asyncio.run(operations()):
            return
        time.sleep(0.1)
    raise AssertionError("the pushed resident was never audited")


def test_a_bound_client_cannot_subscribe_to_another_organization(world: World) -> None:
    world.hospital("JL-HX")
    with socket(world.live.url, world.tokens["hospital-JL-HX"]) as ws:
        ack(ws)
        subscribe(ws, "1", "JL-H2")
        message = json.loads(ws.recv(timeout=GUARD))
        errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
        assert errors[0]["extensions"]["code"] == "FORBIDDEN"


def test_the_token_is_checked_before_the_connection_is_acknowledged(world: World) -> None:
    with socket(world.live.url, "hub_not-a-token") as ws:
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=GUARD)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
    with socket(world.live.url, None) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=GUARD)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
    # the bearer token may also come as a header of the upgrade request
    world.hospital("JL-H2")
    with socket(world.live.url, world.tokens["hospital-JL-H2"], header=True) as ws:
        ack(ws)


def test_subscriptions_work_across_server_processes(world: World, db_url: str) -> None:
    """A second server on the same database pushes what the first one committed."""
    team, h2 = world.team_client("JL-CHC"), world.hospital("JL-H2")
    with LiveServer(create_app(build_hub(database_url=db_url))) as second:
        with socket(second.url, world.tokens["hospital-JL-H2"]) as ws:
            ack(ws)
            subscribe(ws, "x", "JL-H2")
            rid = world.received(team, h2, "cross-1")  # through the first server
            seen = []
            for event in events(ws):
                if event["referralId"] == rid:
                    seen.append(event["status"])
                if seen == ["REQUESTED", "RECEIVED"]:
                    break
            assert seen == ["REQUESTED", "RECEIVED"]
