"""农村低收入农户签约服务进展月报表 (Wenzhou, monthly, per township, due by the 3rd): households,
persons, signed households and persons, household and person coverage — from the list
imported for that month."""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.access.principal import Principal
from hub.registry.models import Resident
from hub.reports.models import LowIncomeMember
from hub.reports.periods import Period
from hub.reports.scope import region_policy, require_reports, resident_scope, signed_residents
from hub.reports.tables import Column, Report, Table, share

COLUMNS = (
    Column("township", "乡镇（街道）", "text"),
    Column("households", "低收入农户户数"),
    Column("persons", "低收入农户人数"),
    Column("signedHouseholds", "签约户数"),
    Column("signedPersons", "签约人数"),
    Column("householdCoverage", "户签约率", "share"),
    Column("personCoverage", "人签约率", "share"),
)


def _row(township: str, counts: Any) -> dict[str, Any]:
    households, persons, signed_households, signed_persons = (int(c or 0) for c in counts)
    return dict(township=township, households=households, persons=persons,
                signedHouseholds=signed_households, signedPersons=signed_persons,
                householdCoverage=share(signed_households, households),
                personCoverage=share(signed_persons, persons))  # fmt: skip


async def low_income_report(
    session: AsyncSession, principal: Principal, *, region: str, month: Period
) -> Report:
    """A household is signed when a member on the list has a contract in effect at the
    month's end."""
    require_reports(principal)
    policy = region_policy(region)
    signed = signed_residents(month.end).subquery()
    is_signed = signed.c.resident_id.is_not(None)
    aggs = (
        func.count(distinct(LowIncomeMember.household_key)),
        func.count(),
        func.count(distinct(case((is_signed, LowIncomeMember.household_key)))),
        func.count(signed.c.resident_id),
    )

    def query(*cols: Any) -> Any:
        return (
            select(*cols)
            .select_from(LowIncomeMember)
            .join(Resident, Resident.id == LowIncomeMember.resident_id)
            .outerjoin(signed, signed.c.resident_id == LowIncomeMember.resident_id)
            .where(
                LowIncomeMember.region_key == region,
                LowIncomeMember.month == month.label,
                *resident_scope(principal),
            )  # fmt: skip
        )

    stmt = query(LowIncomeMember.township, *aggs).group_by(LowIncomeMember.township)
    rows = [
        _row(t, c)
        for t, *c in (await session.execute(stmt.order_by(LowIncomeMember.township))).all()
    ]
    total = _row("合计", (await session.execute(query(*aggs))).one())
    title = f"{policy.name_zh}农村低收入农户签约服务进展月报表（{month.label}）"
    return Report("low-income", title, [Table("low-income", title, COLUMNS, rows, total)],
                  dict(region=region, month=month.label))  # fmt: skip
