"""The change feed (outbox): every change writes an event in its own transaction.

Readers (subscriptions, webhooks, adapters) keep a position and take what comes after
it. Row ids come from a sequence and are handed out before commit, so on PostgreSQL two
transactions can commit their events out of id order; a reader that only remembered
the last id would skip the slower one. Each event therefore also records its
transaction id (``tx``, assigned at the transaction's first write), and readers take
only events of transactions older than every transaction still running, ordered by
``(tx, id)`` (see ``hub.events.repository``): nothing is ever skipped, and changes of
one thing come in order when each change locks that thing's row first (as referral
transitions do). SQLite has one writer at a time, so ``tx`` is 0 there and ids are in
commit order.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.functions import FunctionElement

from hub.db import Base, utcnow


class current_tx(FunctionElement[int]):  # noqa: N801 - reads like the SQL function it is
    """The writing transaction's id (xid8) on PostgreSQL, 0 elsewhere."""

    type = BigInteger()
    inherit_cache = True


@compiles(current_tx)
def _current_tx_default(element: current_tx, compiler: Any, **kw: Any) -> str:
    return "0"


@compiles(current_tx, "postgresql")
def _current_tx_pg(element: current_tx, compiler: Any, **kw: Any) -> str:
    return "(pg_current_xact_id()::text::bigint)"


class Event(Base):
    __tablename__ = "event"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    type: Mapped[str] = mapped_column(String(60))  # e.g. resident.created, resident.merged
    aggregate_type: Mapped[str] = mapped_column(String(40))
    aggregate_id: Mapped[str] = mapped_column(String(64))
    organization_ids: Mapped[list[str]] = mapped_column(default=list)  # who may see it
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)  # ids and codes, no PII
    # Commit-order key (see the module docstring); never read it right after a flush.
    tx: Mapped[int] = mapped_column(BigInteger, default=current_tx())

    __table_args__ = (
        Index("ix_event_aggregate", "aggregate_type", "aggregate_id"),
        Index("ix_event_feed", "tx", "id"),
    )


class DeliveryStatus(StrEnum):
    PENDING = "PENDING"  # waiting for its (next) attempt
    DELIVERED = "DELIVERED"  # the receiver answered 2xx
    FAILED = "FAILED"  # attempts used up; kept for replay


class Webhook(Base):
    """A client's URL that receives the events it may see, signed with its secret."""

    __tablename__ = "webhook"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client.id"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    # event types or prefixes ending in '*' (referral.*); empty = every event the client may see
    events: Mapped[list[str]] = mapped_column(default=list)
    secret: Mapped[str] = mapped_column(String(100))  # HMAC key: must be kept, not hashed
    active: Mapped[bool] = mapped_column(default=True)
    # the outbox position this webhook has been fanned out to: (tx, id)
    cursor_tx: Mapped[int] = mapped_column(BigInteger, default=0)
    cursor_id: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class WebhookDelivery(Base):
    """One event for one webhook: attempts, outcome, and the lease of the worker sending it."""

    __tablename__ = "webhook_delivery"

    id: Mapped[int] = mapped_column(primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhook.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id"))
    status: Mapped[str] = mapped_column(String(12), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    lease_token: Mapped[str | None] = mapped_column(String(32))
    lease_until: Mapped[dt.datetime | None]
    last_status_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # per attempt

    __table_args__ = (
        UniqueConstraint("webhook_id", "event_id", name="uq_webhook_delivery_event"),
        Index("ix_webhook_delivery_due", "status", "next_attempt_at"),
    )
