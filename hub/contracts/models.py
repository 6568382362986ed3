"""Contract tables: contracts (签约协议), their packages, periods and service deliveries (履约).

A contract keeps its id and number across renewals; each period it ran is a
``ContractPeriod`` row, and the contract row holds the current one (``starts_on`` ..
``ends_on``). Money is stored as whole fen (分) so both engines keep it exact.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from hub.db import Base, utcnow

CENT = Decimal("0.01")


class Money(TypeDecorator[Decimal]):
    """Yuan as ``Decimal`` in Python, whole fen (INTEGER) in the database."""

    impl = Integer
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Any) -> int | None:
        if value is None:
            return None
        return int((Decimal(value) * 100).to_integral_exact())

    def process_result_value(self, value: int | None, dialect: Any) -> Decimal | None:
        if value is None:
            return None
        return (Decimal(value) / 100).quantize(CENT)


class ContractStatus(StrEnum):
    ACTIVE = "ACTIVE"  # 有效
    TERMINATED = "TERMINATED"  # 解约
    EXPIRED = "EXPIRED"  # 期满未续约


class TerminationReason(StrEnum):
    """解约原因."""

    MOVED_AWAY = "MOVED_AWAY"  # 迁出/长期外出
    LOST_CONTACT_1Y = "LOST_CONTACT_1Y"  # 失访一年
    REFUSED_SERVICE_1Y = "REFUSED_SERVICE_1Y"  # 一年拒绝服务
    VOLUNTARY = "VOLUNTARY"  # 居民主动解约
    DEATH = "DEATH"  # 死亡
    OTHER = "OTHER"


class AbsenceDecision(StrEnum):
    """长期外出: what the resident decides (温州: 终止服务 / 迁移健康档案 / 继续原协议)."""

    TERMINATE = "TERMINATE"
    MOVE_RECORD = "MOVE_RECORD"
    KEEP = "KEEP"


class PeriodOrigin(StrEnum):
    """How a contract period began."""

    SIGNED = "SIGNED"
    RENEWED = "RENEWED"  # same packages (auto-renewal, or paid/re-signed)
    FALLEN_BACK = "FALLEN_BACK"  # 番禺: basic package → free package
    CONVERTED = "CONVERTED"  # 永康: fee signing → no-fee signing


class Contract(Base):
    """签约协议: one resident with one family doctor team of a primary-care institution."""

    __tablename__ = "contract"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)  # 签约号
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"))
    # Household signing: the household and the member who signed for it (户主).
    household_id: Mapped[int | None] = mapped_column(ForeignKey("household.id"), index=True)
    signed_by_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id"))
    guardian: Mapped[dict[str, Any] | None] = mapped_column(default=None)  # 监护人代签
    team_id: Mapped[str] = mapped_column(ForeignKey("team.id"))
    organization_id: Mapped[str] = mapped_column(ForeignKey("organization.id"))  # 甲方
    region_key: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(12), default=ContractStatus.ACTIVE)
    signed_on: Mapped[dt.date]
    paid_on: Mapped[dt.date | None]
    period_no: Mapped[int] = mapped_column(default=1)
    starts_on: Mapped[dt.date]
    ends_on: Mapped[dt.date]  # inclusive
    hospital_ids: Mapped[list[str]] = mapped_column(default=list)  # 1+1+1 / 1+1+N
    # Digest of the identity fields at signing: 番禺 auto-renews only when unchanged.
    personal_digest: Mapped[str | None] = mapped_column(String(64))
    # A paid or re-signed renewal waiting for the period end: {packages, chosen_items, paid_on}.
    renewal: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    away_since: Mapped[dt.date | None]  # 长期外出
    absence_decision: Mapped[str | None] = mapped_column(String(20))
    absence_recorded_at: Mapped[dt.datetime | None]
    ended_on: Mapped[dt.date | None]
    termination_reason: Mapped[str | None] = mapped_column(String(30))
    termination_note: Mapped[str | None] = mapped_column(String(500))
    terminated_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Optimistic lock: two writers (a mutation and the roll job) never both win.
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        # One active contract (one team) per resident, enforced by the database too.
        Index(
            "uq_contract_active_resident",
            "resident_id",
            unique=True,
            sqlite_where=text("status = 'ACTIVE'"),
            postgresql_where=text("status = 'ACTIVE'"),
        ),
        Index("ix_contract_resident", "resident_id", "id"),
        Index("ix_contract_team_status", "team_id", "status"),
        Index("ix_contract_org_status", "organization_id", "status"),
        Index("ix_contract_status_ends", "status", "ends_on", "id"),
    )


class ContractPackage(Base):
    """A package of the contract's current period, with its fee split for this resident."""

    __tablename__ = "contract_package"

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contract.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(20))
    chosen_items: Mapped[list[str]] = mapped_column(default=list)  # "k 选 n" choices
    price: Mapped[Decimal] = mapped_column(Money)
    public_health_fund: Mapped[Decimal] = mapped_column(Money)
    insurance_fund: Mapped[Decimal] = mapped_column(Money)
    personal: Mapped[Decimal] = mapped_column(Money)
    personal_paid_by: Mapped[str] = mapped_column(String(40))
    charge_item: Mapped[str | None] = mapped_column(String(100))

    __table_args__ = (UniqueConstraint("contract_id", "code", name="uq_contract_package"),)


class ContractPeriod(Base):
    """One period a contract ran (signed, renewed, fallen back, converted), kept as history."""

    __tablename__ = "contract_period"

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contract.id", ondelete="CASCADE"))
    period_no: Mapped[int]
    starts_on: Mapped[dt.date]
    ends_on: Mapped[dt.date]
    origin: Mapped[str] = mapped_column(String(20))
    packages: Mapped[list[str]] = mapped_column(default=list)
    # Totals as strings ("130.00") by fund, for history and reports.
    fees: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    # A period is written once: running the expiry roll twice cannot add it twice.
    __table_args__ = (UniqueConstraint("contract_id", "period_no", name="uq_contract_period"),)


class ServiceDelivery(Base):
    """履约记录: one service of a package item delivered to a signed resident."""

    __tablename__ = "service_delivery"

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contract.id", ondelete="CASCADE"))
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), index=True)
    item_code: Mapped[str] = mapped_column(String(60))
    performed_on: Mapped[dt.date]
    performer_id: Mapped[str | None] = mapped_column(ForeignKey("practitioner.id"))
    source: Mapped[str] = mapped_column(String(40))  # api, his, maternal, ...
    source_ref: Mapped[str | None] = mapped_column(String(100))  # the sender's id: idempotency
    recorded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        Index("ix_service_delivery_contract", "contract_id", "item_code", "performed_on"),
        UniqueConstraint("source", "source_ref", name="uq_service_delivery_source"),
    )


class ContractSequence(Base):
    """Last contract number used per region code and year (签约号 440113-2024-000123)."""

    __tablename__ = "contract_sequence"

    region_code: Mapped[str] = mapped_column(String(12), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(default=0)
