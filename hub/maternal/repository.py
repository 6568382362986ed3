"""Every query on the maternal-child tables."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.maternal.models import Birth, ChildExam, MaternalVisit, Pregnancy


async def pregnant_or_postpartum(
    session: AsyncSession, resident_ids: Sequence[int], on: dt.date
) -> set[int]:
    """Residents who are 孕产妇 on `on`: registered, not more than 42 days after delivery."""
    if not resident_ids:
        return set()
    rows = await session.scalars(
        select(Pregnancy.resident_id).where(
            Pregnancy.resident_id.in_(list(resident_ids)),
            Pregnancy.deleted.is_(False),
            Pregnancy.registered_on <= on,
            Pregnancy.category_ends_on >= on,
        )
    )
    return set(rows)


async def pregnancy_by_handbook(session: AsyncSession, handbook_no: str) -> Pregnancy | None:
    return await session.scalar(select(Pregnancy).where(Pregnancy.handbook_no == handbook_no))


async def visit_by_source(session: AsyncSession, record_id: str) -> MaternalVisit | None:
    return await session.scalar(
        select(MaternalVisit).where(MaternalVisit.source_record_id == record_id)
    )


async def exam_by_source(session: AsyncSession, record_id: str) -> ChildExam | None:
    return await session.scalar(select(ChildExam).where(ChildExam.source_record_id == record_id))


async def birth_by_certificate(session: AsyncSession, certificate_no: str) -> Birth | None:
    return await session.scalar(select(Birth).where(Birth.certificate_no == certificate_no))


async def pregnancies(session: AsyncSession, resident_ids: Sequence[int]) -> list[Pregnancy]:
    rows = await session.scalars(
        select(Pregnancy)
        .where(Pregnancy.resident_id.in_(list(resident_ids)), Pregnancy.deleted.is_(False))
        .order_by(Pregnancy.resident_id, Pregnancy.lmp.desc(), Pregnancy.id.desc())
    )
    return list(rows)


async def visits(session: AsyncSession, pregnancy_ids: Sequence[int]) -> list[MaternalVisit]:
    rows = await session.scalars(
        select(MaternalVisit)
        .where(
            MaternalVisit.pregnancy_id.in_(list(pregnancy_ids)), MaternalVisit.deleted.is_(False)
        )
        .order_by(MaternalVisit.pregnancy_id, MaternalVisit.visit_on, MaternalVisit.id)
    )
    return list(rows)


async def exams(session: AsyncSession, resident_ids: Sequence[int]) -> list[ChildExam]:
    rows = await session.scalars(
        select(ChildExam)
        .where(ChildExam.resident_id.in_(list(resident_ids)), ChildExam.deleted.is_(False))
        .order_by(ChildExam.resident_id, ChildExam.exam_on, ChildExam.id)
    )
    return list(rows)


async def births_of_children(session: AsyncSession, child_ids: Sequence[int]) -> list[Birth]:
    rows = await session.scalars(select(Birth).where(Birth.child_resident_id.in_(list(child_ids))))
    return list(rows)


async def births_of_mothers(session: AsyncSession, mother_ids: Sequence[int]) -> list[Birth]:
    rows = await session.scalars(
        select(Birth)
        .where(Birth.mother_resident_id.in_(list(mother_ids)))
        .order_by(Birth.mother_resident_id, Birth.born_at, Birth.birth_order, Birth.id)
    )
    return list(rows)


async def team_pregnancies(session: AsyncSession, team_id: str, on: dt.date) -> list[Pregnancy]:
    """Open pregnancies (and recent postpartum) of the team's residents."""
    from hub.registry.models import Resident

    rows = await session.scalars(
        select(Pregnancy)
        .join(Resident, Resident.id == Pregnancy.resident_id)
        .where(
            Resident.team_id == team_id,
            Pregnancy.deleted.is_(False),
            Pregnancy.category_ends_on >= on - dt.timedelta(days=90),
        )
    )
    return list(rows)


async def team_births(session: AsyncSession, team_id: str, born_after: dt.datetime) -> list[Birth]:
    from hub.registry.models import Resident

    rows = await session.scalars(
        select(Birth)
        .join(Resident, Resident.id == Birth.child_resident_id)
        .where(Resident.team_id == team_id, Birth.born_at >= born_after)
    )
    return list(rows)


async def pregnancies_by_id(session: AsyncSession, ids: Sequence[int]) -> list[Pregnancy]:
    if not ids:
        return []
    return list(await session.scalars(select(Pregnancy).where(Pregnancy.id.in_(list(set(ids))))))


async def trigger_events(session: AsyncSession, resident_id: int) -> list[tuple[str, dt.datetime]]:
    """Events that start "within N hours" clocks of package items: the discharge after a
    delivery (DELIVERY_DISCHARGE, the mother's; NEWBORN_DISCHARGE, the child's), at the
    start of the day the maternal-child system reported."""
    out: list[tuple[str, dt.datetime]] = []
    for p in await pregnancies(session, [resident_id]):
        if p.discharged_on is not None:
            out.append(("DELIVERY_DISCHARGE", dt.datetime.combine(p.discharged_on, dt.time())))
    births = await births_of_children(session, [resident_id])
    for p in await pregnancies_by_id(session, [b.pregnancy_id for b in births]):
        if p.discharged_on is not None and not p.deleted:
            out.append(("NEWBORN_DISCHARGE", dt.datetime.combine(p.discharged_on, dt.time())))
    return out


def pregnant_or_postpartum_ids(on: dt.date) -> Select[Any]:
    """The residents who are 孕产妇 on `on`, as a subquery for list filters."""
    return select(Pregnancy.resident_id).where(
        Pregnancy.deleted.is_(False),
        Pregnancy.registered_on <= on,
        Pregnancy.category_ends_on >= on,
    )
