"""签约覆盖率: residents and households, signed, by institution, team, township, village or
population category, against the policy's coverage targets."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    ColumnElement,
    String,
    and_,
    case,
    cast,
    distinct,
    func,
    literal,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from hub.access.principal import Principal
from hub.contracts.facts import CATEGORY_TO_REGISTRY
from hub.contracts.terms import PopulationCategory
from hub.directory.models import Organization, Team
from hub.registry.models import Resident, ResidentCategory, ResidentStatus
from hub.registry.repository import age_window
from hub.reports.models import ResidentLocality
from hub.reports.scope import (
    CATEGORY_ZH,
    coverage_target,
    region_policy,
    require_reports,
    resident_scope,
    signed_residents,
)
from hub.reports.tables import Column, Report, Table, share

UNKNOWN = "未知"


class GroupBy(StrEnum):
    INSTITUTION = "INSTITUTION"
    TEAM = "TEAM"
    TOWNSHIP = "TOWNSHIP"
    VILLAGE = "VILLAGE"
    CATEGORY = "CATEGORY"


GROUP_ZH = {"INSTITUTION": "机构", "TEAM": "团队", "TOWNSHIP": "乡镇（街道）",
            "VILLAGE": "村（社区）", "CATEGORY": "人群类型"}  # fmt: skip


def columns(group_by: GroupBy) -> tuple[Column, ...]:
    return (
        Column("label", GROUP_ZH[group_by], "text"),
        Column("residents", "常住人口数"),
        Column("signed", "签约人数"),
        Column("households", "户数"),
        Column("signedHouseholds", "签约户数"),
        Column("coverage", "人口签约率", "share"),
        Column("householdCoverage", "户签约率", "share"),
        Column("target", "目标签约率", "share"),
        Column("status", "达标情况", "text"),
    )


def _row(key: str, label: str, counts: Any, target: Decimal | None) -> dict[str, Any]:
    residents, signed, households, signed_households = (int(c or 0) for c in counts)
    coverage = share(signed, residents)
    status = None
    if target is not None and coverage is not None:
        status = "MET" if Decimal(str(coverage)) >= target else "BELOW"
    return dict(
        key=key, label=label, residents=residents, signed=signed, households=households,
        signedHouseholds=signed_households, coverage=coverage,
        householdCoverage=share(signed_households, households),
        target=float(target) if target is not None else None, status=status,
    )  # fmt: skip


def _aggregates(signed: Any, where: ColumnElement[bool] | None = None) -> list[Any]:
    """residents, signed, households, signed households (a person without a household is
    a household of one)."""
    hh = func.coalesce(Resident.household_id, -Resident.id)
    is_signed = signed.c.resident_id.is_not(None)
    if where is None:
        return [
            func.count(),
            func.count(signed.c.resident_id),
            func.count(distinct(hh)),
            func.count(distinct(case((is_signed, hh)))),
        ]
    return [
        func.count(case((where, 1))),
        func.count(case((and_(where, is_signed), 1))),
        func.count(distinct(case((where, hh)))),
        func.count(distinct(case((and_(where, is_signed), hh)))),
    ]


def category_condition(category: PopulationCategory, on: dt.date) -> ColumnElement[bool] | None:
    """Residents in a policy category on `on`: by age for 0-6 and 65+, else stored."""
    if category is PopulationCategory.CHILD_0_6:
        return age_window(0, 6, on)
    if category is PopulationCategory.ELDERLY_65:
        return age_window(65, None, on)
    code = CATEGORY_TO_REGISTRY.get(category)
    if code is None:
        return None  # a category the registry does not hold (五保 is stored as 低保)
    return Resident.id.in_(
        select(ResidentCategory.resident_id).where(ResidentCategory.category == code)
    )


async def coverage_report(
    session: AsyncSession,
    principal: Principal,
    *,
    region: str,
    as_of: dt.date,
    group_by: GroupBy = GroupBy.TOWNSHIP,
) -> Report:
    require_reports(principal)
    policy = region_policy(region)
    signed = signed_residents(as_of).subquery()
    base = [Resident.region_key == region, Resident.status == ResidentStatus.ACTIVE,
            *resident_scope(principal)]  # fmt: skip
    overall = coverage_target(policy, "overall", as_of)
    key_target = coverage_target(policy, "key_populations", as_of)

    def query(*cols: Any) -> Any:
        return (
            select(*cols)
            .select_from(Resident)
            .outerjoin(signed, signed.c.resident_id == Resident.id)
            .where(*base)
        )

    rows: list[dict[str, Any]] = []
    if group_by is GroupBy.CATEGORY:
        cats = [(c, cond) for c in policy.key_populations
                if (cond := category_condition(c, as_of)) is not None]  # fmt: skip
        if cats:
            any_key = cats[0][1] if len(cats) == 1 else _or(*(cond for _, cond in cats))
            result = (await session.execute(
                _by_category(query, signed, [c for _, c in cats] + [any_key])
            )).one()  # fmt: skip
            for i, (c, _) in enumerate(cats):
                rows.append(_row(c.value, CATEGORY_ZH.get(c.value, c.value),
                                 result[4 * i: 4 * i + 4], key_target))  # fmt: skip
            rows.append(_row("KEY_POPULATIONS", CATEGORY_ZH["KEY_POPULATIONS"],
                             result[-4:], key_target))  # fmt: skip
    else:
        key_col, labels = await _grouping(session, group_by, region)
        stmt = await session.execute(_grouped(query, key_col, signed, group_by))
        grouped = stmt.all()
        for _, k, *counts in sorted((r for r in grouped if not r[0]), key=lambda r: r[1] or ""):
            key = k if k is not None else ""
            rows.append(_row(key, labels.get(key, key or UNKNOWN), counts, overall))
        totals = next((r[2:] for r in grouped if r[0]), (0, 0, 0, 0))
        total = _row("TOTAL", "合计", totals, overall)
    if group_by is GroupBy.CATEGORY:
        counts = (await session.execute(query(*_aggregates(signed)))).one()
        total = _row("TOTAL", "合计", counts, overall)
    title = (f"{policy.name_zh}家庭医生签约覆盖情况"
             f"（按{GROUP_ZH[group_by]}，截至{as_of.isoformat()}）")  # fmt: skip
    table = Table("coverage", title, columns(group_by), rows, total)
    return Report("coverage", title, [table],
                  dict(region=region, asOf=as_of.isoformat(), groupBy=group_by.value))  # fmt: skip


def _by_category(query: Any, signed: Any, conds: list[ColumnElement[bool]]) -> Any:
    """Per category: residents and signed counted per household first, then households
    with any (signed) member counted — no COUNT(DISTINCT) per category."""
    hh = func.coalesce(Resident.household_id, -Resident.id)
    is_signed = signed.c.resident_id.is_not(None)
    cols: list[Any] = []
    for i, cond in enumerate(conds):
        cols += [func.count(case((cond, 1))).label(f"n{i}"),
                 func.count(case((and_(cond, is_signed), 1))).label(f"s{i}")]  # fmt: skip
    g = query(hh.label("hh"), *cols).group_by(hh).subquery("by_household")
    out: list[Any] = []
    for i in range(len(conds)):
        n, sg = g.c[f"n{i}"], g.c[f"s{i}"]
        out += [func.sum(n), func.sum(sg), func.count(case((n > 0, 1))),
                func.count(case((sg > 0, 1)))]  # fmt: skip
    return select(*out)


def _grouped(query: Any, key_col: Any, signed: Any, group_by: GroupBy) -> Any:
    """One scan: residents grouped by (key, household) first, then by key, and the total
    row from the same first step (so each household counts once per group and once in the
    total)."""
    hh = func.coalesce(Resident.household_id, -Resident.id)
    inner = query(key_col.label("k"), hh.label("hh"), func.count().label("n"),
                  func.count(signed.c.resident_id).label("s"))  # fmt: skip
    if group_by in (GroupBy.TOWNSHIP, GroupBy.VILLAGE):
        inner = inner.outerjoin(ResidentLocality, ResidentLocality.resident_id == Resident.id)
    g = inner.group_by(key_col, hh).cte("by_household")
    signed_hh = case((g.c.s > 0, 1))
    per_key = select(literal(0).label("total"), g.c.k, func.sum(g.c.n), func.sum(g.c.s),
                     func.count(), func.count(signed_hh)).group_by(g.c.k)  # fmt: skip
    total = select(literal(1), cast(literal(None), String), func.sum(g.c.n), func.sum(g.c.s),
                   func.count(distinct(g.c.hh)),
                   func.count(distinct(case((g.c.s > 0, g.c.hh)))))  # fmt: skip
    return union_all(per_key, total)


def _or(*conds: ColumnElement[bool]) -> ColumnElement[bool]:
    from sqlalchemy import or_

    return or_(*conds)


async def _grouping(
    session: AsyncSession, group_by: GroupBy, region: str
) -> tuple[Any, dict[str, str]]:
    if group_by is GroupBy.INSTITUTION:
        names = await session.execute(
            select(Organization.id, Organization.name).where(Organization.region_key == region)
        )
        return Resident.organization_id, dict(names.tuples().all())
    if group_by is GroupBy.TEAM:
        names = await session.execute(
            select(Team.id, Team.name)
            .join(Organization, Organization.id == Team.organization_id)
            .where(Organization.region_key == region)
        )
        return Resident.team_id, dict(names.tuples().all())
    if group_by is GroupBy.TOWNSHIP:
        return ResidentLocality.township, {}
    village = (
        func.coalesce(ResidentLocality.township, literal(UNKNOWN))
        + literal("/")
        + (func.coalesce(ResidentLocality.village, literal(UNKNOWN)))
    )
    return village, {}
