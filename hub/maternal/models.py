"""Maternal-child health facts from the 妇幼 system: pregnancy episodes (孕产期), their
visits, deliveries, births (出生医学证明, linking a newborn to the mother) and child
health exams (儿童健康检查). Each row keeps the source record id it came from."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, utcnow


class Pregnancy(Base):
    """One pregnancy, registered in a 母子健康手册, until 42 days after delivery."""

    __tablename__ = "maternal_pregnancy"

    id: Mapped[int] = mapped_column(primary_key=True)
    handbook_no: Mapped[str] = mapped_column(String(40), unique=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), index=True)
    source_record_id: Mapped[str] = mapped_column(String(60))
    lmp: Mapped[dt.date | None]
    edd: Mapped[dt.date | None]
    gravidity: Mapped[int | None]
    parity: Mapped[int | None]
    registered_on: Mapped[dt.date | None]
    registered_week: Mapped[int | None]
    institution: Mapped[str | None] = mapped_column(String(60))
    risk_colour: Mapped[str | None] = mapped_column(String(10))  # the latest assessment
    risk_assessed_on: Mapped[dt.date | None]
    delivered_at: Mapped[dt.datetime | None]
    delivered_on: Mapped[dt.date | None]
    discharged_on: Mapped[dt.date | None]
    delivery_mode: Mapped[str | None] = mapped_column(String(20))
    delivery_institution: Mapped[str | None] = mapped_column(String(60))
    outcome: Mapped[str | None] = mapped_column(String(20))
    babies: Mapped[int | None]
    # PREGNANT_POSTPARTUM holds up to this day (42 days after delivery; recomputed on
    # every change); read against today, so the category ends by itself.
    category_ends_on: Mapped[dt.date | None] = mapped_column(index=True)
    deleted: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class MaternalVisit(Base):
    """A prenatal visit (产前随访), postpartum visit (产后访视) or 42-day check."""

    __tablename__ = "maternal_visit"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_record_id: Mapped[str] = mapped_column(String(60), unique=True)
    pregnancy_id: Mapped[int] = mapped_column(ForeignKey("maternal_pregnancy.id"), index=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))  # the record kind: prenatal_visit, …
    visit_on: Mapped[dt.date]
    gestational_week: Mapped[int | None]
    institution: Mapped[str | None] = mapped_column(String(60))
    risk_colour: Mapped[str | None] = mapped_column(String(10))
    systolic: Mapped[int | None]
    diastolic: Mapped[int | None]
    weight_kg: Mapped[float | None]
    findings: Mapped[str | None] = mapped_column(String(500))
    local_codes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    deleted: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Birth(Base):
    """出生医学证明: a newborn, as a resident, linked to the mother and the pregnancy."""

    __tablename__ = "maternal_birth"

    id: Mapped[int] = mapped_column(primary_key=True)
    certificate_no: Mapped[str] = mapped_column(String(40), unique=True)
    source_record_id: Mapped[str] = mapped_column(String(60))
    pregnancy_id: Mapped[int] = mapped_column(ForeignKey("maternal_pregnancy.id"), index=True)
    mother_resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), index=True)
    child_resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), unique=True)
    sex: Mapped[str | None] = mapped_column(String(1))
    born_at: Mapped[dt.datetime | None]
    birth_weight_g: Mapped[int | None]
    birth_order: Mapped[int | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ChildExam(Base):
    """A newborn home visit (新生儿访视) or a child health exam (儿童健康检查)."""

    __tablename__ = "maternal_child_exam"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_record_id: Mapped[str] = mapped_column(String(60), unique=True)
    birth_id: Mapped[int] = mapped_column(ForeignKey("maternal_birth.id"), index=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"))
    kind: Mapped[str] = mapped_column(String(30))  # newborn_visit / child_exam
    exam_on: Mapped[dt.date]
    age_months: Mapped[int | None]
    institution: Mapped[str | None] = mapped_column(String(60))
    height_cm: Mapped[float | None]
    weight_kg: Mapped[float | None]
    development: Mapped[str | None] = mapped_column(String(20))
    anaemia: Mapped[bool | None]
    jaundice: Mapped[bool | None]
    findings: Mapped[str | None] = mapped_column(String(500))
    deleted: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (Index("ix_maternal_child_exam_resident", "resident_id", "exam_on"),)
