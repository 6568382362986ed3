"""Every registry query. Services call these; nothing else writes SQL for residents."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, and_, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.access import policy
from hub.access.principal import Principal
from hub.registry.models import (
    Resident,
    ResidentCategory,
    ResidentIdentifier,
    ResidentStatus,
    SourceRecord,
)


@dataclass(frozen=True, slots=True)
class ResidentFilter:
    name: str | None = None
    organization_id: str | None = None
    team_id: str | None = None
    category: str | None = None
    region: str | None = None
    insurance_type: str | None = None
    include_merged: bool = False
    signed: bool | None = None  # has an active contract (condition from hub.contracts)


def visible(principal: Principal) -> ColumnElement[bool] | None:
    """Rows this client may see: the one access policy (`hub.access.policy`)."""
    return policy.residents(principal)


# Conditions for filter fields another domain owns: field name -> (value -> condition).
extra_filters: dict = {}


def age_window(years_min: int | None, years_max: int | None, today: dt.date):
    """Birth-date bounds for an age range (inclusive years)."""
    conds = []
    if years_max is not None:  # age <= max  <=>  born after today - (max+1) years
        conds.append(Resident.birth_date > _years_before(today, years_max + 1))
    if years_min is not None:
        conds.append(Resident.birth_date <= _years_before(today, years_min))
    return and_(*conds)


def _years_before(today: dt.date, years: int) -> dt.date:
    try:
        return today.replace(year=today.year - years)
    except ValueError:  # 29 February
        return today.replace(year=today.year - years, day=28)


def filtered(principal: Principal, flt: ResidentFilter, today: dt.date) -> Select[tuple[Resident]]:
    stmt = select(Resident)
    if not flt.include_merged:
        stmt = stmt.where(Resident.status == ResidentStatus.ACTIVE)
    if (cond := visible(principal)) is not None:
        stmt = stmt.where(cond)
    if flt.name:
        stmt = stmt.where(Resident.name.startswith(flt.name, autoescape=True))
    if flt.organization_id:
        stmt = stmt.where(Resident.organization_id == flt.organization_id)
    if flt.team_id:
        stmt = stmt.where(Resident.team_id == flt.team_id)
    if flt.region:
        stmt = stmt.where(Resident.region_key == flt.region)
    if flt.insurance_type:
        stmt = stmt.where(Resident.insurance_type == flt.insurance_type)
    if flt.signed is not None:
        stmt = stmt.where(extra_filters["signed"](flt.signed))
    if flt.category == "CHILD_0_6":
        stmt = stmt.where(age_window(0, 6, today))
    elif flt.category == "ELDERLY_65":
        stmt = stmt.where(age_window(65, None, today))
    elif flt.category == "PREGNANT_POSTPARTUM":  # from the maternal-child data, as of today
        from hub.maternal.repository import pregnant_or_postpartum_ids

        stored = select(ResidentCategory.resident_id).where(
            ResidentCategory.category == flt.category
        )
        stmt = stmt.where(
            Resident.id.in_(stored) | Resident.id.in_(pregnant_or_postpartum_ids(today))
        )
    elif flt.category:
        stmt = stmt.where(
            Resident.id.in_(
                select(ResidentCategory.resident_id).where(
                    ResidentCategory.category == flt.category
                )
            )
        )
    return stmt


async def page(
    session: AsyncSession, stmt: Select[tuple[Resident]], *, after: int | None, limit: int
) -> tuple[list[Resident], int, bool]:
    """Keyset page by id: (rows, total count, has next page)."""
    total = await session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    if after is not None:
        stmt = stmt.where(Resident.id > after)
    rows = list((await session.scalars(stmt.order_by(Resident.id).limit(limit + 1))).all())
    return rows[:limit], int(total or 0), len(rows) > limit


async def get(session: AsyncSession, resident_id: int) -> Resident | None:
    return await session.get(Resident, resident_id)


async def get_many(session: AsyncSession, ids: Sequence[int]) -> dict[int, Resident]:
    if not ids:
        return {}
    rows = await session.scalars(select(Resident).where(Resident.id.in_(ids)))
    return {r.id: r for r in rows}


async def is_visible(session: AsyncSession, principal: Principal, resident_id: int) -> bool:
    cond = visible(principal)
    if cond is None:
        return True
    return bool(await session.scalar(select(Resident.id).where(Resident.id == resident_id, cond)))


async def by_identifier(session: AsyncSession, system: str, value: str) -> list[int]:
    rows = await session.scalars(
        select(ResidentIdentifier.resident_id).where(
            ResidentIdentifier.system == system, ResidentIdentifier.value == value
        )
    )
    return list(dict.fromkeys(rows))


async def source_record(session: AsyncSession, source: str, source_id: str) -> SourceRecord | None:
    return await session.scalar(
        select(SourceRecord).where(
            SourceRecord.source == source, SourceRecord.source_id == source_id
        )
    )


async def source_records(session: AsyncSession, resident_ids: Sequence[int]) -> list[SourceRecord]:
    rows = await session.scalars(
        select(SourceRecord)
        .where(SourceRecord.resident_id.in_(resident_ids))
        .order_by(SourceRecord.id)
    )
    return list(rows)


async def categories(session: AsyncSession, resident_ids: Sequence[int]) -> dict[int, set[str]]:
    out: dict[int, set[str]] = {i: set() for i in resident_ids}
    rows = await session.execute(
        select(ResidentCategory.resident_id, ResidentCategory.category).where(
            ResidentCategory.resident_id.in_(resident_ids)
        )
    )
    for rid, cat in rows:
        out[rid].add(cat)
    # 孕产妇 follows the maternal-child data and ends by itself 42 days after delivery.
    from hub.maternal.repository import pregnant_or_postpartum

    for rid in await pregnant_or_postpartum(session, resident_ids, dt.date.today()):
        out[rid].add("PREGNANT_POSTPARTUM")
    return out


async def replace_identifiers(
    session: AsyncSession, resident_id: int, identifiers: Sequence[tuple[str, str]]
) -> None:
    await session.execute(
        delete(ResidentIdentifier).where(ResidentIdentifier.resident_id == resident_id)
    )
    session.add_all(
        ResidentIdentifier(resident_id=resident_id, system=s, value=v) for s, v in set(identifiers)
    )


async def replace_categories(session: AsyncSession, resident_id: int, cats: set[str]) -> None:
    await session.execute(
        delete(ResidentCategory).where(ResidentCategory.resident_id == resident_id)
    )
    session.add_all(ResidentCategory(resident_id=resident_id, category=c) for c in sorted(cats))


async def merged_into(session: AsyncSession, resident_ids: Sequence[int]) -> dict[int, list[int]]:
    """survivor id -> ids of the residents merged into it."""
    out: dict[int, list[int]] = {}
    if not resident_ids:
        return out
    rows = await session.execute(
        select(Resident.merged_into_id, Resident.id)
        .where(Resident.merged_into_id.in_(resident_ids))
        .order_by(Resident.id)
    )
    for survivor, rid in rows:
        if survivor is not None:
            out.setdefault(survivor, []).append(rid)
    return out


async def household_members(session: AsyncSession, household_id: int) -> list[Resident]:
    rows = await session.scalars(
        select(Resident)
        .where(Resident.household_id == household_id, Resident.status == ResidentStatus.ACTIVE)
        .order_by(Resident.id)
    )
    return list(rows)
