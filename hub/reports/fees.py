"""签约服务费: totals by fund (public health, insurance, personal and who paid the personal
share) and by charging item (番禺's four 收费项目), for contract periods that began in the
period (fees are charged once a period)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.access.principal import Principal
from hub.contracts.models import Contract, ContractPackage
from hub.reports.periods import Period
from hub.reports.scope import contract_scope, region_policy, require_reports
from hub.reports.tables import Column, Report, Table

PAYER_ZH = {"PERSON": "个人", "CIVIL_AFFAIRS": "民政部门", "DISABLED_PERSONS_FEDERATION": "残联",
            "COUNTY_FINANCE": "县（市、区）财政"}  # fmt: skip
FUND_COLUMNS = (
    Column("label", "资金来源", "text"),
    Column("amount", "金额（元）", "money"),
)
ITEM_COLUMNS = (
    Column("label", "收费项目", "text"),
    Column("packages", "签约份数"),
    Column("price", "签约服务费（元）", "money"),
    Column("publicHealthFund", "基本公共卫生经费（元）", "money"),
    Column("insuranceFund", "医保基金（元）", "money"),
    Column("personal", "个人支付（元）", "money"),
)


def _yuan(amount: Any) -> float:
    """A sum of a Money column comes back as yuan (the column type converts it)."""
    return float(Decimal(amount or 0).quantize(Decimal("0.01")))


async def fee_report(
    session: AsyncSession, principal: Principal, *, region: str, period: Period
) -> Report:
    require_reports(principal)
    policy = region_policy(region)
    cp = ContractPackage.__table__.c
    where = [Contract.region_key == region, Contract.starts_on >= period.start,
             Contract.starts_on <= period.end, *contract_scope(principal)]  # fmt: skip
    base = select().select_from(ContractPackage).join(Contract, Contract.id == cp.contract_id)
    sums = (func.count(), func.sum(cp.price), func.sum(cp.public_health_fund),
            func.sum(cp.insurance_fund), func.sum(cp.personal))  # fmt: skip
    item_rows = []
    stmt = base.add_columns(cp.charge_item, *sums).where(*where).group_by(cp.charge_item)
    for item, n, price, ph, ins, personal in (
        await session.execute(stmt.order_by(cp.charge_item))
    ).all():
        item_rows.append(dict(key=item or "", label=item or "免费/未设收费项目", packages=int(n),
                              price=_yuan(price), publicHealthFund=_yuan(ph),
                              insuranceFund=_yuan(ins), personal=_yuan(personal)))  # fmt: skip
    n, price, ph, ins, personal = (
        await session.execute(base.add_columns(*sums).where(*where))
    ).one()
    item_total = dict(key="TOTAL", label="合计", packages=int(n), price=_yuan(price),
                      publicHealthFund=_yuan(ph), insuranceFund=_yuan(ins),
                      personal=_yuan(personal))  # fmt: skip
    funds = [
        dict(key="PUBLIC_HEALTH", label="基本公共卫生经费", amount=_yuan(ph)),
        dict(key="INSURANCE", label="医保基金", amount=_yuan(ins)),
        dict(key="PERSONAL", label="个人分担（合计）", amount=_yuan(personal)),
    ]
    stmt = (
        base.add_columns(cp.personal_paid_by, func.sum(cp.personal))
        .where(*where, cp.personal > 0)
        .group_by(cp.personal_paid_by)
        .order_by(cp.personal_paid_by)
    )
    for payer, amount in (await session.execute(stmt)).all():
        who = PAYER_ZH.get(payer, payer)
        funds.append(
            dict(key=f"PERSONAL_{payer}", label=f"个人分担：{who}支付", amount=_yuan(amount))
        )
    title = f"{policy.name_zh}家庭医生签约服务费统计（{period.label}）"
    return Report("fee", title, [
        Table("funds", f"{title}·按资金来源", FUND_COLUMNS, funds,
              dict(key="TOTAL", label="合计", amount=_yuan(price))),
        Table("items", f"{title}·按收费项目", ITEM_COLUMNS, item_rows, item_total),
    ], dict(region=region, period=period.label))  # fmt: skip
