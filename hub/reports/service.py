"""The reports by name, with their arguments as GraphQL, the export URL and the CLI give
them (strings), parsed and checked in one place; every run is audited."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from hub.access.principal import Principal
from hub.errors import InvalidInput
from hub.reports import periods, snapshots
from hub.reports.coverage import GroupBy, coverage_report
from hub.reports.fees import fee_report
from hub.reports.fulfilment import fulfilment_report
from hub.reports.low_income import low_income_report
from hub.reports.packages import package_report
from hub.reports.referrals import referral_report
from hub.reports.scope import region_policy, require_reports
from hub.reports.tables import Report
from hub.reports.trend import signing_trend

Runner = Callable[[AsyncSession, Principal, Mapping[str, Any]], Awaitable[Report]]


def _arg(args: Mapping[str, Any], name: str) -> Any:
    value = args.get(name)
    return value.value if hasattr(value, "value") else value


def _region(args: Mapping[str, Any]) -> str:
    region = _arg(args, "region")
    if not region:
        raise InvalidInput("region is required (panyu, wenzhou, jilin, yongkang, erqi).",
                           field="region", code="MISSING_ARGUMENT")  # fmt: skip
    return str(region)


def _group_by(args: Mapping[str, Any], default: GroupBy) -> GroupBy:
    value = _arg(args, "groupBy") or default.value
    try:
        return GroupBy(str(value).upper())
    except ValueError:
        raise InvalidInput(
            f"groupBy must be one of {', '.join(g.value for g in GroupBy)}, "
            f"not {str(value)[:20]!r}.",
            field="groupBy",
            code="INVALID_GROUP_BY",
        ) from None


async def _coverage(s: AsyncSession, p: Principal, a: Mapping[str, Any]) -> Report:
    return await coverage_report(s, p, region=_region(a), as_of=periods.day(_arg(a, "asOf")),
                                 group_by=_group_by(a, GroupBy.TOWNSHIP))  # fmt: skip


async def _low_income(s: AsyncSession, p: Principal, a: Mapping[str, Any]) -> Report:
    month = _arg(a, "month") or dt.date.today().strftime("%Y-%m")
    return await low_income_report(s, p, region=_region(a), month=periods.month(month))


async def _package(s: AsyncSession, p: Principal, a: Mapping[str, Any]) -> Report:
    return await package_report(
        s, p, region=_region(a), quarter=periods.quarter(_arg(a, "quarter"))
    )


def _fulfilment_group(args: Mapping[str, Any]) -> str:
    group = str(_arg(args, "groupBy") or "TEAM").upper()
    if group not in ("TEAM", "TEAM_ITEM"):
        raise InvalidInput(f"groupBy must be TEAM or TEAM_ITEM, not {group[:20]!r}.",
                           field="groupBy", code="INVALID_GROUP_BY")  # fmt: skip
    return group


async def _fulfilment(s: AsyncSession, p: Principal, a: Mapping[str, Any]) -> Report:
    group = _fulfilment_group(a)
    period = periods.period(_arg(a, "period"))
    return await fulfilment_report(s, p, region=_region(a), period=period, group_by=group)


async def _referral(s: AsyncSession, p: Principal, a: Mapping[str, Any]) -> Report:
    return await referral_report(s, p, region=_region(a), period=periods.period(_arg(a, "period")))


async def _fee(s: AsyncSession, p: Principal, a: Mapping[str, Any]) -> Report:
    return await fee_report(s, p, region=_region(a), period=periods.period(_arg(a, "period")))


async def _signings(s: AsyncSession, p: Principal, a: Mapping[str, Any]) -> Report:
    months = _arg(a, "months") or 12
    try:
        months = int(months)
    except ValueError:
        raise InvalidInput(
            "months must be a number.", field="months", code="INVALID_PERIOD"
        ) from None
    return await signing_trend(s, p, region=_region(a), months=months)


# The arguments as the report normalises them (its `Report.args`), before it runs: the key
# of its snapshot (hub.reports.snapshots).
NORMALISE: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
    "coverage": lambda a: dict(region=_region(a), asOf=periods.day(_arg(a, "asOf")).isoformat(),
                               groupBy=_group_by(a, GroupBy.TOWNSHIP).value),
    "fulfilment": lambda a: dict(region=_region(a), period=periods.period(_arg(a, "period")).label,
                                 groupBy=_fulfilment_group(a)),
}  # fmt: skip

REPORTS: dict[str, Runner] = {
    "coverage": _coverage,
    "low-income": _low_income,
    "package": _package,
    "fulfilment": _fulfilment,
    "referral": _referral,
    "fee": _fee,
    "signings": _signings,
}


async def _from_snapshot(
    session: AsyncSession, principal: Principal, name: str, args: Mapping[str, Any]
) -> Report | None:
    """The refreshed rollup's answer, for a client the access policy lets see the whole
    district and arguments the refresh job computed for today; else None."""
    normalise = NORMALISE.get(name)
    if normalise is None:
        return None
    wanted = normalise(args)  # bad arguments fail here as they would in the report
    require_reports(principal)  # the scope every report asks for
    if not snapshots.whole_district(principal):
        return None
    return await snapshots.lookup(session, name, wanted["region"], wanted, dt.date.today())


async def compute(session: AsyncSession, name: str, args: Mapping[str, Any]) -> Report:
    """Report `name` computed from scratch for the whole district (what the refresh job
    stores), never from a snapshot."""
    from hub.access.principal import system

    return await REPORTS[name](session, system("reports:refresh"), args)


async def refresh(db: Any, region: str) -> int:
    """Recompute `region`'s snapshots from scratch (`hub report-refresh`, the server's
    refresh loop): read in one session, then replace the rows in one short transaction.
    The stamp is the time the counting started (what it may have missed is newer)."""
    region_policy(region)  # an unknown region is UNKNOWN_REGION
    today, started = dt.date.today(), dt.datetime.now(dt.UTC)
    async with db.reader() as session:
        reports = await snapshots.compute_all(session, region, compute)
    async with db.transaction() as session:
        return await snapshots.store(session, region, reports, today=today, refreshed_at=started)


async def run(
    session: AsyncSession, principal: Principal, name: str, args: Mapping[str, Any],
    *, audit: Any = None,
) -> Report:  # fmt: skip
    """Run report `name`; `audit` (the hub's AuditBuffer) records who ran what (aggregate
    counts name no resident, so the row lists none)."""
    runner = REPORTS.get(name)
    if runner is None:
        raise InvalidInput(f"Unknown report {name[:30]!r}; have {', '.join(REPORTS)}.",
                           field="name", code="UNKNOWN_REPORT")  # fmt: skip
    report = await _from_snapshot(session, principal, name, args)
    if report is None:
        report = await runner(session, principal, args)
    if audit is not None:
        audit.pending.append(dict(
            client_id=principal.client_id, actor=principal.name, action="REPORT",
            operation=f"report:{name}:{report.args.get('region')}", resident_ids=[],
            request_id=principal.request_id, at=dt.datetime.now(dt.UTC),
        ))  # fmt: skip
    return report
