"""Idle connections cannot lock the MLLP listener: per-peer limit, a short timeout before
the first message, silent connections evicted when the server is full. Real sockets, only
on 127.x addresses (Linux routes all of 127.0.0.0/8 to the loopback)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from structlog.testing import capture_logs

from adapters.his.mllp import END, START, MllpServer
from adapters.his.translate import parse_ack
from adapters.runtime import metrics
from tests.adapters.his_support import FAST, adt, id_number, running
from tests.adapters.test_his_mllp import PlainClient, a04, translating_handler

Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def connect(port: int, source: str = "127.0.0.1") -> Conn:
    return await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))


@asynccontextmanager
async def idle(port: int, sources: Iterable[str]) -> AsyncIterator[list[Conn]]:
    """Connections that send nothing, one per entry of `sources` (a local address)."""
    conns = [await connect(port, s) for s in sources]
    try:
        yield conns
    finally:
        for _, writer in conns:
            writer.close()
        for _, writer in conns:
            try:
                await writer.wait_closed()
            except OSError:
                pass


async def until(condition: Any, what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        await asyncio.sleep(0.01)


async def closed_by_server(conn: Conn, timeout: float = 2.0) -> bool:
    try:
        async with asyncio.timeout(timeout):
            return await conn[0].read() == b""
    except ConnectionError:
        return True


async def exchange(conn: Conn, message: bytes) -> tuple[str, str]:
    reader, writer = conn
    writer.write(START + message + END)
    await writer.drain()
    async with asyncio.timeout(3):
        await reader.readexactly(1)
        body = await reader.readuntil(END)
    ack = parse_ack(body[:-2])
    return ack.code, ack.control_id


def addresses(count: int, per_peer: int) -> list[str]:
    """`count` local addresses, `per_peer` per 127.0.0.x, starting at 127.0.0.2."""
    return [f"127.0.0.{2 + i // per_peer}" for i in range(count)]


async def test_256_idle_connections_from_the_loopback_do_not_stop_a_real_sender() -> None:
    """The brief's lock-out: 256 idle connections (the global limit) from 127.0.0.1, then a
    real sender from 127.0.0.1 still gets its ACK; the oldest silent one made room."""
    srv = MllpServer(translating_handler, max_connections_per_peer=1000)
    async with srv, idle(srv.port, ["127.0.0.1"] * 256) as conns:
        await until(lambda: srv.open_connections == 256, "256 open connections")
        with capture_logs() as logs:
            sender = await PlainClient.connect(srv.port)
            assert await sender.exchange(adt("A04", "REAL-1", "MR1", id_number(1))) == (
                "AA",
                "REAL-1",
            )
        assert srv.refused["evicted_silent"] == 1 and srv.open_connections == 256
        assert await closed_by_server(conns[0])  # the oldest silent connection went
        evicted = [e for e in logs if e["event"] == "mllp.connection_evicted"]
        assert evicted and evicted[0]["reason"] == "evicted_silent"
        assert evicted[0]["peer"] == "127.0.0.1" and evicted[0]["received_bytes"] == 0
        assert not any("REAL-1" in repr(e) or "MSH" in repr(e) for e in logs)  # no content
        # the sender keeps its connection (it spoke): more silent newcomers do not evict it
        async with idle(srv.port, ["127.0.0.1"] * 5):
            await until(lambda: srv.refused["evicted_silent"] == 6, "five more evictions")
            assert await sender.exchange(a04("REAL-2")) == ("AA", "REAL-2")
        await sender.close()


async def test_idle_connections_beyond_the_per_peer_limit_do_not_stop_a_real_sender() -> None:
    """Default limits (256, 64 per peer): four other peers fill the server with silent
    connections; the real sender gets in and is answered."""
    srv = MllpServer(translating_handler)
    assert (srv.max_connections, srv.max_connections_per_peer) == (256, 64)
    async with srv, idle(srv.port, addresses(256, 64)):
        await until(lambda: srv.open_connections == 256, "256 open connections")
        assert srv.senders == 0
        sender = await PlainClient.connect(srv.port)
        assert await sender.exchange(a04("REAL-3")) == ("AA", "REAL-3")
        assert srv.refused == {"evicted_silent": 1} and srv.senders == 1
        await sender.close()


async def test_a_full_server_of_senders_refuses_a_newcomer_and_counts_it() -> None:
    srv = MllpServer(translating_handler, max_connections=3)
    async with srv:
        senders = [await connect(srv.port) for _ in range(3)]
        for n, conn in enumerate(senders):
            assert await exchange(conn, a04(f"S{n}")) == ("AA", f"S{n}")
        with capture_logs() as logs:
            late = await connect(srv.port)
            assert await closed_by_server(late)
        assert srv.refused == {"server_full": 1}
        assert [e["reason"] for e in logs if e["event"] == "mllp.connection_refused"] == [
            "server_full"
        ]
        for n, conn in enumerate(senders):  # nobody who spoke was evicted
            assert await exchange(conn, a04(f"T{n}")) == ("AA", f"T{n}")
            conn[1].close()
        late[1].close()


async def test_connections_beyond_the_per_peer_limit_are_refused_and_counted() -> None:
    before = metrics.MLLP_REFUSED["peer_limit"]
    srv = MllpServer(
        translating_handler, max_connections_per_peer=3, on_refused=metrics.count_mllp_refused
    )
    async with srv, idle(srv.port, ["127.0.0.3"] * 3):
        await until(lambda: srv.open_connections == 3, "three connections")
        with capture_logs() as logs:
            extra = [await connect(srv.port, "127.0.0.3") for _ in range(2)]
            for conn in extra:
                assert await closed_by_server(conn)
        assert srv.refused == {"peer_limit": 2} and srv.open_connections == 3
        refused = [e for e in logs if e["event"] == "mllp.connection_refused"]
        assert [(e["peer"], e["reason"]) for e in refused] == [("127.0.0.3", "peer_limit")] * 2
        # another peer is not affected
        other = await connect(srv.port, "127.0.0.4")
        assert await exchange(other, a04("P1")) == ("AA", "P1")
        other[1].close()
        for _, writer in extra:
            writer.close()
    assert metrics.MLLP_REFUSED["peer_limit"] == before + 2
    text = metrics.render([])
    assert "# TYPE hub_mllp_connections_refused_total counter" in text
    assert f'hub_mllp_connections_refused_total{{reason="peer_limit"}} {before + 2}' in text
    assert 'hub_mllp_connections_refused_total{reason="evicted_silent"}' in text


async def test_a_connection_silent_before_its_first_message_is_closed_soon() -> None:
    srv = MllpServer(translating_handler, first_message_timeout=0.3, idle_timeout=30)
    async with srv:
        loop = asyncio.get_running_loop()
        started = loop.time()
        with capture_logs() as logs:
            silent = await connect(srv.port)
            assert await closed_by_server(silent, timeout=3)
        assert 0.25 <= loop.time() - started < 2
        assert srv.refused == {"first_message_timeout": 1}
        assert [e["event"] for e in logs if e.get("reason") == "first_message_timeout"] == [
            "mllp.connection_silent"
        ]
        # junk outside a frame does not buy more time
        junk = await connect(srv.port)
        junk[1].write(b"hello\r")
        await junk[1].drain()
        assert await closed_by_server(junk, timeout=3)
        # after a first message the long idle timeout applies between messages
        talker = await connect(srv.port)
        assert await exchange(talker, a04("L1")) == ("AA", "L1")
        await asyncio.sleep(0.6)
        assert await exchange(talker, a04("L2")) == ("AA", "L2")
        talker[1].close()
        silent[1].close()
        junk[1].close()


async def test_the_his_service_applies_its_settings_and_feeds_the_metric(hub: Any) -> None:
    settings = FAST.model_copy(update={"max_connections_per_peer": 2, "first_message_timeout": 5})
    before = metrics.MLLP_REFUSED["peer_limit"]
    async with running(hub, settings) as his:
        server = his.server
        assert (server.max_connections_per_peer, server.first_message_timeout) == (2, 5)
        async with idle(his.port, ["127.0.0.5"] * 3) as conns:
            assert await closed_by_server(conns[2])
        sender = await PlainClient.connect(his.port)
        assert await sender.exchange(adt("A04", "SVC-1", "MR9001", id_number(901))) == (
            "AA",
            "SVC-1",
        )
        await sender.close()
    assert metrics.MLLP_REFUSED["peer_limit"] == before + 1


@pytest.mark.parametrize("field", ["max_connections_per_peer", "first_message_timeout"])
def test_the_settings_come_from_the_environment(
    field: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from adapters.his.settings import HisSettings

    monkeypatch.setenv(f"HUB_HIS_{field.upper()}", "7")
    assert getattr(HisSettings(), field) == 7
