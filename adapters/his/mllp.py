"""MLLP (Minimal Lower Layer Protocol) over asyncio: <VT> message <FS><CR>.

The server hands each framed message to `handler(bytes) -> ack bytes` and writes the
answer back on the same connection, one message at a time per connection (MLLP is
synchronous; ordering per sender is preserved). Broken framing never reaches the handler:
junk outside frames and frames cut short are dropped and reported through `on_discard`
so the caller can keep the raw bytes. Every wait is bounded, and a connection's failure
ends that connection only. Idle connections cannot lock senders out (see MllpServer):
per-peer limit, a short timeout before the first message, eviction of silent connections
when the server is full.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import structlog

START = b"\x0b"
END = b"\x1c\r"
_VT, _FS = 0x0B, 0x1C

Handler = Callable[[bytes], Awaitable[bytes]]
DiscardHook = Callable[[bytes, str], None]

log = structlog.get_logger(__name__)


def frame(message: bytes) -> bytes:
    return START + message + END


class FrameTooLarge(Exception):
    pass


class FrameDecoder:
    """Incremental deframer: `feed` bytes as they arrive, get back whole messages.

    Tolerates junk before a start block, a lone <FS> without <CR>, several frames in one
    read and a frame split across reads. A start block inside an unfinished frame means
    the previous frame was cut short: it is dropped and the new one is read.
    """

    def __init__(self, max_message_bytes: int = 4 << 20, on_discard: DiscardHook | None = None):
        self._buf = bytearray()
        self._in_frame = False
        self._scanned = 0  # bytes of the current frame already searched for <VT>/<FS>
        self.starts = 0  # start blocks seen: lets the server time each frame separately
        self._max = max_message_bytes
        self._on_discard = on_discard

    @property
    def in_frame(self) -> bool:
        return self._in_frame

    def discard(self, reason: str) -> None:
        """Drop whatever is buffered (used when a connection ends or times out)."""
        if self._buf.strip():
            self._report(bytes(self._buf), reason)
        self._buf.clear()
        self._in_frame, self._scanned = False, 0

    def _report(self, data: bytes, reason: str) -> None:
        if self._on_discard is not None:
            self._on_discard(data, reason)

    def feed(self, data: bytes) -> list[bytes]:
        buf = self._buf
        buf += data
        frames: list[bytes] = []
        while buf:
            if not self._in_frame:
                i = buf.find(_VT)
                junk = buf[: i if i >= 0 else len(buf)]
                if junk.strip():  # a CR left over from an end block is not worth a report
                    self._report(bytes(junk), "bytes outside an MLLP frame")
                if i < 0:
                    buf.clear()
                    break
                del buf[: i + 1]
                self._in_frame, self._scanned = True, 0
                self.starts += 1
            end = buf.find(_FS, self._scanned)
            restart = buf.find(_VT, self._scanned, end if end >= 0 else len(buf))
            if restart >= 0:
                self._report(bytes(buf[:restart]), "frame cut short by a new start block")
                del buf[:restart]
                self._in_frame = False
                continue
            if end < 0:
                self._scanned = len(buf)
                if len(buf) > self._max:
                    self.discard("frame larger than the limit")
                    raise FrameTooLarge(f"MLLP frame over {self._max} bytes")
                break
            frames.append(bytes(buf[:end]))
            del buf[: end + 2 if buf[end + 1 : end + 2] == b"\r" else end + 1]
            self._in_frame, self._scanned = False, 0
        return frames


@dataclass(slots=True, eq=False)
class _Connection:
    peer: str  # the remote IP: what the per-peer limit counts
    task: asyncio.Task[None]
    opened: float = field(default_factory=time.monotonic)
    bytes_in: int = 0
    spoke: bool = False  # a whole message arrived: from then on the long idle timeout


_EVENTS = {
    "evicted_silent": "mllp.connection_evicted",
    "first_message_timeout": "mllp.connection_silent",
}


def _peer_ip(peername: object) -> str:
    if isinstance(peername, tuple) and peername:
        return str(peername[0])
    return str(peername)


class MllpServer:
    """An MLLP listener. `port=0` picks a free port; read it from `.port` after start().

    Connections cannot lock real senders out. One peer (remote IP) holds at most
    `max_connections_per_peer`; a connection that has not sent a whole message within
    `first_message_timeout` is closed (`idle_timeout`, much longer, applies between the
    messages of one that has); and when all `max_connections` are taken, a newcomer evicts
    the oldest connection that has sent nothing (failing that, the oldest that has not yet
    sent a whole message) rather than being turned away. Every refusal and eviction is
    logged (peer and reason, never content) and counted in `refused` and `on_refused`.
    """

    def __init__(
        self,
        handler: Handler,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        frame_timeout: float = 10.0,
        idle_timeout: float = 300.0,
        first_message_timeout: float = 10.0,
        write_timeout: float = 10.0,
        handler_timeout: float | None = None,
        max_message_bytes: int = 4 << 20,
        max_connections: int = 256,
        max_connections_per_peer: int = 64,
        on_discard: DiscardHook | None = None,
        on_refused: Callable[[str], None] | None = None,
    ) -> None:
        self.handler, self.host, self._port = handler, host, port
        self.frame_timeout, self.idle_timeout = frame_timeout, idle_timeout
        self.first_message_timeout = first_message_timeout
        self.write_timeout, self.handler_timeout = write_timeout, handler_timeout
        self.max_message_bytes, self.max_connections = max_message_bytes, max_connections
        self.max_connections_per_peer = max_connections_per_peer
        self.on_discard, self.on_refused = on_discard, on_refused
        self._server: asyncio.Server | None = None
        # oldest first (dicts keep insertion order): eviction looks for the oldest unproven
        self._connections: dict[asyncio.Task[None], _Connection] = {}
        self._unproven: dict[asyncio.Task[None], _Connection] = {}  # no whole message yet
        self._per_peer: Counter[str] = Counter()
        self._evicted: set[asyncio.Task[None]] = set()  # cancelled, still closing
        self.messages = 0  # handled frames, for tests and metrics
        # reason -> connections refused or closed early: peer_limit, server_full,
        # evicted_silent, first_message_timeout
        self.refused: Counter[str] = Counter()

    @property
    def open_connections(self) -> int:
        return len(self._connections)

    @property
    def senders(self) -> int:
        """Open connections that have sent a whole message: who may be sending now."""
        return len(self._connections) - len(self._unproven)

    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            return self._port
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self._port)
        self._port = self.port  # keep the chosen port across stop()/start()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        tasks = [*self._connections, *self._evicted]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def serve_forever(self) -> None:
        if self._server is None:
            await self.start()
        assert self._server is not None
        await self._server.serve_forever()

    async def __aenter__(self) -> MllpServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _count(self, reason: str, peer: str, **extra: object) -> None:
        self.refused[reason] += 1
        if self.on_refused is not None:
            self.on_refused(reason)
        event = _EVENTS.get(reason, "mllp.connection_refused")
        log.warning(event, peer=peer, reason=reason, open=len(self._connections), **extra)

    def _admit(self, conn: _Connection) -> bool:
        """Room for a new connection: per-peer limit, then the global one (evicting)."""
        if self._per_peer[conn.peer] >= self.max_connections_per_peer:
            self._count("peer_limit", conn.peer, peer_open=self._per_peer[conn.peer])
            return False
        if len(self._connections) >= self.max_connections:
            victim = next((c for c in self._unproven.values() if c.bytes_in == 0), None)
            if victim is None:
                victim = next(iter(self._unproven.values()), None)
            if victim is None:
                self._count("server_full", conn.peer)
                return False
            self._forget(victim)
            self._evicted.add(victim.task)
            victim.task.add_done_callback(self._evicted.discard)
            victim.task.cancel()
            age = round(time.monotonic() - victim.opened, 1)
            self._count("evicted_silent", victim.peer, age=age, received_bytes=victim.bytes_in,
                        for_peer=conn.peer)  # fmt: skip
        self._connections[conn.task] = self._unproven[conn.task] = conn
        self._per_peer[conn.peer] += 1
        return True

    def _forget(self, conn: _Connection) -> None:
        if self._connections.pop(conn.task, None) is None:
            return
        self._unproven.pop(conn.task, None)
        self._per_peer[conn.peer] -= 1
        if self._per_peer[conn.peer] <= 0:
            del self._per_peer[conn.peer]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        peer = writer.get_extra_info("peername")
        conn = _Connection(_peer_ip(peer), task)
        if not self._admit(conn):
            writer.close()
            return
        try:
            await self._converse(reader, writer, peer, conn)
        except (ConnectionError, OSError, TimeoutError, FrameTooLarge) as err:
            log.info("mllp.connection_dropped", peer=str(peer), reason=type(err).__name__)
        except asyncio.CancelledError:
            pass  # stop() or an eviction: the connection goes, the server task carries on
        except Exception:
            # A handler that raised gets no ACK: closing makes the sender resend later,
            # which is right for a transient failure and harmless with idempotent intake.
            log.exception("mllp.handler_failed", peer=str(peer))
        finally:
            self._forget(conn)
            writer.close()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                async with asyncio.timeout(1.0):
                    await writer.wait_closed()

    async def _converse(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        peer: object,
        conn: _Connection,
    ) -> None:
        def report(data: bytes, reason: str) -> None:
            log.warning("mllp.discarded", peer=str(peer), reason=reason, size=len(data))
            if self.on_discard is not None:
                self.on_discard(data, reason)

        decoder = FrameDecoder(self.max_message_bytes, report)
        frame_deadline, starts = 0.0, 0
        # until its first whole message a connection gets the short timeout, counted from
        # when it opened (bytes outside a frame do not extend it)
        first_deadline = time.monotonic() + self.first_message_timeout
        spoke = False
        while True:
            if decoder.in_frame:  # a frame's whole arrival is bounded, not each read
                timeout = max(0.0, frame_deadline - time.monotonic())
            elif not spoke:
                timeout = max(0.0, first_deadline - time.monotonic())
            else:
                timeout = self.idle_timeout
            try:
                async with asyncio.timeout(timeout):
                    data = await reader.read(65536)
            except TimeoutError:
                if not spoke and not decoder.in_frame:
                    self._count("first_message_timeout", _peer_ip(peer),
                                received_bytes=conn.bytes_in)  # fmt: skip
                decoder.discard("no end block before the frame timeout")
                return
            if not data:
                decoder.discard("connection closed inside a frame")
                return
            conn.bytes_in += len(data)
            for message in decoder.feed(data):
                if not spoke:
                    spoke = True
                    conn.spoke = True
                    self._unproven.pop(conn.task, None)
                self.messages += 1
                if self.handler_timeout is None:
                    ack = await self.handler(message)
                else:
                    async with asyncio.timeout(self.handler_timeout):
                        ack = await self.handler(message)
                writer.write(START + ack + END)
                async with asyncio.timeout(self.write_timeout):
                    await writer.drain()
            if decoder.starts != starts:
                starts, frame_deadline = decoder.starts, time.monotonic() + self.frame_timeout


class MllpError(Exception):
    """Sending failed. `retriable`: whether sending the same message again may succeed."""

    retriable = True


class MllpTimeout(MllpError):
    pass


class MllpConnectionError(MllpError):
    pass


class MllpClient:
    """Sends one message at a time and returns the answer frame (ACK, RRI, ...).

    Connects lazily and reconnects after any failure; a connection error while sending is
    retried `retries` times on a fresh connection, which may deliver the message twice —
    HL7 receivers de-duplicate by MSH-10. A timeout is not retried here: the caller's
    retry policy decides. `timeout` bounds each send (connect + write + answer).
    """

    def __init__(
        self,
        host: str,
        port: int,
        timeout: float = 10.0,
        *,
        retries: int = 1,
        max_message_bytes: int = 4 << 20,
    ) -> None:
        self.host, self.port, self.timeout, self.retries = host, port, timeout, retries
        self.max_message_bytes = max_message_bytes
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._decoder = FrameDecoder(max_message_bytes)
        self._lock = asyncio.Lock()

    @property
    def connected(self) -> bool:
        return self._writer is not None and not self._writer.is_closing()

    async def send(self, message: bytes) -> bytes:
        async with self._lock:
            for attempt in range(self.retries + 1):
                try:
                    async with asyncio.timeout(self.timeout):
                        return await self._exchange(message)
                except TimeoutError:
                    await self.close()
                    raise MllpTimeout(f"no answer from {self.host}:{self.port} within "
                                      f"{self.timeout}s") from None  # fmt: skip
                except (ConnectionError, OSError, EOFError, FrameTooLarge) as err:
                    await self.close()
                    if attempt == self.retries:
                        raise MllpConnectionError(f"{self.host}:{self.port}: {err!r}") from err
        raise AssertionError("unreachable")

    async def _exchange(self, message: bytes) -> bytes:
        if not self.connected:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
            self._decoder = FrameDecoder(self.max_message_bytes)
        assert self._reader is not None and self._writer is not None
        self._writer.write(START + message + END)
        await self._writer.drain()
        while True:
            data = await self._reader.read(65536)
            if not data:
                raise EOFError("connection closed before the answer")
            frames = self._decoder.feed(data)
            if frames:
                return frames[0]  # MLLP is one answer per message; extras are stale

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                async with asyncio.timeout(1.0):
                    await writer.wait_closed()

    async def __aenter__(self) -> MllpClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
