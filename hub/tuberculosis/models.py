"""TB episodes (结核病管理): one per patient notification from the CDC system."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, utcnow


class TbEpisode(Base):
    """A notified TB patient referred to primary care, until the CDC closes the case."""

    __tablename__ = "tb_episode"
    __table_args__ = (UniqueConstraint("source", "source_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(40))
    source_id: Mapped[str] = mapped_column(String(60))  # the notification (报告卡) id
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), index=True)
    version: Mapped[int] = mapped_column(default=0)
    notified_at: Mapped[dt.datetime]  # starts the first-visit clock
    diagnosed_on: Mapped[dt.date | None]
    diagnosis_type: Mapped[str | None] = mapped_column(String(40))
    hospital: Mapped[str | None] = mapped_column(String(80))  # 定点医疗机构
    treatment_start: Mapped[dt.date | None]
    regimen: Mapped[str | None] = mapped_column(String(40))
    outcome: Mapped[str | None] = mapped_column(String(40))
    closed_on: Mapped[dt.date | None]
    overdue_marked_at: Mapped[dt.datetime | None]  # tb.visit_overdue emitted (once)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
