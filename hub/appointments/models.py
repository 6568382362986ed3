"""Clinic sessions (FHIR Schedule), their slots (Slot) and bookings (Appointment)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, utcnow


class ServiceKind(StrEnum):
    GENERAL = "GENERAL"  # 普通门诊
    CHRONIC_FOLLOW_UP = "CHRONIC_FOLLOW_UP"  # 慢性病管理
    CHILD_CARE = "CHILD_CARE"  # 儿童保健
    VACCINATION = "VACCINATION"  # 预防接种
    HEALTH_CHECK = "HEALTH_CHECK"  # 健康体检


class AppointmentStatus(StrEnum):
    BOOKED = "BOOKED"
    ARRIVED = "ARRIVED"
    NO_SHOW = "NO_SHOW"
    CANCELLED = "CANCELLED"


class ClinicSession(Base):
    """签约门诊时段: a team's clinic on one day, cut into slots."""

    __tablename__ = "clinic_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(ForeignKey("team.id"), index=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organization.id"))
    day: Mapped[dt.date]
    start: Mapped[str] = mapped_column(String(5))  # "09:00", local time
    end: Mapped[str] = mapped_column(String(5))
    slot_minutes: Mapped[int]
    service_kind: Mapped[str] = mapped_column(String(20))
    off_hours: Mapped[bool] = mapped_column(default=False)  # 错时服务
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AppointmentSlot(Base):
    """One slot; `taken` is set by a conditional UPDATE, so two bookings never share it."""

    __tablename__ = "appointment_slot"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("clinic_session.id"), index=True)
    team_id: Mapped[str] = mapped_column(ForeignKey("team.id"))
    service_kind: Mapped[str] = mapped_column(String(20))
    start_at: Mapped[dt.datetime]
    end_at: Mapped[dt.datetime]
    taken: Mapped[bool] = mapped_column(default=False)

    __table_args__ = (Index("ix_appointment_slot_team_start", "team_id", "start_at"),)


class Appointment(Base):
    """A resident's booking of a slot."""

    __tablename__ = "appointment"

    id: Mapped[int] = mapped_column(primary_key=True)
    slot_id: Mapped[int] = mapped_column(ForeignKey("appointment_slot.id"), index=True)
    team_id: Mapped[str] = mapped_column(ForeignKey("team.id"))
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), index=True)
    service_kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(10), default=AppointmentStatus.BOOKED)
    start_at: Mapped[dt.datetime]  # the slot's, copied: the work list reads one table
    end_at: Mapped[dt.datetime]
    booked_by_client_id: Mapped[int | None] = mapped_column(default=None)
    booked_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (Index("ix_appointment_team_start", "team_id", "start_at"),)
