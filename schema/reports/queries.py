# ruff: noqa: E501  (field descriptions and one-line constructors read better whole)
"""Report queries: coverageReport, lowIncomeReport, packageReport, fulfilmentReport,
referralReport, feeReport (one service, hub.reports.service)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import strawberry
from strawberry.types import Info

from hub.reports import service
from hub.reports.tables import Report
from schema.context import Context
from schema.reports import types as t


async def _run(info: Info[Context, Any], name: str, **args: Any) -> Report:
    ctx = info.context
    return await ctx.run(lambda s: service.run(s, ctx.principal, name, args, audit=ctx.hub.audit))


def _rows(cls: Any, rows: list[dict[str, Any]]) -> list[Any]:
    return [t.build(cls, r) for r in rows]


@strawberry.type
class ReportsQuery:
    @strawberry.field(
        description="签约覆盖率 by institution, team, township, village or key population, against the region policy's targets. Scoped by the client's access."
    )
    async def coverage_report(
        self, info: Info[Context, Any], region: str, as_of: dt.date | None = None,
        group_by: t.CoverageGroupBy = t.CoverageGroupBy.TOWNSHIP,
    ) -> t.CoverageReport:  # fmt: skip
        r = await _run(info, "coverage", region=region, asOf=as_of, groupBy=group_by.value)
        m = r.main
        return t.CoverageReport(title=r.title_zh, region=region, as_of=r.args["asOf"],
                                group_by=group_by, rows=_rows(t.CoverageRow, m.rows),
                                total=t.build(t.CoverageRow, m.total),  # type: ignore[arg-type]
                                refreshed_at=r.refreshed_at)  # fmt: skip

    @strawberry.field(
        description="农村低收入农户签约服务进展月报表: per township, from the list imported for `month` (YYYY-MM)."
    )
    async def low_income_report(
        self, info: Info[Context, Any], region: str, month: str
    ) -> t.LowIncomeReport:
        r = await _run(info, "low-income", region=region, month=month)
        return t.LowIncomeReport(title=r.title_zh, region=region, month=r.args["month"],
                                 rows=_rows(t.LowIncomeRow, r.main.rows),
                                 total=t.build(t.LowIncomeRow, r.main.total))  # type: ignore[arg-type]  # fmt: skip

    @strawberry.field(description="签约服务包实施情况季报 per institution; `quarter` like 2026Q4.")
    async def package_report(
        self, info: Info[Context, Any], region: str, quarter: str | None = None
    ) -> t.PackageReport:
        r = await _run(info, "package", region=region, quarter=quarter)
        return t.PackageReport(title=r.title_zh, region=region, quarter=r.args["quarter"],
                               rows=_rows(t.PackageRow, r.main.rows),
                               total=t.build(t.PackageRow, r.main.total))  # type: ignore[arg-type]  # fmt: skip

    @strawberry.field(
        description="履约 per team and package item: required, done, rate, residents with an overdue item. `period`: 2026, 2026Q4 or 2026-11."
    )
    async def fulfilment_report(
        self, info: Info[Context, Any], region: str, period: str | None = None,
        group_by: t.FulfilmentGroupBy = t.FulfilmentGroupBy.TEAM,
    ) -> t.FulfilmentReport:  # fmt: skip
        r = await _run(info, "fulfilment", region=region, period=period, groupBy=group_by.value)
        by = {tb.name: tb for tb in r.tables}
        return t.FulfilmentReport(title=r.title_zh, region=region, period=r.args["period"],
                                  teams=_rows(t.FulfilmentRow, by["teams"].rows),
                                  items=_rows(t.FulfilmentRow, by["items"].rows),
                                  total=t.build(t.FulfilmentRow, by["teams"].total),  # type: ignore[arg-type]
                                  refreshed_at=r.refreshed_at)  # fmt: skip

    @strawberry.field(
        description="双向转诊: by direction and status, hours from request to acceptance (median, p90), per hospital."
    )
    async def referral_report(
        self, info: Info[Context, Any], region: str, period: str | None = None
    ) -> t.ReferralReport:
        r = await _run(info, "referral", region=region, period=period)
        by = {tb.name: tb for tb in r.tables}
        return t.ReferralReport(title=r.title_zh, region=region, period=r.args["period"],
                                directions=_rows(t.ReferralDirectionRow, by["directions"].rows),
                                total=t.build(t.ReferralDirectionRow, by["directions"].total),  # type: ignore[arg-type]
                                hospitals=_rows(t.ReferralHospitalRow, by["hospitals"].rows))  # fmt: skip

    @strawberry.field(
        description="签约服务费 by fund (and who paid the personal share) and by charging item, for contract periods begun in `period`."
    )
    async def fee_report(
        self, info: Info[Context, Any], region: str, period: str | None = None
    ) -> t.FeeReport:
        r = await _run(info, "fee", region=region, period=period)
        by = {tb.name: tb for tb in r.tables}
        return t.FeeReport(title=r.title_zh, region=region, period=r.args["period"],
                           funds=_rows(t.FeeFundRow, by["funds"].rows),
                           items=_rows(t.FeeItemRow, by["items"].rows),
                           total=t.build(t.FeeItemRow, by["items"].total))  # type: ignore[arg-type]  # fmt: skip

    @strawberry.field(
        description="签约趋势: contracts signed per month over the last `months` months (1-36)."
    )
    async def signing_trend(
        self, info: Info[Context, Any], region: str, months: int = 12
    ) -> t.SigningTrend:
        r = await _run(info, "signings", region=region, months=months)
        return t.SigningTrend(
            title=r.title_zh,
            region=region,
            months=[t.SigningMonth(month=x["month"], signed=x["signed"]) for x in r.main.rows],
            total=r.main.total["signed"] if r.main.total else 0,
        )
