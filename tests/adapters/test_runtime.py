"""The adapter runtime with a fake adapter, on SQLite and PostgreSQL: idempotency,
isolation of a failing message, retries to dead letters and replay, checkpoints that move
only with the commit, bounded slow sources, outbound retries, SKIP LOCKED claims."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.runtime import control, log
from adapters.runtime.db import writing
from adapters.runtime.models import InboundMessage, OutboundMessage
from adapters.runtime.process import Item, ingest
from adapters.runtime.types import (
    Applied,
    Backoff,
    Message,
    Outcome,
    Park,
    Problem,
    Pulled,
    RetriableError,
    Work,
)
from adapters.runtime.worker import Loop, Switch, dispatch_step, pull_step, retry_step, send_step
from hub.access.principal import system
from hub.db import Database

FAST = Backoff(base=0.01, cap=0.05, max_attempts=3)
OPERATOR = system("test")


class Fake:
    """Messages are b"<cid>|<key>|<kind>": ok, park (until <key> is applied), fail, bad."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.applied: Counter[str] = Counter()
        self.broken = True  # "fail" messages fail while this holds

    def read(self, raw: bytes) -> Message:
        cid, key, kind = raw.decode().split("|")
        if kind == "bad":
            return Message(cid, "FAKE", problem=Problem("BAD", "unreadable", "AR"))
        return Message(cid, "FAKE", key, None, None, kind)

    async def apply(self, session: AsyncSession, batch: Sequence[Work]) -> list[Outcome]:
        if self.broken and any(w.message.body == "fail" for w in batch):
            raise RuntimeError("boom")  # before any effect: counts are of committed work
        out: list[Outcome] = []
        for w in batch:
            if w.message.body == "park":
                done = await session.scalar(
                    select(InboundMessage.id).where(
                        InboundMessage.adapter == self.name,
                        InboundMessage.status == "APPLIED",
                        InboundMessage.control_id == f"create-{w.message.order_key}",
                    )
                )
                if done is None:
                    out.append(Park("WAITING", "for its create"))
                    continue
            self.applied[str(w.message.control_id)] += 1
            out.append(Applied({"cid": w.message.control_id}))
        return out


@pytest.fixture(scope="module")
async def db(db_url: str) -> AsyncIterator[Database]:
    database = Database(db_url)
    yield database
    await database.dispose()


async def run_ingest(db: Database, adapter: Fake, raws: list[bytes]) -> list[Any]:
    async with writing(db) as session:
        return await ingest(
            session, adapter, [Item(r) for r in raws], now=dt.datetime.now(dt.UTC), backoff=FAST
        )


async def statuses(db: Database, name: str) -> dict[str, str]:
    async with db.reader() as session:
        rows = await session.execute(
            select(InboundMessage.control_id, InboundMessage.status).where(
                InboundMessage.adapter == name, InboundMessage.duplicate_of_id.is_(None)
            )
        )
        return {str(c): s for c, s in rows}


async def test_backoff_is_exponential_capped_and_jittered() -> None:
    b = Backoff(base=1.0, cap=10.0)
    rng = random.Random(1)
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 10.0), (20, 10.0)]:
        waits = [b.delay(attempt, rng) for _ in range(50)]
        assert all(ceiling / 2 <= w <= ceiling for w in waits)
        assert len(set(waits)) > 1  # jitter: retries of many messages spread out


async def test_duplicates_by_control_id_or_bytes_apply_once(db: Database) -> None:
    fake = Fake("dup")
    first = await run_ingest(db, fake, [b"c1|k|ok", b"c1|k|ok", b"c2|k|ok"])
    later = await run_ingest(db, fake, [b"c2|k|ok", b"c1|k|ok"])
    assert [r.duplicate for r in first] == [False, True, False]
    assert all(r.duplicate and r.reply == "AA" for r in later)
    assert fake.applied == Counter({"c1": 1, "c2": 1})
    counts = await scalar_counts(db, "dup")
    assert counts == {"APPLIED": 2, "DUPLICATE": 3}


