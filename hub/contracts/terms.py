"""The words policies are written in: codes for populations, insurance, payers, kinds.

Stable upper-case codes, each with its Chinese term, so policy files, rule violations
and the GraphQL schema all spell them the same way.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer


class PopulationCategory(StrEnum):
    """人群类型. A resident may be in several."""

    GENERAL = "GENERAL"  # 一般人群
    CHILD_0_6 = "CHILD_0_6"  # 0-6岁儿童
    PREGNANT_POSTPARTUM = "PREGNANT_POSTPARTUM"  # 孕产妇
    TUBERCULOSIS = "TUBERCULOSIS"  # 肺结核患者
    ELDERLY_65 = "ELDERLY_65"  # 65岁以上老年人
    HYPERTENSION = "HYPERTENSION"  # 高血压患者
    DISABLED = "DISABLED"  # 残疾人
    SEVERE_DISABILITY = "SEVERE_DISABILITY"  # 重度残疾人
    TYPE2_DIABETES = "TYPE2_DIABETES"  # 2型糖尿病患者
    SEVERE_MENTAL_DISORDER = "SEVERE_MENTAL_DISORDER"  # 严重精神障碍患者
    MENTAL_ILLNESS = "MENTAL_ILLNESS"  # 精神疾病患者 (Wenzhou's wider guardian wording)
    FAMILY_PLANNING_SPECIAL = "FAMILY_PLANNING_SPECIAL"  # 计划生育特殊家庭
    STUDENT = "STUDENT"  # 学生
    COLLEGE_STUDENT_OUTPATIENT_QUOTA = (
        "COLLEGE_STUDENT_OUTPATIENT_QUOTA"  # 已实行普通门诊限额支付的大中专院校学生
    )
    HOME_BED = "HOME_BED"  # 家庭病床病人
    SUBSISTENCE_ALLOWANCE = "SUBSISTENCE_ALLOWANCE"  # 低保
    FIVE_GUARANTEE = "FIVE_GUARANTEE"  # 五保
    RURAL_LOW_INCOME = "RURAL_LOW_INCOME"  # 农村低收入农户
    REGISTERED_POOR = "REGISTERED_POOR"  # 建档立卡贫困人口
    HARDSHIP = "HARDSHIP"  # 困难人群


class InsuranceType(StrEnum):
    """参保类型."""

    URBAN_EMPLOYEE = "URBAN_EMPLOYEE"  # 城镇职工基本医疗保险
    URBAN_RURAL_RESIDENT = "URBAN_RURAL_RESIDENT"  # 城乡居民基本医疗保险
    SELF_PAY = "SELF_PAY"  # 自费


class Payer(StrEnum):
    """Who pays a personal share."""

    PERSON = "PERSON"  # 个人 (insurance personal account, bank debit or cash)
    CIVIL_AFFAIRS = "CIVIL_AFFAIRS"  # 民政部门
    DISABLED_PERSONS_FEDERATION = "DISABLED_PERSONS_FEDERATION"  # 残联
    COUNTY_FINANCE = "COUNTY_FINANCE"  # 县(市、区)财政


class PackageKind(StrEnum):
    """服务包类型.

    FREE: no personal fee (免费包, 规范签约, 不收费签约). BASIC: the paid base package
    (基本服务包, 有效签约, 收费签约). PERSONALISED: signed only on top of a free or basic
    package (个性化服务包). TIER: a population tier module (人群服务包) bundled into a
    base package's fee and delivered to residents in that population (Yongkang's ten
    key-population packages).
    """

    FREE = "FREE"
    BASIC = "BASIC"
    PERSONALISED = "PERSONALISED"
    TIER = "TIER"


class SigningUnit(StrEnum):
    """签约单位: a person, or a household signed by its head (户主)."""

    PERSON = "PERSON"
    HOUSEHOLD = "HOUSEHOLD"


class InstitutionKind(StrEnum):
    """Kinds of institution, as far as signing and referral rules care."""

    COMMUNITY_HEALTH_CENTRE = "COMMUNITY_HEALTH_CENTRE"  # 社区卫生服务中心
    COMMUNITY_HEALTH_STATION = "COMMUNITY_HEALTH_STATION"  # 社区卫生服务站
    TOWNSHIP_HEALTH_CENTRE = "TOWNSHIP_HEALTH_CENTRE"  # 乡镇卫生院
    VILLAGE_CLINIC = "VILLAGE_CLINIC"  # 村卫生室
    PRIVATE_CLINIC = "PRIVATE_CLINIC"  # 非政府办医疗机构(含个体诊所)
    SECONDARY_HOSPITAL = "SECONDARY_HOSPITAL"  # 二级医院
    TERTIARY_HOSPITAL = "TERTIARY_HOSPITAL"  # 三级医院
    MATERNAL_CHILD_HOSPITAL = "MATERNAL_CHILD_HOSPITAL"  # 妇幼保健院
    TB_INSTITUTION = "TB_INSTITUTION"  # 结核病定点医疗机构


class FrequencyKind(StrEnum):
    """服务频次 kinds."""

    PER_YEAR = "per_year"  # 不少于 n 次/年 (per contract year)
    PER_QUARTER = "per_quarter"  # 每季度不少于 n 次
    ON_DEMAND = "on_demand"  # 按需服务
    BY_SCHEDULE = "by_schedule"  # 按年龄段/孕周/免疫程序/相应规范
    WITHIN_HOURS = "within_hours"  # e.g. 接到通知单后72小时内访视


class RenewalMode(StrEnum):
    """How a package renews at expiry."""

    AUTO = "AUTO"  # 视为自动续约 unless the resident declines
    ON_PAYMENT = "ON_PAYMENT"  # only if the personal share is paid again
    ON_RESIGN = "ON_RESIGN"  # only if both sides sign again (期满后再次签订协议续约)


class OtherwiseAction(StrEnum):
    """What happens to a package that does not renew."""

    END = "END"
    FALL_BACK = "FALL_BACK"  # 番禺: 视为自动续签免费包
    CONVERT = "CONVERT"  # 永康: 收费签约自动转为不收费签约


class DurationUnit(StrEnum):
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    YEAR = "year"


@dataclass(frozen=True, slots=True)
class Duration:
    """A calendar length such as "1 year", "3 months" or "12 weeks"."""

    amount: int
    unit: DurationUnit

    def __str__(self) -> str:
        return f"{self.amount} {self.unit.value}{'' if self.amount == 1 else 's'}"

    def add_to(self, day: dt.date) -> dt.date:
        """``day`` plus this duration; month ends clamp (31 Jan + 1 month = 28/29 Feb)."""
        if self.unit is DurationUnit.HOUR:
            return day + dt.timedelta(days=self.amount // 24)
        if self.unit is DurationUnit.DAY:
            return day + dt.timedelta(days=self.amount)
        if self.unit is DurationUnit.WEEK:
            return day + dt.timedelta(weeks=self.amount)
        months = self.amount * (12 if self.unit is DurationUnit.YEAR else 1)
        y, m = divmod(day.month - 1 + months, 12)
        year, month = day.year + y, m + 1
        return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))

    def subtract_from(self, day: dt.date) -> dt.date:
        return Duration(-self.amount, self.unit).add_to(day)


_DURATION = re.compile(r"^\s*(\d+)\s*(hour|day|week|month|year)s?\s*$")


def parse_duration(value: Any) -> Duration:
    """Accept "3 months", {"amount": 3, "unit": "month"} or a ``Duration``."""
    if isinstance(value, Duration):
        return value
    if isinstance(value, dict) and set(value) == {"amount", "unit"}:
        return Duration(int(value["amount"]), DurationUnit(value["unit"]))
    if isinstance(value, str) and (m := _DURATION.match(value)):
        return Duration(int(m.group(1)), DurationUnit(m.group(2)))
    raise ValueError(f"expected a duration like '1 year', '3 months' or '12 weeks', got {value!r}")


DurationField = Annotated[Duration, BeforeValidator(parse_duration), PlainSerializer(str)]


@dataclass(frozen=True, slots=True)
class ResidentFacts:
    """What the rules need to know about a resident (乙方) on the day of a decision."""

    birth_date: dt.date
    insurance_type: InsuranceType
    categories: frozenset[PopulationCategory] = field(default_factory=frozenset)
    has_guardian: bool = False


def age_on(birth_date: dt.date, day: dt.date) -> int:
    """Age in completed years (周岁) on ``day``."""
    before_birthday = (day.month, day.day) < (birth_date.month, birth_date.day)
    return day.year - birth_date.year - (1 if before_birthday else 0)
