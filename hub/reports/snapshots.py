"""The report rollup: coverage (by institution, team, township, village and key population)
and fulfilment (by team, by team and item) computed once for the whole district by the
refresh job and stored in `report_snapshot`, so an unbound client's report on the day the
snapshot counts for reads a few rows instead of scanning every resident and contract.

Only a client the access policy lets see the whole district (`access.residents` is None)
reads a snapshot; every other client's report is computed from scratch with the policy's
predicates. A snapshot of another day is never used; the report carries `refreshed_at`
(its staleness) when it came from one. The numbers are those of the from-scratch report at
`refreshed_at` (tests/e2e/test_report_snapshots.py compares both on both engines).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.access import policy as access
from hub.access.principal import Principal
from hub.reports.models import ReportSnapshot
from hub.reports.tables import Column, Report, Table

# The arguments the refresh job computes for each region (every grouping, today, the
# default period) — what the dashboard and a default GraphQL call ask for.
DEFAULTS: dict[str, list[dict[str, Any]]] = {
    "coverage": [
        {"groupBy": g} for g in ("TOWNSHIP", "VILLAGE", "INSTITUTION", "TEAM", "CATEGORY")
    ],  # fmt: skip
    "fulfilment": [{"groupBy": "TEAM"}, {"groupBy": "TEAM_ITEM"}],
}


def args_key(report_args: Mapping[str, Any]) -> str:
    """A report's normalised arguments (`Report.args`) as the snapshot's key."""
    return json.dumps({k: v for k, v in sorted(report_args.items()) if k != "region"},
                      ensure_ascii=False, sort_keys=True)  # fmt: skip


def whole_district(principal: Principal) -> bool:
    """The access policy's answer: this client sees every resident, contract and referral."""
    return (
        access.residents(principal) is None
        and access.contracts(principal) is None
        and access.referrals(principal) is None
    )


def _body(report: Report) -> dict[str, Any]:
    return dict(
        title=report.title_zh,
        args=report.args,
        tables=[
            dict(
                name=t.name,
                title=t.title_zh,
                rows=t.rows,
                total=t.total,
                columns=[[c.key, c.heading_zh, c.kind] for c in t.columns],
            )  # fmt: skip
            for t in report.tables
        ],
    )


def _report(name: str, snap: ReportSnapshot) -> Report:
    b = snap.body
    tables = [Table(t["name"], t["title"], tuple(Column(*c) for c in t["columns"]),
                    list(t["rows"]), t["total"]) for t in b["tables"]]  # fmt: skip
    return Report(name, b["title"], tables, dict(b["args"]), refreshed_at=snap.refreshed_at)


async def lookup(
    session: AsyncSession, name: str, region: str, report_args: Mapping[str, Any], today: dt.date
) -> Report | None:
    """The snapshot of report `name` for these (normalised) arguments counted on `today`."""
    if name not in DEFAULTS:
        return None
    snap = await session.scalar(
        select(ReportSnapshot).where(
            ReportSnapshot.name == name,
            ReportSnapshot.region_key == region,
            ReportSnapshot.args_key == args_key(report_args),
            ReportSnapshot.as_of == today,
        )
    )
    return _report(name, snap) if snap is not None else None


Compute = Callable[[AsyncSession, str, Mapping[str, Any]], Any]


async def compute_all(session: AsyncSession, region: str, compute: Compute) -> list[Report]:
    """Every default report of `region`, computed from scratch as the whole district."""
    return [await compute(session, name, {"region": region, **extra})
            for name, arg_sets in DEFAULTS.items() for extra in arg_sets]  # fmt: skip


async def store(
    session: AsyncSession, region: str, reports: list[Report], *, today: dt.date,
    refreshed_at: dt.datetime,
) -> int:  # fmt: skip
    """Replace `region`'s snapshots of these reports (the caller commits)."""
    for report in reports:
        key = args_key(report.args)
        await session.execute(delete(ReportSnapshot).where(
            ReportSnapshot.name == report.name, ReportSnapshot.region_key == region,
            ReportSnapshot.args_key == key))  # fmt: skip
        session.add(ReportSnapshot(name=report.name, region_key=region, args_key=key,
                                   as_of=today, refreshed_at=refreshed_at,
                                   body=_body(report)))  # fmt: skip
    await session.flush()
    return len(reports)
