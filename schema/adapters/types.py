"""Adapter types for operators: status counters, dead letters, replays."""

from __future__ import annotations

import datetime as dt
from typing import Any

import strawberry


@strawberry.type(description="A position a pull or push stream has reached.")
class AdapterCheckpoint:
    stream: str
    position: str


@strawberry.type
class StatusCount:
    status: str
    count: int


@strawberry.type(description="How an adapter is doing (the same figures as /metrics).")
class AdapterStatus:
    name: str
    enabled: bool = strawberry.field(description="The kill switch: false = stopped.")
    received: int = strawberry.field(description="Messages logged, duplicates included.")
    applied: int
    duplicates: int = strawberry.field(description="Seen before: acknowledged, not applied.")
    failed: int = strawberry.field(description="Answered AE/AR: unreadable or unusable.")
    dead_lettered: int = strawberry.field(description="Given up after retries.")
    pending: int = strawberry.field(description="Waiting: parked or to be retried.")
    parked: int = strawberry.field(description="Waiting for what they depend on.")
    lag_seconds: float = strawberry.field(description="Age of the oldest pending message.")
    last_received_at: dt.datetime | None
    checkpoints: list[AdapterCheckpoint]
    outbound: list[StatusCount]

    @classmethod
    def of(cls, s: Any) -> AdapterStatus:
        return cls(
            name=s.name,
            enabled=s.enabled,
            received=s.received,
            applied=s.applied,
            duplicates=s.duplicates,
            failed=s.failed,
            dead_lettered=s.dead_lettered,
            pending=s.pending,
            parked=s.parked,
            lag_seconds=s.lag_seconds,
            last_received_at=s.last_received_at,
            checkpoints=[AdapterCheckpoint(stream=k, position=v) for k, v in s.checkpoints.items()],
            outbound=[StatusCount(status=k, count=v) for k, v in sorted(s.outbound.items())],
        )


@strawberry.type(description="A message that could not be applied, kept with the reason.")
class DeadLetter:
    id: int
    adapter: str
    status: str = strawberry.field(description="REJECTED (answered AE/AR) or DEAD (gave up).")
    received_at: dt.datetime
    control_id: str | None
    message_type: str | None
    attempts: int
    ack: str | None = strawberry.field(description="What the sender was answered.")
    error_code: str | None
    error_text: str | None

    @classmethod
    def of(cls, r: Any) -> DeadLetter:
        return cls(
            id=r.id,
            adapter=r.adapter,
            status=r.status,
            received_at=r.received_at,
            control_id=r.control_id,
            message_type=r.message_type,
            attempts=r.attempts,
            ack=r.ack_code,
            error_code=r.error_code,
            error_text=r.error_text,
        )


@strawberry.type
class ReplayResult:
    id: int
    status: str
    error_code: str | None
    error_text: str | None
