"""MLLP over real sockets on 127.0.0.1: framing edge cases, bad connections, the client."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncIterator

import pytest

from adapters.his.mllp import (
    END,
    START,
    FrameDecoder,
    FrameTooLarge,
    MllpClient,
    MllpConnectionError,
    MllpServer,
    MllpTimeout,
)
from adapters.his.translate import HL7Error, PersonRecord, build_ack, parse, parse_ack

A04 = (
    "MSH|^~\\&|HIS|PYZXYY|FDHUB|FDHUB|20260105083000||ADT^A04^ADT_A01|{cid}|P|2.5|||AL|NE|CHN|"
    "UNICODE UTF-8\rEVN|A04|20260105083000\r"
    "PID|1||PY001^^^PYZXYY^MR~440113199001011234^^^CHN^NNCHN||张伟^^^^^^L||19900101|M\r"
)


def a04(cid: str) -> bytes:
    return A04.format(cid=cid).encode()


# ------------------------------------------------------------------ the deframer


def test_decoder_handles_junk_split_and_several_frames() -> None:
    dropped: list[tuple[bytes, str]] = []
    d = FrameDecoder(on_discard=lambda data, why: dropped.append((data, why)))
    assert d.feed(b"junk" + START + b"one" + END + START + b"tw") == [b"one"]
    assert d.in_frame
    assert d.feed(b"o" + END[:1]) == [b"two"]  # a lone <FS>: the <CR> comes later
    assert d.feed(b"\r" + START + b"three" + END + START + b"four" + END) == [b"three", b"four"]
    assert dropped == [(b"junk", "bytes outside an MLLP frame")]


def test_decoder_drops_a_frame_cut_short_by_a_new_start_block() -> None:
    dropped: list[str] = []
    d = FrameDecoder(on_discard=lambda data, why: dropped.append(why))
    assert d.feed(START + b"half of a mess") == []
    assert d.feed(START + b"whole" + END) == [b"whole"]
    assert dropped == ["frame cut short by a new start block"]


def test_decoder_byte_by_byte() -> None:
    d = FrameDecoder()
    wire = START + a04("B1") + END
    frames = [f for i in range(len(wire)) for f in d.feed(wire[i : i + 1])]
    assert frames == [a04("B1")]


def test_decoder_limits_frame_size() -> None:
    d = FrameDecoder(max_message_bytes=100)
    with pytest.raises(FrameTooLarge):
        d.feed(START + b"x" * 200)
    assert not d.in_frame


# --------------------------------------------------------------- server fixtures


async def translating_handler(raw: bytes) -> bytes:
    """What the hub's handler does at this layer: translate, answer AA/AE/AR."""
    try:
        record = parse(raw)
    except HL7Error as err:
        return build_ack(raw, error=err)
    return build_ack(raw, warnings=record.issues)


@pytest.fixture
async def server() -> AsyncIterator[MllpServer]:
    srv = MllpServer(translating_handler, "127.0.0.1", 0, frame_timeout=0.5, idle_timeout=5)
    await srv.start()
    yield srv
    await srv.stop()


