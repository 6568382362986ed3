"""The change feed (outbox): every change writes an event in its own transaction."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, utcnow


class Event(Base):
    __tablename__ = "event"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    type: Mapped[str] = mapped_column(String(60))  # e.g. resident.created, resident.merged
    aggregate_type: Mapped[str] = mapped_column(String(40))
    aggregate_id: Mapped[str] = mapped_column(String(64))
    organization_ids: Mapped[list[str]] = mapped_column(default=list)  # who may see it
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)  # ids and codes, no PII

    __table_args__ = (Index("ix_event_aggregate", "aggregate_type", "aggregate_id"),)
