"""The plain records a generated demo district is made of (no database, no behaviour).

Residents and households refer to each other by position in `District.residents`
(`resident_index`), everything else by the string ids the generator assigns
("panyu-org-001", "panyu-team-007", ...), so a loader can insert them in any order.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from hub.demo.districts import DistrictSpec
from hub.demo.people import SyntheticPerson

ORGANIZATION_KINDS = (
    "COMMUNITY_HEALTH_CENTER",  # 社区卫生服务中心
    "COMMUNITY_HEALTH_STATION",  # 社区卫生服务站
    "TOWNSHIP_HEALTH_CENTER",  # 乡镇卫生院
    "VILLAGE_CLINIC",  # 村卫生室
    "SECONDARY_HOSPITAL",  # 二级医院
    "TERTIARY_HOSPITAL",  # 三级医院
    "MATERNAL_CHILD_HOSPITAL",  # 妇幼保健院
)
PRACTITIONER_ROLES = (
    "GP",  # 全科医生
    "ASSISTANT_GP",  # 助理全科医生
    "TCM_GP",  # 中医全科医生
    "VILLAGE_DOCTOR",  # 乡村医生
    "NURSE",  # 社区护士
    "PUBLIC_HEALTH_PHYSICIAN",  # 公卫医师
    "SPECIALIST",  # 专科医生 (hospital doctor joining a team through multi-site practice)
    "PHARMACIST",  # 药师
    "HEALTH_MANAGER",  # 健康管理师
)
# Roles that may lead a team as its family doctor [JL].
FAMILY_DOCTOR_ROLES = ("GP", "ASSISTANT_GP", "TCM_GP", "VILLAGE_DOCTOR")
RELATIONS = ("SELF", "SPOUSE", "CHILD", "PARENT", "GRANDCHILD", "OTHER")  # to the head
GUARDIAN_RELATIONS = ("PARENT", "GRANDPARENT", "SPOUSE", "CHILD", "OTHER")  # to the ward
CATEGORIES = (
    "GENERAL",  # 一般人群: none of the others
    "CHILD_0_6",
    "PREGNANT_POSTPARTUM",
    "TUBERCULOSIS",
    "ELDERLY_65",
    "HYPERTENSION",
    "DISABLED",
    "DIABETES_T2",
    "SEVERE_MENTAL_DISORDER",
    "FAMILY_PLANNING_SPECIAL",
    "STUDENT",
    "HOME_BED",
    "SUBSISTENCE_ALLOWANCE",  # 低保、五保 [PY]
    "LOW_INCOME_HOUSEHOLD",  # 农村低收入农户 [WZ]
    "REGISTERED_POOR",  # 建档立卡贫困人口 [JL]
    "HARDSHIP",  # 困难人群 [YK]
)


@dataclass(frozen=True, slots=True)
class Organization:
    """A medical institution; primary-care ones hold teams and sign contracts."""

    id: str
    name: str
    kind: str  # one of ORGANIZATION_KINDS
    region_code: str
    parent_id: str | None  # station → centre, village clinic → township centre
    primary_care: bool
    address: str
    phone: str
    street: str


@dataclass(frozen=True, slots=True)
class Practitioner:
    id: str
    name: str
    sex: str
    birth_date: dt.date
    id_number: str
    phone: str
    role: str  # one of PRACTITIONER_ROLES
    organization_id: str


@dataclass(frozen=True, slots=True)
class TeamMember:
    practitioner_id: str
    role: str  # the practitioner's role in the team


@dataclass(frozen=True, slots=True)
class GridArea:
    """The responsibility area (网格) of a team: part of one street or town."""

    street: str
    communities: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Team:
    """家庭医生团队: led by a family doctor, attached to a primary-care institution."""

    id: str
    name: str
    organization_id: str
    leader_id: str  # also listed in members
    members: tuple[TeamMember, ...]
    grid: GridArea
    capacity_households: int


@dataclass(frozen=True, slots=True)
class HouseholdMember:
    resident_index: int
    relation: str  # to the head, one of RELATIONS


@dataclass(frozen=True, slots=True)
class Household:
    """户: the unit Erqi signs by; the head signs for the family."""

    id: str
    address: str
    street: str
    community: str
    team_id: str  # the team whose grid covers the community
    head_index: int
    members: tuple[HouseholdMember, ...]  # head first
    categories: tuple[str, ...]  # household-level ones (低保, 低收入农户, ...)


@dataclass(frozen=True, slots=True)
class Resident:
    index: int  # position in District.residents
    id: str
    person: SyntheticPerson
    household_id: str
    relation: str  # to the household head
    categories: tuple[str, ...]  # CATEGORIES, "GENERAL" alone when nothing else applies
    guardian_index: int | None = None  # minors and severe mental disorder
    guardian_relation: str | None = None  # the guardian's relation to this resident


@dataclass(frozen=True, slots=True)
class District:
    key: str
    name: str
    region_code: str
    spec: DistrictSpec
    organizations: tuple[Organization, ...]
    practitioners: tuple[Practitioner, ...]
    teams: tuple[Team, ...]
    households: tuple[Household, ...]
    residents: tuple[Resident, ...]
