"""Directory tables: organizations (机构), practitioners (医务人员), teams (家庭医生团队)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, utcnow


class OrganizationKind(StrEnum):
    COMMUNITY_HEALTH_CENTER = "COMMUNITY_HEALTH_CENTER"  # 社区卫生服务中心
    COMMUNITY_HEALTH_STATION = "COMMUNITY_HEALTH_STATION"  # 社区卫生服务站
    TOWNSHIP_HEALTH_CENTER = "TOWNSHIP_HEALTH_CENTER"  # 乡镇卫生院
    VILLAGE_CLINIC = "VILLAGE_CLINIC"  # 村卫生室
    SECONDARY_HOSPITAL = "SECONDARY_HOSPITAL"  # 二级医院
    TERTIARY_HOSPITAL = "TERTIARY_HOSPITAL"  # 三级医院
    MATERNAL_CHILD_HOSPITAL = "MATERNAL_CHILD_HOSPITAL"  # 妇幼保健院


PRIMARY_CARE_KINDS = frozenset(
    {
        OrganizationKind.COMMUNITY_HEALTH_CENTER,
        OrganizationKind.COMMUNITY_HEALTH_STATION,
        OrganizationKind.TOWNSHIP_HEALTH_CENTER,
        OrganizationKind.VILLAGE_CLINIC,
    }
)


class PractitionerRole(StrEnum):
    GP = "GP"  # 全科医生
    ASSISTANT_GP = "ASSISTANT_GP"  # 助理全科医生
    TCM_GP = "TCM_GP"  # 中医类别全科医生
    VILLAGE_DOCTOR = "VILLAGE_DOCTOR"  # 乡村医生
    NURSE = "NURSE"  # 护士
    PUBLIC_HEALTH_PHYSICIAN = "PUBLIC_HEALTH_PHYSICIAN"  # 公卫医生
    SPECIALIST = "SPECIALIST"  # 专科医生
    PHARMACIST = "PHARMACIST"  # 药师
    HEALTH_MANAGER = "HEALTH_MANAGER"  # 健康管理师
    PSYCHOLOGIST = "PSYCHOLOGIST"  # 心理咨询师
    SOCIAL_WORKER = "SOCIAL_WORKER"  # 社工


class Organization(Base):
    __tablename__ = "organization"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(40))
    region_key: Mapped[str | None] = mapped_column(String(40), index=True)
    region_code: Mapped[str] = mapped_column(String(12))  # GB/T 2260
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("organization.id"))
    primary_care: Mapped[bool] = mapped_column(default=False)
    address: Mapped[str | None] = mapped_column(String(300))
    phone: Mapped[str | None] = mapped_column(String(40))
    integration: Mapped[str | None] = mapped_column(String(20))  # e.g. "hl7" for REF^I12
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Practitioner(Base):
    __tablename__ = "practitioner"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    sex: Mapped[str | None] = mapped_column(String(1))
    role: Mapped[str] = mapped_column(String(40))
    organization_id: Mapped[str] = mapped_column(ForeignKey("organization.id"), index=True)
    phone: Mapped[str | None] = mapped_column(String(40))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Team(Base):
    """家庭医生团队: led by a family doctor, works a grid (网格), bounded capacity in households."""

    __tablename__ = "team"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    organization_id: Mapped[str] = mapped_column(ForeignKey("organization.id"), index=True)
    leader_id: Mapped[str | None] = mapped_column(ForeignKey("practitioner.id"))
    grid_area: Mapped[str | None] = mapped_column(String(300))
    capacity_households: Mapped[int | None]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class TeamMember(Base):
    __tablename__ = "team_member"

    team_id: Mapped[str] = mapped_column(
        ForeignKey("team.id", ondelete="CASCADE"), primary_key=True
    )
    practitioner_id: Mapped[str] = mapped_column(ForeignKey("practitioner.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(40))

    __table_args__ = (Index("ix_team_member_practitioner", "practitioner_id"),)
