"""Immunization facts from the 免疫规划信息系统: vaccination events (接种记录) with their
product details, adverse events following immunization (疑似预防接种异常反应), the child
as the source knows it (受种者, 预防接种证, guardian), and the overdue markers that make
`immunization.overdue` fire once per dose."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, UtcDateTime, utcnow


class VaccinationSubject(Base):
    """A child (受种者) of the immunization system, linked to a resident and its guardian."""

    __tablename__ = "immunization_subject"
    __table_args__ = (UniqueConstraint("source", "source_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(40))
    source_id: Mapped[str] = mapped_column(String(60))  # 受种者编码
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), index=True)
    guardian_resident_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id"))
    guardian_relation: Mapped[str | None] = mapped_column(String(20))
    certificate_no: Mapped[str | None] = mapped_column(String(40))  # 预防接种证编号
    version: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(timezone=True), default=utcnow)


class VaccinationEvent(Base):
    """One dose given (接种记录), as the vaccinating unit recorded it."""

    __tablename__ = "immunization_event"
    __table_args__ = (UniqueConstraint("source", "source_event_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(40))
    source_event_id: Mapped[str] = mapped_column(String(60))
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), index=True)
    vaccine: Mapped[str | None] = mapped_column(String(20))  # the schedule's abbreviation
    local_code: Mapped[str] = mapped_column(String(20))  # as the source sent it
    product_name: Mapped[str | None] = mapped_column(String(80))
    dose_number: Mapped[int | None]  # as the source numbered it
    given_on: Mapped[dt.date]
    lot: Mapped[str | None] = mapped_column(String(40))
    manufacturer: Mapped[str | None] = mapped_column(String(80))
    trace_code: Mapped[str | None] = mapped_column(String(20))  # 20-digit 疫苗追溯码
    site: Mapped[str | None] = mapped_column(String(20))
    route: Mapped[str | None] = mapped_column(String(20))
    unit: Mapped[str | None] = mapped_column(String(80))  # 接种单位
    entered_in_error: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(timezone=True), default=utcnow)


class AdverseEvent(Base):
    """疑似预防接种异常反应 (AEFI) reported after a dose."""

    __tablename__ = "immunization_adverse_event"
    __table_args__ = (UniqueConstraint("source", "source_event_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(40))
    source_event_id: Mapped[str] = mapped_column(String(60))
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), index=True)
    vaccination_event_id: Mapped[str | None] = mapped_column(String(60))
    onset_on: Mapped[dt.date | None]
    reaction: Mapped[str | None] = mapped_column(String(80))
    severity: Mapped[str | None] = mapped_column(String(20))


class OverdueMarker(Base):
    """Set the first time a dose of a series is found overdue: the unique key makes the
    `immunization.overdue` event fire once, whichever process finds it first."""

    __tablename__ = "immunization_overdue"
    __table_args__ = (UniqueConstraint("resident_id", "series", "dose"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"))
    series: Mapped[str] = mapped_column(String(20))
    dose: Mapped[int]
    due_by: Mapped[dt.date]
    marked_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(timezone=True), default=utcnow)
