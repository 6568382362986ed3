"""Report tables: where a resident lives (乡镇/村), the monthly low-income lists (低收入农户名单)
and insurance enrolment (参保) as the offices send them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, utcnow


class ResidentLocality(Base):
    """乡镇（街道）and 村（社区） of a resident, the keys township and village reports group by.
    Filled by the demo, the low-income import (the list names both) and `hub report locate`
    (read from the address text)."""

    __tablename__ = "resident_locality"

    resident_id: Mapped[int] = mapped_column(
        ForeignKey("resident.id", ondelete="CASCADE"), primary_key=True
    )
    region_key: Mapped[str] = mapped_column(String(40))
    township: Mapped[str] = mapped_column(String(60))
    village: Mapped[str | None] = mapped_column(String(60))

    __table_args__ = (Index("ix_resident_locality_region", "region_key", "township", "village"),)


class LowIncomeMember(Base):
    """One person on a region's low-income list for one month (one row of the office's file)."""

    __tablename__ = "low_income_member"

    id: Mapped[int] = mapped_column(primary_key=True)
    region_key: Mapped[str] = mapped_column(String(40))
    month: Mapped[str] = mapped_column(String(7))  # YYYY-MM
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id", ondelete="CASCADE"))
    household_key: Mapped[str] = mapped_column(String(18))  # 户主身份证号
    township: Mapped[str] = mapped_column(String(60))
    village: Mapped[str | None] = mapped_column(String(60))
    relation: Mapped[str | None] = mapped_column(String(20))
    category: Mapped[str] = mapped_column(String(40))
    imported_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        UniqueConstraint("region_key", "month", "resident_id", name="uq_low_income_member"),
        Index("ix_low_income_member_month", "region_key", "month", "township"),
        Index("ix_low_income_member_resident", "resident_id"),
    )


class InsuranceEnrolment(Base):
    """参保: one enrolment period of a resident as the insurance office reports it."""

    __tablename__ = "insurance_enrolment"

    id: Mapped[int] = mapped_column(primary_key=True)
    region_key: Mapped[str] = mapped_column(String(40))
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id", ondelete="CASCADE"))
    insurance_type: Mapped[str] = mapped_column(String(30))
    starts_on: Mapped[dt.date]
    ends_on: Mapped[dt.date | None]
    imported_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        UniqueConstraint(
            "resident_id", "insurance_type", "starts_on", name="uq_insurance_enrolment"
        ),
    )


class ReportSnapshot(Base):
    """A report's counts as computed by the refresh job (`hub report refresh`, or the
    server's HUB_REPORTS_REFRESH_EVERY loop) for the whole district: the rollup an unbound
    client's report answers from on the day it counts for (`as_of`), with `refreshed_at`
    shown as its staleness. `args_key` is the report's normalised arguments."""

    __tablename__ = "report_snapshot"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(30))
    region_key: Mapped[str] = mapped_column(String(40))
    args_key: Mapped[str] = mapped_column(String(200))
    as_of: Mapped[dt.date]
    refreshed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    body: Mapped[dict[str, Any]] = mapped_column()

    __table_args__ = (
        UniqueConstraint("name", "region_key", "args_key", name="uq_report_snapshot"),
    )
