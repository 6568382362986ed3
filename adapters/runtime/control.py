"""What operators do with adapters: see their state, list dead letters, replay, switch.

Used by the CLI (`hub adapters ...`), GraphQL (`adapterStatus`, `deadLetters`,
`replayDeadLetter`, `setAdapterEnabled`) and `/metrics`.
"""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.runtime import log
from adapters.runtime.models import DEAD_LETTERS, AdapterSwitch, InboundMessage, Status
from adapters.runtime.process import rework
from adapters.runtime.types import Adapter, Applied, Backoff
from hub.access.principal import Principal, Scope
from hub.errors import DomainError, NotFound

if TYPE_CHECKING:
    from hub.core import Hub

# name -> "module:factory"; a factory takes the Hub and returns the Adapter.
KNOWN: dict[str, str] = {
    "his": "adapters.his.adapter:build_adapter",
    "maternal": "adapters.maternal.adapter:build_adapter",
    "immunization": "adapters.immunization.adapter:build_adapter",
    "cdc": "adapters.cdc.adapter:build_adapter",
}


def build(hub: Hub, name: str) -> Adapter:
    if name not in KNOWN:
        raise NotFound(
            f"No adapter '{name}'; known: {', '.join(sorted(KNOWN))}.",
            field="adapter",
            code="UNKNOWN_ADAPTER",
        )
    module, _, attr = KNOWN[name].partition(":")
    factory: Callable[[Hub], Adapter] = getattr(importlib.import_module(module), attr)
    return factory(hub)


def default_enabled(hub: Hub, name: str) -> bool:
    """The settings' word (HUB_<NAME>_ENABLED) when no operator has switched it."""
    return bool(getattr(hub.settings, f"{name}_enabled", True))


async def is_enabled(session: AsyncSession, name: str, default: bool) -> bool:
    row = await session.get(AdapterSwitch, name)
    return default if row is None else row.enabled


async def set_enabled(
    session: AsyncSession, principal: Principal, name: str, enabled: bool, reason: str | None
) -> AdapterSwitch:
    """The kill switch. Running adapters notice within a couple of seconds."""
    principal.require(Scope.ADMIN)
    if name not in KNOWN:
        raise NotFound(f"No adapter '{name}'.", field="adapter", code="UNKNOWN_ADAPTER")
    row = await session.get(AdapterSwitch, name)
    if row is None:
        row = AdapterSwitch(adapter=name, enabled=enabled, changed_by=principal.name)
        session.add(row)
    row.enabled, row.reason, row.changed_by = enabled, reason, principal.name
    row.changed_at = dt.datetime.now(dt.UTC)
    await session.flush()
    return row


@dataclass(slots=True)
class AdapterStatus:
    name: str
    enabled: bool
    received: int  # every message logged, duplicates and rejected ones included
    applied: int
    duplicates: int
    failed: int  # answered AE/AR: could not be read or applied as sent
    dead_lettered: int  # gave up after retries
    pending: int  # waiting: parked or to be retried
    parked: int
    lag_seconds: float  # age of the oldest pending message (0 when none)
    last_received_at: dt.datetime | None
    outbound: dict[str, int] = field(default_factory=dict)
    checkpoints: dict[str, str] = field(default_factory=dict)


async def status(
    session: AsyncSession, principal: Principal, name: str, *, default: bool
) -> AdapterStatus:
    principal.require(Scope.ADMIN)
    counts = await log.counts(session, name)
    oldest = await log.oldest_pending(session, name)
    now = dt.datetime.now(dt.UTC)
    return AdapterStatus(
        name=name,
        enabled=await is_enabled(session, name, default),
        received=sum(counts.values()),
        applied=counts.get(Status.APPLIED, 0),
        duplicates=counts.get(Status.DUPLICATE, 0),
        failed=counts.get(Status.REJECTED, 0),
        dead_lettered=counts.get(Status.DEAD, 0),
        pending=sum(counts.get(s, 0) for s in (Status.RECEIVED, Status.PARKED, Status.RETRY)),
        parked=counts.get(Status.PARKED, 0),
        lag_seconds=max(0.0, (now - oldest).total_seconds()) if oldest else 0.0,
        last_received_at=await log.last_received(session, name),
        outbound=await log.outbound_counts(session, name),
        checkpoints={c.stream: c.position for c in await log.checkpoints(session, name)},
    )


async def dead_letters(
    session: AsyncSession,
    principal: Principal,
    name: str | None,
    *,
    after: int | None = None,
    limit: int = 50,
) -> list[InboundMessage]:
    principal.require(Scope.ADMIN)
    return await log.dead_letters(session, name, after=after, limit=limit)


@dataclass(frozen=True, slots=True)
class Replayed:
    id: int
    status: str
    error_code: str | None
    error_text: str | None


async def replay(
    session: AsyncSession,
    principal: Principal,
    adapter: Adapter,
    ids: Sequence[int],
    *,
    backoff: Backoff = Backoff(),
) -> list[Replayed]:
    """Apply dead letters again (after a code map or a record was fixed). Each starts a
    fresh round of attempts; one that still fails goes back where it was, with the reason."""
    principal.require(Scope.ADMIN)
    rows = list(
        await session.scalars(
            select(InboundMessage)
            .where(InboundMessage.id.in_(list(ids)), InboundMessage.adapter == adapter.name)
            .order_by(InboundMessage.id)
            .with_for_update(skip_locked=True)
        )
    )
    missing = set(ids) - {r.id for r in rows}
    if missing:
        raise NotFound(
            f"No {adapter.name} message {min(missing)} (or it is being worked on).",
            field="id",
            code="NO_SUCH_MESSAGE",
        )
    not_dead = [r.id for r in rows if r.status not in DEAD_LETTERS]
    if not_dead:
        raise DomainError(
            f"Message {not_dead[0]} is not a dead letter; only dead or "
            "rejected messages are replayed.",
            field="id",
            code="NOT_A_DEAD_LETTER",
        )
    for row in rows:
        row.attempts = 0
    now = dt.datetime.now(dt.UTC)
    outcomes = await rework(session, adapter, rows, now=now, backoff=backoff)
    await session.flush()
    for row in rows:
        await session.refresh(row)
    return [Replayed(r.id, r.status, r.error_code, r.error_text) for r in rows] if outcomes else []


def summarize(results: Sequence[Replayed]) -> dict[str, Any]:
    done = sum(1 for r in results if r.status == Status.APPLIED)
    return {"replayed": len(results), "applied": done, "still_failing": len(results) - done}


__all__ = [
    "AdapterStatus",
    "Applied",
    "KNOWN",
    "Replayed",
    "build",
    "dead_letters",
    "default_enabled",
    "is_enabled",
    "replay",
    "set_enabled",
    "status",
    "summarize",
]
