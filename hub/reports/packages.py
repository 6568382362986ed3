"""签约服务包实施情况季报 (番禺, quarterly, per institution): each package with its price,
the contracts carrying it at the quarter's end, and those newly signed and renewed in the
quarter."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.access.principal import Principal
from hub.contracts.models import Contract, ContractPackage, ContractPeriod
from hub.directory.models import Organization
from hub.reports.periods import Period
from hub.reports.scope import contract_scope, in_effect, region_policy, require_reports
from hub.reports.tables import Column, Report, Table

COLUMNS = (
    Column("institution", "签约机构", "text"),
    Column("package", "服务包", "text"),
    Column("price", "价格（元/年）", "money"),
    Column("signed", "期末签约数"),
    Column("newlySigned", "本季新签约数"),
    Column("renewed", "本季续约数"),
)


async def package_report(
    session: AsyncSession, principal: Principal, *, region: str, quarter: Period
) -> Report:
    require_reports(principal)
    policy = region_policy(region)
    cp = ContractPackage.__table__.c
    renewed = (
        select(ContractPeriod.contract_id)
        .where(ContractPeriod.origin == "RENEWED", ContractPeriod.starts_on >= quarter.start,
               ContractPeriod.starts_on <= quarter.end)
        .distinct().subquery()
    )  # fmt: skip
    new = and_(Contract.signed_on >= quarter.start, Contract.signed_on <= quarter.end)
    stmt = (
        select(Contract.organization_id, cp.code,
               func.count(case((in_effect(quarter.end), 1))),
               func.count(case((new, 1))), func.count(renewed.c.contract_id))
        .select_from(ContractPackage).join(Contract, Contract.id == cp.contract_id)
        .outerjoin(renewed, renewed.c.contract_id == Contract.id)
        .where(Contract.region_key == region, Contract.signed_on <= quarter.end,
               *contract_scope(principal))
        .group_by(Contract.organization_id, cp.code)
        .order_by(Contract.organization_id, cp.code)
    )  # fmt: skip
    result = (await session.execute(stmt)).all()
    names = dict((await session.execute(
        select(Organization.id, Organization.name).where(Organization.region_key == region)
    )).tuples().all())  # fmt: skip
    packages = {p.code: p for p in policy.packages}
    rows: list[dict[str, Any]] = []
    totals = dict(signed=0, newlySigned=0, renewed=0)
    for org, code, signed, newly, ren in result:
        pkg = packages.get(code)
        rows.append(dict(key=f"{org}/{code}", institution=names.get(org, org), code=code,
                         package=pkg.name_zh if pkg else code,
                         price=float(pkg.price) if pkg and pkg.price is not None else None,
                         signed=signed, newlySigned=newly, renewed=ren))  # fmt: skip
        totals["signed"] += signed
        totals["newlySigned"] += newly
        totals["renewed"] += ren
    total = dict(key="TOTAL", institution="合计", code="", package="", price=None, **totals)
    title = f"{policy.name_zh}签约服务包实施情况季报（{quarter.label}）"
    return Report("package", title, [Table("package", title, COLUMNS, rows, total)],
                  dict(region=region, quarter=quarter.label))  # fmt: skip
