"""What every report query shares: the region (from the policy files), the access policy's
predicates, and "signed on a day"."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import ColumnElement, Select, and_, or_, select

from hub.access import policy as access
from hub.access.principal import Principal, Scope
from hub.contracts.models import Contract, ContractStatus
from hub.contracts.policy import PolicyError, RegionPolicy, get_policy
from hub.errors import InvalidInput

# Report keys of the population categories (policy words) and their Chinese names.
CATEGORY_ZH = {
    "GENERAL": "一般人群", "CHILD_0_6": "0-6岁儿童", "PREGNANT_POSTPARTUM": "孕产妇",
    "TUBERCULOSIS": "肺结核患者", "ELDERLY_65": "65岁以上老年人", "HYPERTENSION": "高血压患者",
    "DISABLED": "残疾人", "SEVERE_DISABILITY": "重度残疾人", "TYPE2_DIABETES": "2型糖尿病患者",
    "SEVERE_MENTAL_DISORDER": "严重精神障碍患者", "FAMILY_PLANNING_SPECIAL": "计划生育特殊家庭",
    "STUDENT": "学生", "HOME_BED": "家庭病床病人", "SUBSISTENCE_ALLOWANCE": "低保",
    "FIVE_GUARANTEE": "五保", "RURAL_LOW_INCOME": "农村低收入农户",
    "REGISTERED_POOR": "建档立卡贫困人口", "HARDSHIP": "困难人群",
    "KEY_POPULATIONS": "重点人群合计",
}  # fmt: skip


def region_policy(region: str) -> RegionPolicy:
    try:
        return get_policy(region)
    except PolicyError:
        raise InvalidInput(
            f"Unknown region {region[:40]!r}; use a policy key such as panyu or wenzhou.",
            field="region",
            code="UNKNOWN_REGION",
        ) from None


def require_reports(principal: Principal) -> None:
    """Reports count contracts: the `contracts:read` scope."""
    principal.require(Scope.CONTRACTS_READ)


def resident_scope(principal: Principal) -> list[ColumnElement[bool]]:
    cond = access.residents(principal)
    return [] if cond is None else [cond]


def contract_scope(principal: Principal) -> list[ColumnElement[bool]]:
    cond = access.contracts(principal)
    return [] if cond is None else [cond]


def referral_scope(principal: Principal) -> list[ColumnElement[bool]]:
    cond = access.referrals(principal)
    return [] if cond is None else [cond]


def in_effect(on: dt.date) -> ColumnElement[bool]:
    """A contract in effect on `on`: signed by then, and still active or ended after it."""
    return and_(
        Contract.signed_on <= on,
        or_(Contract.status == ContractStatus.ACTIVE, Contract.ended_on > on),
    )


def signed_residents(on: dt.date) -> Select[tuple[int]]:
    """Residents with a contract in effect on `on` (one row each)."""
    return select(Contract.resident_id).where(in_effect(on)).distinct()


def coverage_target(policy: RegionPolicy, scope: str, on: dt.date) -> Decimal | None:
    """The policy's coverage target for `scope` that applies on `on`: the latest one due by
    then, else the next one due."""
    targets = [t for t in policy.coverage_targets if t.scope == scope and t.min_share is not None]
    due = [t for t in targets if t.by_year <= on.year]
    pick = (
        max(due, key=lambda t: t.by_year)
        if due
        else min(targets, key=lambda t: t.by_year, default=None)
    )
    return pick.min_share if pick else None
