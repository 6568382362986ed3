"""API clients (接入方), their scopes and organizations, and the audit trail."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, utcnow


class Client(Base):
    __tablename__ = "client"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(default=list)
    organization_ids: Mapped[list[str]] = mapped_column(default=list)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AuditEvent(Base):
    """One row per read or write of personal data: who, what operation, which residents."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    client_id: Mapped[int | None] = mapped_column(ForeignKey("client.id"))
    actor: Mapped[str] = mapped_column(String(100))  # client name, or "cli", "adapter:his"
    action: Mapped[str] = mapped_column(String(10))  # READ | WRITE
    operation: Mapped[str] = mapped_column(String(100))
    resident_ids: Mapped[list[str]] = mapped_column(default=list)
    request_id: Mapped[str | None] = mapped_column(String(40))

    __table_args__ = (Index("ix_audit_event_at", "at"),)
