"""Referral tables: referrals (转诊单), transitions, prescriptions, hospital capacity, bookings.

A referral always joins one family doctor team and one hospital; ``direction`` says which
way the resident goes (UP: team → hospital, 上转; DOWN: hospital → team, 下转).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, utcnow


class Direction(StrEnum):
    UP = "UP"  # 上转: team → secondary/tertiary hospital
    DOWN = "DOWN"  # 下转: hospital → team


class ReferralStatus(StrEnum):
    REQUESTED = "REQUESTED"
    RECEIVED = "RECEIVED"
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    ARRIVED = "ARRIVED"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"


class Urgency(StrEnum):
    ROUTINE = "ROUTINE"
    URGENT = "URGENT"
    EMERGENCY = "EMERGENCY"  # 绿色通道


class Priority(StrEnum):
    """The "three priorities" (三优先) a referred resident is entitled to."""

    EXPERT_APPOINTMENT = "EXPERT_APPOINTMENT"  # 优先专家号
    EXAMINATION = "EXAMINATION"  # 优先辅助检查
    ADMISSION = "ADMISSION"  # 优先住院


class BookingKind(StrEnum):
    EXPERT_SLOT = "EXPERT_SLOT"  # 专家号
    BED = "BED"  # 床位


class BookingStatus(StrEnum):
    BOOKED = "BOOKED"
    RELEASED = "RELEASED"  # the referral was cancelled after acceptance


class Referral(Base):
    __tablename__ = "referral"

    id: Mapped[int] = mapped_column(primary_key=True)
    direction: Mapped[str] = mapped_column(String(4))
    status: Mapped[str] = mapped_column(String(12), default=ReferralStatus.REQUESTED)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"))
    team_id: Mapped[str] = mapped_column(ForeignKey("team.id"))
    # the team's institution, kept here so visibility needs no join
    team_organization_id: Mapped[str] = mapped_column(ForeignKey("organization.id"))
    hospital_id: Mapped[str] = mapped_column(ForeignKey("organization.id"))
    department: Mapped[str | None] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text)
    diagnosis_code: Mapped[str] = mapped_column(String(16))  # ICD-10
    diagnosis_text: Mapped[str | None] = mapped_column(String(300))
    urgency: Mapped[str] = mapped_column(String(10), default=Urgency.ROUTINE)
    priorities: Mapped[list[str]] = mapped_column(default=list)
    # summary documents by reference: [{title, url, content_type}]
    documents: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # signed (签约) when requested; refreshed when a booking is made
    resident_signed: Mapped[bool] = mapped_column(default=False)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("referral.id"))
    discharge_summary: Mapped[str | None] = mapped_column(Text)
    rehabilitation_plan: Mapped[str | None] = mapped_column(Text)
    completion_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        Index("ix_referral_hospital", "hospital_id", "status"),
        Index("ix_referral_team_org", "team_organization_id", "id"),
        Index("ix_referral_team", "team_id", "status"),
        Index("ix_referral_resident", "resident_id"),
        Index("ix_referral_parent", "parent_id"),
    )


class ReferralTransition(Base):
    """Each status change: when, who (client or internal actor), and why."""

    __tablename__ = "referral_transition"

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(
        ForeignKey("referral.id", ondelete="CASCADE"), index=True
    )
    from_status: Mapped[str | None] = mapped_column(String(12))
    to_status: Mapped[str] = mapped_column(String(12))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))
    client_id: Mapped[int | None] = mapped_column(ForeignKey("client.id"))
    note: Mapped[str | None] = mapped_column(Text)


class ReferralPrescription(Base):
    """A prescription the team continues after a down-referral (延续处方)."""

    __tablename__ = "referral_prescription"

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(
        ForeignKey("referral.id", ondelete="CASCADE"), index=True
    )
    drug: Mapped[str] = mapped_column(String(200))
    dose: Mapped[str] = mapped_column(String(100))
    frequency: Mapped[str | None] = mapped_column(String(100))
    duration_amount: Mapped[int]
    duration_unit: Mapped[str] = mapped_column(String(8))  # day | week | month
    issued_on: Mapped[dt.date]


class Capacity(Base):
    """Expert slots and beds a hospital publishes for one day and department, and the part
    reserved for referrals from below (预留专家号和床位), with what is booked of it."""

    __tablename__ = "hospital_capacity"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organization.id"))
    date: Mapped[dt.date]
    department: Mapped[str] = mapped_column(String(100))
    expert_slots: Mapped[int]
    beds: Mapped[int]
    reserved_expert_slots: Mapped[int]
    reserved_beds: Mapped[int]
    booked_expert_slots: Mapped[int] = mapped_column(default=0)
    booked_beds: Mapped[int] = mapped_column(default=0)
    # the policy share applied per resource (None = the region sets none), for reviewers
    shares: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    published_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    published_by: Mapped[str] = mapped_column(String(100))

    __table_args__ = (
        UniqueConstraint("organization_id", "date", "department", name="uq_hospital_capacity_day"),
    )


class Booking(Base):
    """The reserved slot or bed an accepted up-referral holds."""

    __tablename__ = "referral_booking"

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(
        ForeignKey("referral.id", ondelete="CASCADE"), unique=True
    )
    capacity_id: Mapped[int] = mapped_column(ForeignKey("hospital_capacity.id"), index=True)
    kind: Mapped[str] = mapped_column(String(12))
    date: Mapped[dt.date]
    department: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(10), default=BookingStatus.BOOKED)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    released_at: Mapped[dt.datetime | None]
