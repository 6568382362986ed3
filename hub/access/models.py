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
    # A family doctor's app: bound to practitioners, it sees their teams' signed residents.
    practitioner_ids: Mapped[list[str]] = mapped_column(default=list)
    # The source systems (source_system.key) this client may write resident records as.
    sources: Mapped[list[str]] = mapped_column(default=list)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    rotated_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    # Budgets (hub.access.budgets): None = the settings' default, 0 = unlimited.
    rate_per_minute: Mapped[int | None] = mapped_column(default=None)
    cost_per_minute: Mapped[int | None] = mapped_column(default=None)
    introspection: Mapped[bool | None] = mapped_column(default=None)  # None = by mode


class SourceSystem(Base):
    """A source system records come from (HIS, maternal-child, a signing app...) and how far
    its values are trusted in the golden record: configuration, never inferred from a name."""

    __tablename__ = "source_system"

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # Higher wins a golden-record field; equal trust falls back to the newest record.
    trust: Mapped[int] = mapped_column(default=10)
    # Identity checked against the ID card (a hospital's registration desk): its name,
    # sex and birth date are not replaced by a less trusted source, only contradicted.
    verifies_identity: Mapped[bool] = mapped_column(default=False)
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
    # the hash chain (hub.access.audit): this row's hash and the one before it
    prev_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    hash: Mapped[str | None] = mapped_column(String(64), default=None)

    __table_args__ = (Index("ix_audit_event_at", "at"),
                      Index("ix_audit_event_client_at", "client_id", "at"))
