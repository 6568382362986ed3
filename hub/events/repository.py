"""Reading the outbox without gaps, and the webhook tables' queries.

A *position* is ``(tx, id)`` of the last event a reader has taken. ``read_after`` returns
only *settled* events: on PostgreSQL those of transactions older than every transaction
still running (``pg_snapshot_xmin``), so nothing can commit later at a lower position.
The price: a long write transaction anywhere on the server (transaction ids are
server-wide) holds readers back until it ends. They wait; they never skip.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, func, literal_column, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from hub.events.models import DeliveryStatus, Event, Webhook, WebhookDelivery

Position = tuple[int, int]
START: Position = (0, 0)


@dataclass(frozen=True, slots=True)
class FeedEvent:
    """An event detached from its session, as readers pass it around."""

    id: int
    tx: int
    at: dt.datetime
    type: str
    aggregate_type: str
    aggregate_id: str
    organization_ids: tuple[str, ...]
    data: dict[str, Any]

    @property
    def position(self) -> Position:
        return (self.tx, self.id)

    @classmethod
    def of(cls, row: Any) -> FeedEvent:
        return cls(
            id=row.id,
            tx=row.tx,
            at=row.at,
            type=row.type,
            aggregate_type=row.aggregate_type,
            aggregate_id=row.aggregate_id,
            organization_ids=tuple(row.organization_ids or ()),
            data=dict(row.data or {}),
        )

    def body(self) -> dict[str, Any]:
        """The JSON form webhooks receive."""
        return {
            "id": str(self.id),
            "type": self.type,
            "at": self.at.isoformat(),
            "aggregateType": self.aggregate_type,
            "aggregateId": self.aggregate_id,
            "organizationIds": list(self.organization_ids),
            "data": self.data,
        }


_COLUMNS = (
    Event.id,
    Event.tx,
    Event.at,
    Event.type,
    Event.aggregate_type,
    Event.aggregate_id,
    Event.organization_ids,
    Event.data,
)


def _settled(session: AsyncSession) -> ColumnElement[bool] | None:
    if session.get_bind().dialect.name == "postgresql":
        return Event.tx < literal_column("pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
    return None  # SQLite: one writer at a time, ids are in commit order


def _after(position: Position) -> ColumnElement[bool]:
    return tuple_(Event.tx, Event.id) > tuple_(position[0], position[1])


async def head(session: AsyncSession) -> Position:
    """The newest settled position: a reader starting now takes what comes after it."""
    stmt = select(Event.tx, Event.id).order_by(Event.tx.desc(), Event.id.desc())
    if (cond := _settled(session)) is not None:
        stmt = stmt.where(cond)
    row = (await session.execute(stmt.limit(1))).first()
    return (int(row[0]), int(row[1])) if row else START


async def read_after(
    session: AsyncSession, position: Position, *, limit: int, until: Position | None = None
) -> list[FeedEvent]:
    stmt = select(*_COLUMNS).where(_after(position))
    if until is not None:
        stmt = stmt.where(tuple_(Event.tx, Event.id) <= tuple_(until[0], until[1]))
    elif (cond := _settled(session)) is not None:
        stmt = stmt.where(cond)
    rows = await session.execute(stmt.order_by(Event.tx, Event.id).limit(limit))
    return [FeedEvent.of(r) for r in rows]


async def events(session: AsyncSession, ids: Sequence[int]) -> dict[int, FeedEvent]:
    rows = await session.execute(select(*_COLUMNS).where(Event.id.in_(ids)))
    return {r.id: FeedEvent.of(r) for r in rows}


# ---- webhooks -------------------------------------------------------------------------------


async def active_webhook_ids(session: AsyncSession) -> list[int]:
    return list(
        (
            await session.scalars(
                select(Webhook.id).where(Webhook.active.is_(True)).order_by(Webhook.id)
            )
        ).all()
    )


def due(now: dt.datetime) -> ColumnElement[bool]:
    return and_(
        WebhookDelivery.status == DeliveryStatus.PENDING,
        WebhookDelivery.next_attempt_at <= now,
        or_(WebhookDelivery.lease_until.is_(None), WebhookDelivery.lease_until < now),
    )


async def due_ids(session: AsyncSession, now: dt.datetime, limit: int) -> list[int]:
    return list(
        (
            await session.scalars(
                select(WebhookDelivery.id)
                .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
                .where(due(now), Webhook.active.is_(True))  # a deactivated hook waits
                .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
                .limit(limit)
            )
        ).all()
    )


async def next_due_at(session: AsyncSession) -> dt.datetime | None:
    """When the earliest pending delivery becomes due (or its lease runs out)."""
    return await session.scalar(
        select(
            func.min(func.coalesce(WebhookDelivery.lease_until, WebhookDelivery.next_attempt_at))
        ).where(WebhookDelivery.status == DeliveryStatus.PENDING)
    )