async def scalar_counts(db: Database, name: str) -> dict[str, int]:
    async with db.reader() as session:
        return await log.counts(session, name)


async def test_a_failing_message_is_isolated_retried_dead_then_replayed(db: Database) -> None:
    fake = Fake("iso")
    receipts = await run_ingest(db, fake, [b"a|k|ok", b"b|k|fail", b"c|k|ok", b"d|k|bad"])
    assert [r.reply for r in receipts] == ["AA", "AA", "AA", "AR"]  # b is stored: AA
    assert await statuses(db, "iso") == {
        "a": "APPLIED",
        "b": "RETRY",
        "c": "APPLIED",
        "d": "REJECTED",
    }
    step = retry_step(db, fake, FAST)
    for _ in range(200):
        await step()
        if (await statuses(db, "iso"))["b"] == "DEAD":
            break
        await asyncio.sleep(0.01)
    assert (await statuses(db, "iso"))["b"] == "DEAD"
    async with db.reader() as session:
        dead = await control.dead_letters(session, OPERATOR, "iso")
    assert {r.control_id for r in dead} == {"b", "d"}
    assert next(r for r in dead if r.control_id == "b").error_code == "APPLY_FAILED"
    fake.broken = False  # the operator fixed the cause
    async with writing(db) as session:
        done = await control.replay(session, OPERATOR, fake, [r.id for r in dead])
    assert {r.status for r in done} == {"APPLIED", "REJECTED"}  # d is still unreadable
    assert fake.applied == Counter({"a": 1, "b": 1, "c": 1})


async def test_parked_until_what_it_waits_for_is_applied(db: Database) -> None:
    fake = Fake("park")
    await run_ingest(db, fake, [b"update-1|p1|park"])
    assert (await statuses(db, "park"))["update-1"] == "PARKED"
    await run_ingest(db, fake, [b"create-p1|p1|ok"])  # wakes the parked update
    await retry_step(db, fake, FAST)()
    assert (await statuses(db, "park"))["update-1"] == "APPLIED"


class Pages:
    """A paging source (REST by update time): pages of messages, a cursor per page."""

    name, stream = "pull", "records"

    def __init__(self, pages: list[list[bytes]]) -> None:
        self.pages = pages
        self.down = False
        self.delay = 0.0

    async def pull(self, checkpoint: str | None, limit: int) -> Pulled:
        if self.down:
            raise ConnectionRefusedError("the provincial platform is down")
        await asyncio.sleep(self.delay)
        n = int(checkpoint or 0)
        if n >= len(self.pages):
            return Pulled([], None)
        return Pulled(self.pages[n], str(n + 1))


