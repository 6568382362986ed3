"""Tables every adapter shares: the inbound log, outbound queue, checkpoints, switches.

The inbound log keeps the raw bytes of every message received. Its identity columns
(adapter, received_at, control_id, payload_hash, payload) are written once and never
updated; only the processing columns (status, attempts, error, result) move.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.crypto import EncryptedBytes
from hub.db import Base, utcnow


class Status(StrEnum):
    RECEIVED = "RECEIVED"  # stored, not applied yet (claimable)
    APPLIED = "APPLIED"
    DUPLICATE = "DUPLICATE"  # seen before (duplicate_of_id); never applied
    PARKED = "PARKED"  # waits for what it depends on (an update before its create)
    RETRY = "RETRY"  # a transient failure; tried again after next_attempt_at
    REJECTED = "REJECTED"  # answered AR/AE: cannot be read or applied as sent
    DEAD = "DEAD"  # gave up after the last attempt; waits for an operator's replay


PENDING = (Status.RECEIVED, Status.PARKED, Status.RETRY)
DEAD_LETTERS = (Status.DEAD, Status.REJECTED)


class InboundMessage(Base):
    """One message as received (收到的原始报文), with what became of it."""

    __tablename__ = "adapter_inbound"

    id: Mapped[int] = mapped_column(primary_key=True)
    adapter: Mapped[str] = mapped_column(String(40))
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    control_id: Mapped[str | None] = mapped_column(String(100))  # MSH-10 / message id
    payload_hash: Mapped[str] = mapped_column(String(64))  # sha256 hex of the raw bytes
    # encrypted at rest (hub.crypto): raw messages carry names, ID numbers, phones
    payload: Mapped[bytes] = mapped_column(EncryptedBytes("adapter_inbound.payload"))
    message_type: Mapped[str | None] = mapped_column(String(20))  # e.g. ADT^A04
    order_key: Mapped[str | None] = mapped_column(String(120))  # per-person ordering key
    version_key: Mapped[str | None] = mapped_column(String(120))  # set: a full state message
    event_time: Mapped[dt.datetime | None] = mapped_column(default=None)
    status: Mapped[str] = mapped_column(String(10), default=Status.RECEIVED)
    ack_code: Mapped[str | None] = mapped_column(String(2))  # AA / AE / AR as answered
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("adapter_inbound.id"))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    error_code: Mapped[str | None] = mapped_column(String(60))
    error_text: Mapped[str | None] = mapped_column(String(500))
    result: Mapped[dict[str, Any] | None] = mapped_column(default=None)  # ids, no PII
    applied_at: Mapped[dt.datetime | None] = mapped_column(default=None)

    __table_args__ = (
        Index("ix_adapter_inbound_control", "adapter", "control_id"),
        Index("ix_adapter_inbound_hash", "adapter", "payload_hash"),
        Index("ix_adapter_inbound_due", "adapter", "status", "next_attempt_at"),
        Index("ix_adapter_inbound_order", "adapter", "order_key"),
        Index("ix_adapter_inbound_version", "adapter", "version_key", "status"),
    )


class OutboundMessage(Base):
    """A message the hub must deliver to an external system (e.g. REF^I12), with retries."""

    __tablename__ = "adapter_outbound"

    id: Mapped[int] = mapped_column(primary_key=True)
    adapter: Mapped[str] = mapped_column(String(40))
    event_id: Mapped[int | None] = mapped_column(unique=True)  # the outbox event it came from
    destination: Mapped[str] = mapped_column(String(100))
    control_id: Mapped[str] = mapped_column(String(100))
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(10), default=Status.RECEIVED)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    error_code: Mapped[str | None] = mapped_column(String(60))
    error_text: Mapped[str | None] = mapped_column(String(500))
    reply: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    sent_at: Mapped[dt.datetime | None] = mapped_column(default=None)

    __table_args__ = (Index("ix_adapter_outbound_due", "adapter", "status", "next_attempt_at"),)


class Checkpoint(Base):
    """Where a stream was read up to (a cursor, an update time, an event id). Advanced in
    the same transaction as the work it covers, so a crash re-reads, never skips."""

    __tablename__ = "adapter_checkpoint"

    adapter: Mapped[str] = mapped_column(String(40), primary_key=True)
    stream: Mapped[str] = mapped_column(String(60), primary_key=True)
    position: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AdapterSwitch(Base):
    """The kill switch of an adapter, set by an operator. No row = the settings decide."""

    __tablename__ = "adapter_switch"

    adapter: Mapped[str] = mapped_column(String(40), primary_key=True)
    enabled: Mapped[bool]
    reason: Mapped[str | None] = mapped_column(String(300))
    changed_by: Mapped[str] = mapped_column(String(100))
    changed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