class PlainClient:
    """A hand-written MLLP client, independent of the project's MllpClient."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, port: int) -> PlainClient:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def write(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def read_frame(self, timeout: float = 3.0) -> bytes:
        async with asyncio.timeout(timeout):
            head = await self.reader.readexactly(1)
            assert head == b"\x0b"
            body = await self.reader.readuntil(b"\x1c\r")
        return body[:-2]

    async def exchange(self, message: bytes) -> tuple[str, str]:
        await self.write(b"\x0b" + message + b"\x1c\r")
        ack = parse_ack(await self.read_frame())
        return ack.code, ack.control_id

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


async def test_plain_client_gets_aa_with_msa_2_echoing_msh_10(server: MllpServer) -> None:
    client = await PlainClient.connect(server.port)
    assert await client.exchange(a04("HAND-0001")) == ("AA", "HAND-0001")
    assert isinstance(parse(a04("HAND-0001")), PersonRecord)
    await client.close()


async def test_malformed_then_good_on_the_same_and_a_new_connection(server: MllpServer) -> None:
    client = await PlainClient.connect(server.port)
    assert await client.exchange(b"not hl7 at all") == ("AR", "")
    no_mr = a04("BAD-1").replace(b"PY001^^^PYZXYY^MR~", b"")
    assert await client.exchange(no_mr) == ("AE", "BAD-1")
    gbk = a04("BAD-2").decode().encode("gb18030")  # labelled UTF-8
    assert await client.exchange(gbk) == ("AR", "BAD-2")
    assert await client.exchange(a04("GOOD-1")) == ("AA", "GOOD-1")
    other = await PlainClient.connect(server.port)
    assert await other.exchange(a04("GOOD-2")) == ("AA", "GOOD-2")
    await client.close()
    await other.close()


async def test_junk_split_reads_and_several_messages_in_one_write(server: MllpServer) -> None:
    client = await PlainClient.connect(server.port)
    await client.write(b"\r\nGET / HTTP/1.1\r\n" + START + a04("J1") + END)
    assert parse_ack(await client.read_frame()).control_id == "J1"
    wire = START + a04("S1") + END
    for i in range(0, len(wire), 7):  # a message split across many reads
        await client.write(wire[i : i + 7])
        await asyncio.sleep(0.001)
    assert parse_ack(await client.read_frame()).control_id == "S1"
    await client.write(b"".join(START + a04(f"M{i}") + END for i in range(5)))
    assert [parse_ack(await client.read_frame()).control_id for _ in range(5)] == [
        f"M{i}" for i in range(5)
    ]
    await client.close()


async def test_missing_end_block_times_out_without_hurting_others() -> None:
    dropped: list[str] = []
    srv = MllpServer(translating_handler, frame_timeout=0.3,
                     on_discard=lambda data, why: dropped.append(why))  # fmt: skip
    async with srv:
        stuck = await PlainClient.connect(srv.port)
        await stuck.write(START + a04("NO-END"))  # and never the end block
        healthy = await PlainClient.connect(srv.port)
        assert await healthy.exchange(a04("H1")) == ("AA", "H1")
        async with asyncio.timeout(3):
            assert await stuck.reader.read() == b""  # the server closed the stuck one
        assert dropped == ["no end block before the frame timeout"]
        assert await healthy.exchange(a04("H2")) == ("AA", "H2")
        await healthy.close()
        await stuck.close()


async def test_trickling_frame_is_bounded_as_a_whole() -> None:
    async with MllpServer(translating_handler, frame_timeout=0.4) as srv:
        slow = await PlainClient.connect(srv.port)
        await slow.write(START)
        with pytest.raises((ConnectionError, asyncio.IncompleteReadError, TimeoutError)):
            async with asyncio.timeout(3):
                for byte in a04("SLOW"):  # each read is quick, the frame never ends in time
                    await slow.write(bytes([byte]))
                    await asyncio.sleep(0.02)
                await slow.read_frame()
        slow.writer.close()


async def test_connection_reset_mid_frame_leaves_the_server_serving(server: MllpServer) -> None:
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall(START + a04("RST")[:40])
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()  # RST, not FIN
    await asyncio.sleep(0.05)
    client = await PlainClient.connect(server.port)
    assert await client.exchange(a04("AFTER-RST")) == ("AA", "AFTER-RST")
    await client.close()


async def test_client_going_away_before_its_ack(server: MllpServer) -> None:
    for i in range(3):
        c = await PlainClient.connect(server.port)
        await c.write(START + a04(f"GONE{i}") + END)
        c.writer.transport.abort()
    client = await PlainClient.connect(server.port)
    assert await client.exchange(a04("STILL")) == ("AA", "STILL")
    await client.close()


async def test_handler_failure_closes_only_that_connection() -> None:
    async def flaky(raw: bytes) -> bytes:
        if b"BOOM" in raw:
            raise RuntimeError("database down")
        return await translating_handler(raw)

    async with MllpServer(flaky) as srv:
        calm = await PlainClient.connect(srv.port)
        boom = await PlainClient.connect(srv.port)
        await boom.write(START + a04("BOOM") + END)
        async with asyncio.timeout(3):
            assert await boom.reader.read() == b""  # no ACK: the sender will resend
        assert await calm.exchange(a04("CALM")) == ("AA", "CALM")
        await calm.close()
        await boom.close()


async def test_many_concurrent_connections(server: MllpServer) -> None:
    async def one(n: int) -> list[str]:
        c = await PlainClient.connect(server.port)
        got = [(await c.exchange(a04(f"C{n}-{i}")))[1] for i in range(20)]
        await c.close()
        return got

    results = await asyncio.gather(*(one(n) for n in range(20)))
    assert all(r == [f"C{n}-{i}" for i in range(20)] for n, r in enumerate(results))


# -------------------------------------------------------------------- the client


async def test_client_sends_and_reconnects_after_a_server_restart() -> None:
    srv = MllpServer(translating_handler)
    await srv.start()
    port = srv.port
    client = MllpClient("127.0.0.1", port, timeout=2)
    assert parse_ack(await client.send(a04("K1"))).control_id == "K1"
    await srv.stop()  # drops the client's connection
    with pytest.raises(MllpConnectionError):
        await client.send(a04("K2"))  # refused: nobody listens
    await srv.start()  # same port again
    assert parse_ack(await client.send(a04("K3"))).control_id == "K3"
    assert parse_ack(await client.send(a04("K4"))).control_id == "K4"
    await client.close()
    await srv.stop()


async def test_client_times_out_on_a_silent_server() -> None:
    async def never(raw: bytes) -> bytes:
        await asyncio.sleep(30)
        return b""

    async with MllpServer(never) as srv, MllpClient("127.0.0.1", srv.port, timeout=0.3) as c:
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(MllpTimeout):
            await c.send(a04("T1"))
        assert loop.time() - started < 1.5
        assert not c.connected


async def test_client_skips_junk_in_the_answer_stream() -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(END)
        writer.write(b"noise" + START + b"MSH|^~\\&|X|Y|||1||ACK|1|P|2.5\rMSA|AA|J\r" + END)
        await writer.drain()
        writer.close()

    srv = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    async with MllpClient("127.0.0.1", port, timeout=2) as c:
        assert parse_ack(await c.send(a04("J"))).code == "AA"
    srv.close()
    await srv.wait_closed()


async def test_stop_ends_open_connections_promptly(server: MllpServer) -> None:
    idle = await PlainClient.connect(server.port)
    assert await idle.exchange(a04("I1")) == ("AA", "I1")
    async with asyncio.timeout(2):
        await server.stop()
        assert await idle.reader.read() == b""
    await idle.close()
