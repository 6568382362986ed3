"""Write events in the caller's transaction (transactional outbox)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from hub.events import signals
from hub.events.models import Event


def emit(
    session: AsyncSession,
    type: str,
    aggregate_type: str,
    aggregate_id: str | int,
    *,
    organization_ids: list[str] | None = None,
    **data: Any,
) -> Event:
    event = Event(
        type=type,
        aggregate_type=aggregate_type,
        aggregate_id=str(aggregate_id),
        organization_ids=organization_ids or [],
        data=data,
    )
    session.add(event)
    signals.mark(session)  # readers are woken when this transaction commits
    return event
