"""A simulated hospital (模拟医院HIS) for tests, the benchmark and the demo.

It makes a deterministic synthetic population of Panyu (番禺) residents, turns it into
ADT^A04/A08/A40 and ORU^R01 messages, and sends them over MLLP with switchable faults
(`Faults`). It also plays the hospital that receives referrals: `HospitalServer` answers
REF^I12 with RRI^I12 by a configurable rule, and can be down or slow.

    python -m adapters.his.simulator --port 2575 --count 1000 --faults duplicate=0.1,slow=0.05
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from adapters.his.mllp import END, START, FrameDecoder, MllpServer
from adapters.his.population import MALFORMED_KINDS, Faults, Outgoing, Person, plan, population
from adapters.his.referral import Referral, build_referral_reply, parse_referral
from adapters.his.translate import HL7Error, build_ack, parse, parse_ack

# The simulator's public face; the people and message plan live in population.py.
__all__ = [
    "MALFORMED_KINDS", "Faults", "HospitalServer", "Outgoing", "Person", "Report", "Result",
    "main", "plan", "population", "referral_rule", "send",
]  # fmt: skip

# -------------------------------------------------------------------------- sending


@dataclass(slots=True)
class Result:
    control_id: str
    kind: str
    fault: str | None
    expected: str | None
    ack: str | None = None  # MSA-1 received
    ack_control_id: str | None = None  # MSA-2 received
    attempts: int = 0
    error: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.ack == self.expected and self.ack_control_id == self.control_id


@dataclass(slots=True)
class Report:
    results: list[Result] = field(default_factory=list)
    elapsed: float = 0.0

    def summary(self) -> dict[str, object]:
        n = len(self.results)
        return {
            "sent": n,
            "ok": sum(r.ok for r in self.results),
            "acks": dict(Counter(r.ack or "none" for r in self.results)),
            "faults": dict(Counter(r.fault for r in self.results if r.fault)),
            "unexpected": [
                {"control_id": r.control_id, "fault": r.fault, "expected": r.expected,
                 "ack": r.ack, "error": r.error}
                for r in self.results if not r.ok
            ][:20],
            "elapsed_s": round(self.elapsed, 3),
            "per_second": round(n / self.elapsed, 1) if self.elapsed else None,
        }  # fmt: skip


class _Connection:
    """A deliberately low-level sender: the faults need to write what MllpClient won't."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.decoder = FrameDecoder()

    async def open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.reader is None or self.writer is None or self.writer.is_closing():
            async with asyncio.timeout(self.timeout):
                self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            self.decoder = FrameDecoder()
        return self.reader, self.writer

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            try:
                async with asyncio.timeout(1.0):
                    await self.writer.wait_closed()
            except (OSError, TimeoutError):
                pass
        self.reader = self.writer = None

    async def exchange(self, m: Outgoing, slow: float, rng: random.Random) -> bytes | None:
        reader, writer = await self.open()
        wire = START + m.payload + END
        if m.fault == "junk":
            wire = b"GET / HTTP/1.0\r\n\x1c\r\r\n" + wire
        elif m.fault == "truncated":
            wire = START + m.payload[: len(m.payload) // 2] + wire
        elif m.fault == "no_end":
            writer.write(START + m.payload)
            await writer.drain()
            await self.close()  # the hub must drop the cut frame; we resend below
            return None
        if slow:  # trickle the frame so it arrives across many reads
            step = max(1, len(wire) // 4)
            for i in range(0, len(wire), step):
                writer.write(wire[i : i + step])
                await writer.drain()
                await asyncio.sleep(slow / 4)
            await asyncio.sleep(slow)  # and read the answer late
        else:
            writer.write(wire)
            await writer.drain()
        async with asyncio.timeout(self.timeout):
            while True:
                data = await reader.read(65536)
                if not data:
                    raise ConnectionResetError("closed before the ACK")
                frames = self.decoder.feed(data)
                if frames:
                    return frames[0]


async def send(
    messages: Sequence[Outgoing],
    host: str,
    port: int,
    *,
    faults: Faults = Faults(),
    rate: float | None = None,
    connections: int = 1,
    timeout: float = 5.0,
    retries: int = 5,
    seed: int = 1,
) -> Report:
    """Send over `connections` MLLP connections, each person's messages on one of them (so
    their order is kept); resend without an answer like a real HIS, up to `retries`."""
    lanes: list[list[Outgoing]] = [[] for _ in range(max(1, connections))]
    for m in messages:
        lanes[zlib.crc32(m.mr_id.encode()) % len(lanes)].append(m)
    report = Report()
    started = time.perf_counter()
    per_lane_rate = rate / len(lanes) if rate else None

    async def lane(items: list[Outgoing], lane_no: int) -> None:
        rng = random.Random(seed * 1000 + lane_no)
        conn = _Connection(host, port, timeout)
        t0 = time.perf_counter()
        for n, m in enumerate(items):
            if per_lane_rate:
                await asyncio.sleep(max(0.0, t0 + n / per_lane_rate - time.perf_counter()))
            result = Result(m.control_id, m.kind, m.fault, m.expected)
            slow = faults.slow_delay if rng.random() < faults.slow else 0.0
            begun = time.perf_counter()
            current = m
            while result.attempts <= retries:
                result.attempts += 1
                try:
                    answer = await conn.exchange(current, slow, rng)
                except (OSError, TimeoutError, ConnectionError) as err:
                    result.error = type(err).__name__
                    await conn.close()
                    await asyncio.sleep(min(2.0, 0.05 * 2**result.attempts))
                    continue
                if answer is None:  # the no_end fault: now send it properly
                    current = replace(m, fault=None)
                    continue
                try:
                    ack = parse_ack(answer)
                    result.ack, result.ack_control_id = ack.code, ack.control_id
                except HL7Error as err:
                    result.error = err.code
                result.error = None if result.ack else result.error
                break
            result.seconds = time.perf_counter() - begun
            report.results.append(result)
        await conn.close()

    await asyncio.gather(*(lane(items, i) for i, items in enumerate(lanes) if items))
    report.elapsed = time.perf_counter() - started
    return report


# ------------------------------------------------------------------ referral side

ReferralRule = Callable[[Referral], tuple[bool | None, str]]


def referral_rule(
    hospital_id: str, *, reject_codes: Sequence[str] = (), capacity: int | None = None
) -> ReferralRule:
    """Accept referrals addressed to `hospital_id`, except diagnoses starting with one of
    `reject_codes` (no such department) and beyond `capacity` reserved slots."""
    accepted = 0

    def rule(ref: Referral) -> tuple[bool | None, str]:
        nonlocal accepted
        if ref.target.id != hospital_id:
            return False, f"not this hospital ({ref.target.id})"
        if any(ref.diagnosis_code.upper().startswith(c.upper()) for c in reject_codes):
            return False, f"本院无相应专科 (no department for {ref.diagnosis_code})"
        if capacity is not None and accepted >= capacity:
            return False, "预留号源已满 (no reserved slots left)"
        accepted += 1
        return True, ""

    return rule


class HospitalServer:
    """The hospital end of referrals: REF^I12 in, RRI^I12 out. Can go down or be slow."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        hospital_id: str = "PYZXYY",
        rule: ReferralRule | None = None,
        faults: Faults = Faults(),
    ) -> None:
        self.rule = rule or referral_rule(hospital_id)
        self.faults = faults
        self.received: list[Referral] = []
        self.server = MllpServer(self._handle, host, port)
        self._reopen: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        return self.server.port

    async def start(self) -> None:
        await self.server.start()
        if self.faults.down:
            await self.go_down(self.faults.down)

    async def go_down(self, seconds: float) -> None:
        """Refuse connections for `seconds`, then listen again on the same port."""
        await self.server.stop()

        async def reopen() -> None:
            await asyncio.sleep(seconds)
            await self.server.start()

        self._reopen = asyncio.create_task(reopen())

    async def stop(self) -> None:
        if self._reopen is not None:
            self._reopen.cancel()
        await self.server.stop()

    async def _handle(self, raw: bytes) -> bytes:
        if self.faults.slow:
            await asyncio.sleep(self.faults.slow_delay)
        try:
            ref = parse_referral(raw)
        except HL7Error as err:
            return build_ack(raw, error=err)
        self.received.append(ref)
        accepted, reason = self.rule(ref)
        return build_referral_reply(ref, accepted=accepted, reason=reason)


# ------------------------------------------------------------------- measuring


def translate_and_ack(raw: bytes) -> bytes:
    """The hub's inbound handler minus the database: translate, answer AA/AE/AR."""
    try:
        return build_ack(raw, warnings=parse(raw).issues)
    except HL7Error as err:
        return build_ack(raw, error=err)


async def ack_only(raw: bytes) -> bytes:
    return translate_and_ack(raw)


def measure_parse(messages: Sequence[Outgoing], rounds: int = 5) -> dict[str, float]:
    """Microseconds per message for translate.parse and for parse + build_ack."""
    payloads = [m.payload for m in messages]

    def per_message(work: Callable[[bytes], object]) -> float:
        best = float("inf")
        for _ in range(rounds):  # the best round: least disturbed by the rest of the box
            started = time.perf_counter()
            for raw in payloads:
                work(raw)
            best = min(best, time.perf_counter() - started)
        return round(best / len(payloads) * 1e6, 1)

    def parse_quietly(raw: bytes) -> None:
        try:
            parse(raw)
        except HL7Error:
            pass

    return {"parse_us": per_message(parse_quietly),
            "parse_and_ack_us": per_message(translate_and_ack)}  # fmt: skip


async def loopback(messages: Sequence[Outgoing], faults: Faults, connections: int) -> Report:
    """Send to an in-process MLLP server that runs `ack_only`: the wire + translation cost
    of the adapter without a database."""
    async with MllpServer(ack_only) as server:
        return await send(messages, "127.0.0.1", server.port, faults=faults,
                          connections=connections)  # fmt: skip


# --------------------------------------------------------------------------- CLI


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="hub simulate his", description=__doc__.split("\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=2575)
    p.add_argument("--count", type=int, default=100)
    p.add_argument("--faults", default="", help="e.g. duplicate=0.1,malformed=0.1,slow=0.05")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--rate", type=float, default=None, help="messages per second (all lanes)")
    p.add_argument("--connections", type=int, default=1)
    p.add_argument("--encoding", choices=("mixed", "utf-8", "gb18030", "gbk"), default="mixed")
    p.add_argument("--timeout", type=float, default=5.0)
    p.add_argument("--dry-run", action="store_true", help="print the messages, send nothing")
    p.add_argument("--measure", action="store_true", help="time parsing, send nothing")
    p.add_argument("--loopback", action="store_true",
                   help="send to an in-process server that only translates and ACKs")  # fmt: skip
    p.add_argument("--hospital", action="store_true",
                   help="instead, listen on --port as the hospital answering REF^I12")  # fmt: skip
    p.add_argument("--hospital-id", default="PYZXYY")
    p.add_argument("--reject-codes", default="", help="ICD-10 prefixes the hospital rejects")
    p.add_argument("--capacity", type=int, default=None)
    args = p.parse_args(argv)
    faults = Faults.parse(args.faults)
    if args.hospital:
        rule = referral_rule(
            args.hospital_id,
            capacity=args.capacity,
            reject_codes=[c for c in args.reject_codes.split(",") if c],
        )
        server = HospitalServer(args.host, args.port, hospital_id=args.hospital_id, rule=rule,
                                faults=faults)  # fmt: skip

        async def serve() -> None:
            await server.start()
            print(f"hospital {args.hospital_id} listening on {args.host}:{server.port}")
            await asyncio.Event().wait()

        try:
            asyncio.run(serve())
        except KeyboardInterrupt:
            pass
        return 0
    messages = plan(args.count, seed=args.seed, faults=faults, encoding=args.encoding)
    if args.dry_run:
        for m in messages:
            codec = "utf-8" if m.charset == "utf-8" and m.fault != "wrong_encoding" else "gb18030"
            text = m.payload.decode(codec, "replace").replace("\r", "\n")
            sys.stdout.write(f"# {m.control_id} {m.kind} fault={m.fault} expect={m.expected}\n")
            sys.stdout.write(text + "\n")
        return 0
    if args.measure:
        print(json.dumps({"messages": len(messages), **measure_parse(messages)}))
        return 0
    if args.loopback:
        report = asyncio.run(loopback(messages, faults, args.connections))
    else:
        report = asyncio.run(send(messages, args.host, args.port, faults=faults,
                                  rate=args.rate, connections=args.connections,
                                  timeout=args.timeout, seed=args.seed))  # fmt: skip
    summary = report.summary()
    print(json.dumps(summary, ensure_ascii=False, indent=2))
    return 0 if summary["ok"] == summary["sent"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
