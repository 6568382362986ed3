"""Every query of the immunization domain."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.immunization.models import OverdueMarker, VaccinationEvent, VaccinationSubject
from hub.registry.models import Resident


async def subject(session: AsyncSession, source: str, source_id: str) -> VaccinationSubject | None:
    return await session.scalar(
        select(VaccinationSubject).where(
            VaccinationSubject.source == source, VaccinationSubject.source_id == source_id
        )
    )


async def events_by_source_id(
    session: AsyncSession, source: str, ids: Sequence[str]
) -> dict[str, VaccinationEvent]:
    if not ids:
        return {}
    rows = await session.scalars(
        select(VaccinationEvent).where(
            VaccinationEvent.source == source, VaccinationEvent.source_event_id.in_(list(ids))
        )
    )
    return {r.source_event_id: r for r in rows}


async def events(
    session: AsyncSession, resident_ids: Sequence[int]
) -> dict[int, list[VaccinationEvent]]:
    """Doses given (not entered in error), per resident, oldest first."""
    out: dict[int, list[VaccinationEvent]] = defaultdict(list)
    ids = list(set(resident_ids))
    for start in range(0, len(ids), 500):
        rows = await session.scalars(
            select(VaccinationEvent)
            .where(
                VaccinationEvent.resident_id.in_(ids[start : start + 500]),
                VaccinationEvent.entered_in_error.is_(False),
            )
            .order_by(VaccinationEvent.given_on, VaccinationEvent.id)
        )
        for r in rows:
            out[r.resident_id].append(r)
    return out


def children_query(on: dt.date, max_age_years: int) -> Select[tuple[int, dt.date, str | None]]:
    """Residents young enough for the schedule, with their team (signed: a team is set)."""
    born_after = dt.date(on.year - max_age_years, 1, 1)
    return (
        select(Resident.id, Resident.birth_date, Resident.team_id)
        .where(Resident.birth_date.is_not(None), Resident.birth_date >= born_after)
        .where(Resident.birth_date <= on)
        .where(Resident.merged_into_id.is_(None))
    )


async def team_children(
    session: AsyncSession, team_id: str, on: dt.date, max_age_years: int
) -> list[tuple[int, dt.date]]:
    """The team's signed children: an active contract with this team (签约儿童)."""
    from hub.contracts.models import Contract, ContractStatus

    signed = select(Contract.resident_id).where(
        Contract.team_id == team_id, Contract.status == ContractStatus.ACTIVE
    )
    rows = await session.execute(children_query(on, max_age_years).where(Resident.id.in_(signed)))
    return [(rid, born) for rid, born, _ in rows]


async def markers(session: AsyncSession, resident_ids: Sequence[int]) -> set[tuple[int, str, int]]:
    if not resident_ids:
        return set()
    rows = await session.execute(
        select(OverdueMarker.resident_id, OverdueMarker.series, OverdueMarker.dose).where(
            OverdueMarker.resident_id.in_(list(set(resident_ids)))
        )
    )
    return {(r, s, d) for r, s, d in rows}


async def signed_teams(
    session: AsyncSession, resident_ids: Sequence[int]
) -> dict[int, tuple[str, str | None]]:
    """resident id -> (team, organization) of its active contract."""
    from hub.contracts.models import Contract, ContractStatus

    if not resident_ids:
        return {}
    rows = await session.execute(
        select(Contract.resident_id, Contract.team_id, Contract.organization_id).where(
            Contract.resident_id.in_(list(set(resident_ids))),
            Contract.status == ContractStatus.ACTIVE,
        )
    )
    return {rid: (team, org) for rid, team, org in rows}