async def test_pull_checkpoint_moves_only_with_the_commit(db: Database, monkeypatch: Any) -> None:
    fake = Fake("pull")
    source = Pages([[b"p1|a|ok", b"p2|b|ok"], [b"p3|c|ok"], [b"p4|d|ok"]])
    step = pull_step(db, fake, source, FAST, limit=2)
    await step()
    source.down = True  # the external system goes away for a while
    with pytest.raises(ConnectionRefusedError):
        await step()
    source.down = False
    real_advance = log.advance

    async def crash(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("killed between apply and checkpoint")

    monkeypatch.setattr(log, "advance", crash)  # the commit of page 2 fails as a whole
    with pytest.raises(RuntimeError):
        await step()
    monkeypatch.setattr(log, "advance", real_advance)
    while await step() or await position(db) != "3":
        pass
    assert await position(db) == "3"
    # The failed commit took its work with it: each message is logged and applied once.
    assert await statuses(db, "pull") == {f"p{i}": "APPLIED" for i in range(1, 5)}
    assert await scalar_counts(db, "pull") == {"APPLIED": 4}


async def position(db: Database) -> str | None:
    async with db.reader() as session:
        return await log.checkpoint(session, "pull", "records")


async def test_a_slow_source_is_bounded_and_others_go_on(db: Database) -> None:
    slow_fake, other = Fake("slow"), Fake("other")
    slow = Pages([[b"s1|a|ok"]])
    slow.delay = 30.0
    step = pull_step(db, slow_fake, slow, FAST, timeout=0.2)
    with pytest.raises(TimeoutError):
        await step()
    switch = Switch(db, "other", True)
    loop = Loop(
        "other", pull_step(db, other, Pages([[b"o1|a|ok"], [b"o2|b|ok"]]), FAST), switch, idle=0.05
    )
    slow_loop = Loop("slow", step, Switch(db, "slow", True), idle=0.05)
    await slow_loop.start()
    await loop.start()
    for _ in range(200):
        if other.applied == Counter({"o1": 1, "o2": 1}) and slow_loop.errors:
            break
        await asyncio.sleep(0.02)
    await slow_loop.stop()
    await loop.stop()
    assert other.applied == Counter({"o1": 1, "o2": 1})
    assert slow_loop.errors >= 1 and not slow_fake.applied


async def test_kill_switch_stops_an_adapters_loops(db: Database) -> None:
    async with writing(db) as session:
        await control.set_enabled(session, OPERATOR, "his", False, "test")
    calls = 0

    async def step() -> bool:
        nonlocal calls
        calls += 1
        return False

    loop = Loop("off", step, Switch(db, "his", True, ttl=0.0), idle=0.01)
    await loop.start()
    await asyncio.sleep(0.1)
    await loop.stop()
    assert calls == 0
    async with writing(db) as session:
        await control.set_enabled(session, OPERATOR, "his", True, None)


class FlakyHospital:
    """A push target that is down for its first `down` sends."""

    name = "push"
    event_types = ("fake.",)

    def __init__(self, down: int) -> None:
        self.down, self.sent, self.settled = down, 0, 0

    async def prepare(self, session: AsyncSession, event: Any) -> list[tuple[str, str, bytes]]:
        return [("H1", f"REF{event.id}", f"payload {event.id}".encode())]

    async def send(self, destination: str, payload: bytes) -> bytes:
        self.sent += 1
        if self.sent <= self.down:
            raise RetriableError("DOWN", "connection refused")
        return b"ok"

    async def settle(self, session: AsyncSession, outbound: Any, reply: bytes) -> None:
        self.settled += 1


async def test_outbound_is_delivered_once_after_the_other_side_comes_back(db: Database) -> None:
    from hub.events.service import emit

    async with writing(db) as session:
        emit(session, "fake.requested", "Fake", 1)
        emit(session, "other.thing", "Fake", 2)
    hospital = FlakyHospital(down=2)
    backoff = Backoff(base=0.01, cap=0.02, max_attempts=5)
    dispatch, deliver = dispatch_step(db, hospital), send_step(db, hospital, backoff)
    while await dispatch():
        pass
    for _ in range(100):
        await deliver()
        if hospital.settled:
            break
        await asyncio.sleep(0.02)
    async with db.reader() as session:
        rows = list(await session.scalars(select(OutboundMessage)))
    assert [(r.status, r.attempts) for r in rows] == [("APPLIED", 3)]
    assert hospital.settled == 1 and hospital.sent == 3
    while await dispatch():  # the checkpoint moved past it: nothing is queued again
        pass
    async with db.reader() as session:
        assert await session.scalar(text("select count(*) from adapter_outbound")) == 1


async def test_workers_claim_disjoint_rows_with_skip_locked(db: Database) -> None:
    if db.is_sqlite:
        pytest.skip("SQLite has one writer at a time; SKIP LOCKED is PostgreSQL's")
    fake = Fake("claim")
    await run_ingest(db, fake, [f"w{i}|x{i}|park".encode() for i in range(6)])
    future = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    async with db.sessions() as a, a.begin(), db.sessions() as b, b.begin():
        first = await log.claim_due(a, "claim", future, 3)
        second = await log.claim_due(b, "claim", future, 10)
        assert len(first) == 3 and len(second) == 3
        assert not {r.id for r in first} & {r.id for r in second}
