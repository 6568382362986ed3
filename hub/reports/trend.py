"""签约趋势: contracts signed per month over the last `months` months (the dashboard's trend)."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.access.principal import Principal
from hub.contracts.models import Contract
from hub.errors import InvalidInput
from hub.reports.scope import contract_scope, region_policy, require_reports
from hub.reports.tables import Column, Report, Table

COLUMNS = (Column("month", "月份", "text"), Column("signed", "新签约人数"))


def _months_back(today: dt.date, n: int) -> list[str]:
    y, m = today.year, today.month
    out = []
    for _ in range(n):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y - 1, 12) if m == 1 else (y, m - 1)
    return out[::-1]


async def signing_trend(
    session: AsyncSession, principal: Principal, *, region: str, months: int = 12,
    today: dt.date | None = None,
) -> Report:  # fmt: skip
    require_reports(principal)
    policy = region_policy(region)
    if not 1 <= months <= 36:
        raise InvalidInput("months must be between 1 and 36.", field="months",
                           code="INVALID_PERIOD")  # fmt: skip
    today = today or dt.date.today()
    labels = _months_back(today, months)
    start = dt.date.fromisoformat(labels[0] + "-01")
    stmt = (
        select(Contract.signed_on, func.count())
        .where(Contract.region_key == region, Contract.signed_on >= start,
               Contract.signed_on <= today, *contract_scope(principal))
        .group_by(Contract.signed_on)
    )  # fmt: skip
    per: Counter[str] = Counter()
    for day, n in (await session.execute(stmt)).all():
        per[day.strftime("%Y-%m")] += n
    rows = [dict(key=m, month=m, signed=per[m]) for m in labels]
    total = dict(key="TOTAL", month="合计", signed=sum(per.values()))
    title = f"{policy.name_zh}家庭医生月度新签约人数（近{months}个月）"
    return Report("signings", title, [Table("signings", title, COLUMNS, rows, total)],
                  dict(region=region, months=months))  # fmt: skip
