"""The vocabulary of the adapter runtime, named once: what an adapter implements, what it
reads a message into, and what applying one can come to."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from sqlalchemy.ext.asyncio import AsyncSession

# ----------------------------------------------------------------------- reading


@dataclass(frozen=True, slots=True)
class Problem:
    """What is wrong with a message: a stable code, where, and text a person can act on.
    `reply` is the acknowledgement class the sender gets (HL7: AR unreadable, AE unusable)."""

    code: str
    text: str
    reply: str = "AE"
    location: str = ""
    detail: Any = None  # the adapter's own error object, for its ACK builder


@dataclass(frozen=True, slots=True)
class Message:
    """A message as the adapter read it, before any database work (pure, cheap).

    `order_key` names the person (or thing) the message is about: messages parked for a
    key are woken when another message of that key is applied. `version_key`, when set,
    makes the message a full state of that thing: an older one (by `event_time`) arriving
    after a newer one was applied is recorded as superseded, not applied."""

    control_id: str | None
    message_type: str | None = None
    order_key: str | None = None
    version_key: str | None = None
    event_time: dt.datetime | None = None
    body: Any = None  # the adapter's parsed form (translate.PersonRecord, ...)
    problem: Problem | None = None  # set when the message cannot be taken at all
    warnings: tuple[Any, ...] = ()  # kept-and-reported issues (unknown codes ...)


@dataclass(slots=True)
class Work:
    """A stored message handed to `Adapter.apply`, with its history."""

    id: int
    raw: bytes
    message: Message
    received_at: dt.datetime
    attempts: int  # earlier attempts (0 on arrival)


# ---------------------------------------------------------------------- outcomes


@dataclass(frozen=True, slots=True)
class Applied:
    result: dict[str, Any] = field(default_factory=dict)  # ids and codes, never PII
    warnings: tuple[Any, ...] = ()


@dataclass(frozen=True, slots=True)
class Park:
    """Not yet: it depends on something not received (an update before its create)."""

    code: str
    text: str


@dataclass(frozen=True, slots=True)
class Retry:
    """A transient failure: the same message may apply later."""

    code: str
    text: str


@dataclass(frozen=True, slots=True)
class Dead:
    """Stop trying: it was stored and answered, but cannot be applied without an operator
    (e.g. what it waited for never came). Listed among the dead letters."""

    code: str
    text: str


@dataclass(frozen=True, slots=True)
class Reject:
    """A permanent failure: resending the same bytes cannot help."""

    problem: Problem


Outcome = Applied | Park | Retry | Dead | Reject


class RetriableError(Exception):
    """Raised by an adapter's collaborators for a failure worth trying again."""

    def __init__(self, code: str, text: str) -> None:
        super().__init__(f"{code}: {text}")
        self.code, self.text = code, text


@dataclass(frozen=True, slots=True)
class Receipt:
    """What the intake tells the transport, after the message is durably stored."""

    inbound_id: int | None
    status: str
    reply: str  # AA / AE / AR
    problem: Problem | None = None
    warnings: tuple[Any, ...] = ()
    duplicate: bool = False


# ------------------------------------------------------------------ the interface


@runtime_checkable
class Adapter(Protocol):
    """What an adapter implements; the runtime does the rest (log, idempotency,
    ordering, retries, dead letters, checkpoints, metrics)."""

    name: str

    def read(self, raw: bytes) -> Message:
        """Parse without the database. Never raises: a bad message gets a `problem`."""
        ...

    async def apply(self, session: AsyncSession, batch: Sequence[Work]) -> list[Outcome]:
        """Apply messages in order inside the caller's transaction; one outcome each.
        May raise: the runtime then retries each message alone to isolate the culprit."""
        ...


@dataclass(frozen=True, slots=True)
class Pulled:
    """One pull: raw messages and the checkpoint after them (None: unchanged)."""

    messages: Sequence[bytes]
    checkpoint: str | None


class PullSource(Protocol):
    """An adapter that fetches (REST paging by update time): `pull` since a checkpoint."""

    name: str
    stream: str

    async def pull(self, checkpoint: str | None, limit: int) -> Pulled: ...


class Pusher(Protocol):
    """An adapter that sends hub events out (REF^I12 ...). `prepare` turns an outbox event
    into zero or more outbound messages inside the hub's transaction; `send` delivers one
    (raising RetriableError when the other side is down); `settle` applies its answer."""

    name: str
    event_types: tuple[str, ...]  # prefixes, e.g. ("referral.",)

    async def prepare(self, session: AsyncSession, event: Any) -> list[tuple[str, str, bytes]]:
        """(destination, control id, payload) for each message to send."""
        ...

    async def send(self, destination: str, payload: bytes) -> bytes: ...

    async def settle(self, session: AsyncSession, outbound: Any, reply: bytes) -> None: ...


# --------------------------------------------------------------------- backoff


@dataclass(frozen=True, slots=True)
class Backoff:
    """Capped exponential backoff with jitter: attempt n waits between half and all of
    min(cap, base * 2**(n-1)) seconds, so retries of many messages spread out."""

    base: float = 1.0
    cap: float = 300.0
    max_attempts: int = 8

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        ceiling = min(self.cap, self.base * 2 ** max(0, attempt - 1))
        return (rng or random).uniform(ceiling / 2, ceiling)
