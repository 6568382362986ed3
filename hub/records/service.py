"""Recording clinical facts that adapters gather: a visit with its results.

Services never commit; the caller owns the transaction. A follow-up visit (随访) of a
hypertension or type 2 diabetes patient is also reported to the contracts domain as a
delivered service, when that domain offers `record_delivery`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.access import service as access
from hub.access.principal import Principal, Scope
from hub.records import repository
from hub.records.models import EncounterKind
from hub.registry.models import PopulationCategory, ResidentCategory

BLOOD_PRESSURE, SYSTOLIC, DIASTOLIC = "85354-9", "8480-6", "8462-4"
FASTING_GLUCOSE = "14771-0"
CST = dt.timezone(dt.timedelta(hours=8))  # dates of care are Chinese local dates
# Which result makes a visit the follow-up of which condition (国家基本公卫慢病随访).
FOLLOWS_UP = {
    BLOOD_PRESSURE: PopulationCategory.HYPERTENSION,
    FASTING_GLUCOSE: PopulationCategory.DIABETES_T2,
}


@dataclass(frozen=True, slots=True)
class Result:
    """One observation to store. `components` for panels (blood pressure)."""

    code: str
    code_system: str  # "LOINC" or "local:<system>"
    display: str | None = None
    value_num: float | None = None
    value_text: str | None = None
    unit: str | None = None
    components: dict[str, Any] | None = None
    local_code: str | None = None
    mapped: bool = True
    status: str | None = None
    effective_at: dt.datetime | None = None


@dataclass(slots=True)
class Recorded:
    encounter_id: int
    kind: str
    conditions: list[str] = field(default_factory=list)
    observations: int = 0
    delivery_recorded: bool = False


@dataclass(frozen=True, slots=True)
class Visit:
    """A visit to record: `origin` is the source's message id, unique per source."""

    resident_id: int
    origin: str
    results: Sequence[Result]
    started_at: dt.datetime | None = None
    facility: str | None = None


async def record_visit(
    session: AsyncSession,
    principal: Principal,
    *,
    resident_id: int,
    source: str,
    origin: str,
    results: Sequence[Result],
    started_at: dt.datetime | None,
    facility: str | None = None,
) -> Recorded:
    """Store a visit and its results. Recording the same origin twice fails on the unique
    key: a message cannot be applied twice whatever the caller does."""
    visit = Visit(resident_id, origin, results, started_at, facility)
    return (await record_visits(session, principal, source, [visit]))[0]


async def record_visits(
    session: AsyncSession, principal: Principal, source: str, visits: Sequence[Visit]
) -> list[Recorded]:
    """Many visits with a few statements (adapters commit messages in batches)."""
    principal.require(Scope.RESIDENTS_WRITE)
    if not visits:
        return []
    residents = {v.resident_id for v in visits}
    categories: dict[int, set[str]] = {rid: set() for rid in residents}
    for rid, category in await session.execute(
        select(ResidentCategory.resident_id, ResidentCategory.category).where(
            ResidentCategory.resident_id.in_(residents)
        )
    ):
        categories[rid].add(category)
    out: list[Recorded] = []
    rows = []
    for v in visits:
        wanted = {FOLLOWS_UP[r.code] for r in v.results if r.code in FOLLOWS_UP}
        conditions = sorted(str(c) for c in wanted & categories[v.resident_id])
        kind = EncounterKind.FOLLOW_UP if conditions else EncounterKind.VISIT
        out.append(Recorded(0, kind, conditions, len(v.results)))
        rows.append(
            {
                "resident_id": v.resident_id,
                "source": source,
                "origin": v.origin,
                "kind": kind,
                "conditions": conditions,
                "facility": v.facility,
                "started_at": v.started_at,
            }
        )
    ids = await repository.add_encounters(session, rows)
    observations = []
    for v, rec, encounter_id in zip(visits, out, ids, strict=True):
        rec.encounter_id = encounter_id
        observations += [
            {
                "resident_id": v.resident_id,
                "encounter_id": encounter_id,
                "source": source,
                "origin": v.origin,
                "seq": seq,
                "code": r.code,
                "code_system": r.code_system,
                "display": (r.display or None) and r.display[:200],
                "local_code": r.local_code,
                "mapped": r.mapped,
                "value_num": r.value_num,
                "value_text": (r.value_text or None) and r.value_text[:200],
                "unit": r.unit,
                "components": r.components,
                "status": r.status,
                "effective_at": r.effective_at or v.started_at,
            }
            for seq, r in enumerate(v.results, start=1)
        ]
    await repository.add_observations(session, observations)
    for v, rec in zip(visits, out, strict=True):
        if rec.conditions:
            rec.delivery_recorded = await _deliver(
                session, principal, v.resident_id, rec.conditions, v.started_at, source, v.origin
            )
    await repository.add_events(
        session,
        [
            {
                "type": "encounter.recorded",
                "aggregate_type": "Resident",
                "aggregate_id": str(v.resident_id),
                "organization_ids": [],
                "data": {
                    "encounter_id": rec.encounter_id,
                    "kind": rec.kind,
                    "source": source,
                    "conditions": rec.conditions,
                    "observations": rec.observations,
                },
            }
            for v, rec in zip(visits, out, strict=True)
        ],
    )
    await access.audit(session, principal, "WRITE", "recordVisit", residents)
    return out


async def _deliver(
    session: AsyncSession,
    principal: Principal,
    resident_id: int,
    conditions: list[str],
    performed: dt.datetime | None,
    source: str,
    origin: str,
) -> bool:
    """Count the follow-up on the resident's active contract (contracts decide whether it
    owes one: no contract, no such item or a date outside it records nothing)."""
    from hub.contracts.delivery import record_delivery

    day = (performed or dt.datetime.now(dt.UTC)).astimezone(CST).date()
    recorded = False
    for category in conditions:
        delivery = await record_delivery(
            session,
            principal,
            resident_id=resident_id,
            performed_on=day,
            category=category,
            service="follow_up",
            source=source,
            source_ref=f"{origin}:{category}",
        )
        recorded = recorded or delivery is not None
    return recorded


async def reassign(
    session: AsyncSession, principal: Principal, *, from_resident: int, to_resident: int
) -> None:
    """After a merge: the merged resident's records belong to the survivor."""
    principal.require(Scope.RESIDENTS_WRITE)
    await repository.reassign(session, from_resident, to_resident)
