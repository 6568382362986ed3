"""Clinical facts gathered from adapters (诊疗记录): encounters and observations.

Each row names where it came from (`source`, `origin` = the message it was read from,
`seq` = its place in that message); the unique keys make applying a message twice
impossible at the database level, whatever the caller does.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, utcnow


class EncounterKind(StrEnum):
    VISIT = "VISIT"  # 门诊就诊
    FOLLOW_UP = "FOLLOW_UP"  # 慢病随访 (hypertension / type 2 diabetes)


class Encounter(Base):
    """One contact of a resident with a care provider, as a source system reported it."""

    __tablename__ = "encounter"

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), index=True)
    source: Mapped[str] = mapped_column(String(40))
    origin: Mapped[str] = mapped_column(String(120))  # message id at the source
    kind: Mapped[str] = mapped_column(String(20), default=EncounterKind.VISIT)
    conditions: Mapped[list[str]] = mapped_column(default=list)  # categories followed up
    facility: Mapped[str | None] = mapped_column(String(100))  # sending facility code
    started_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("source", "origin", name="uq_encounter_origin"),)


class Observation(Base):
    """A result (检验/检查结果, 体征). Blood pressure is one row, LOINC 85354-9, with the
    systolic (8480-6) and diastolic (8462-4) values in `components`. A local code stays
    in `local_code`; `mapped` says whether a standard code was found for it."""

    __tablename__ = "observation"

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"))
    encounter_id: Mapped[int | None] = mapped_column(ForeignKey("encounter.id"))
    source: Mapped[str] = mapped_column(String(40))
    origin: Mapped[str] = mapped_column(String(120))
    seq: Mapped[int]
    code: Mapped[str] = mapped_column(String(60))
    code_system: Mapped[str] = mapped_column(String(60))  # LOINC, or local:<system>
    display: Mapped[str | None] = mapped_column(String(200))
    local_code: Mapped[str | None] = mapped_column(String(100))  # "system:code" as sent
    mapped: Mapped[bool] = mapped_column(default=True)
    value_num: Mapped[float | None] = mapped_column(default=None)
    value_text: Mapped[str | None] = mapped_column(String(200))
    unit: Mapped[str | None] = mapped_column(String(30))
    components: Mapped[dict[str, Any] | None] = mapped_column(default=None)  # code -> value
    status: Mapped[str | None] = mapped_column(String(2))  # OBX-11: F final, C corrected
    effective_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        UniqueConstraint("source", "origin", "seq", name="uq_observation_origin"),
        Index("ix_observation_resident", "resident_id", "code", "effective_at"),
        Index("ix_observation_unmapped", "mapped", "source"),
    )
