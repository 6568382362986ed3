"""Immunization rules around the store: record what the immunization system sent (the child
and guardian through the registry's matcher, the doses, adverse events), forecast a
resident's schedule, and mark doses overdue once (the `immunization.overdue` event).

Services take `(session, principal, ...)` and never commit; an invisible resident is
NotFound exactly as a missing one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hub.access import policy
from hub.access.principal import Principal
from hub.access.service import audit
from hub.errors import NotFound
from hub.events.service import emit
from hub.immunization import repository
from hub.immunization.forecast import Forecast, GivenDose, Status, forecast
from hub.immunization.models import (
    AdverseEvent,
    OverdueMarker,
    VaccinationEvent,
    VaccinationSubject,
)
from hub.immunization.schedule import load_schedule
from hub.registry.models import Resident
from hub.registry.records import ResidentRecord
from hub.registry.service import RegistryService

SOURCE = "immunization"
MAX_AGE_YEARS = 18  # the schedule's catch-up limit; the work list shows children 0-6


@dataclass(frozen=True)
class SubjectCommand:
    """One version of a child as the immunization system holds it (adapter-neutral)."""

    subject_id: str
    version: int
    child: dict[str, Any]
    guardian: dict[str, Any]
    vaccinations: Sequence[Any]  # translate.Vaccination-like
    adverse: Sequence[Any] = ()


async def record_subject(
    session: AsyncSession,
    principal: Principal,
    registry: RegistryService,
    command: SubjectCommand,
    *,
    source: str = SOURCE,
    today: dt.date | None = None,
) -> dict[str, Any]:
    """Link the child (and guardian) to residents, store the doses; recompute the child's
    overdue markers. Returns ids and counts (no personal data)."""
    c, g = command.child, command.guardian
    guardian_id: int | None = None
    if g.get("id_number"):
        linked = await registry.submit(
            session,
            principal,
            ResidentRecord(
                source=source,
                source_id=f"guardian:{g['id_number']}",
                name=g.get("name"),
                id_number=g["id_number"],
                phone=g.get("phone"),
                address=c.get("address"),
            ),
            strict=False,
        )
        guardian_id = linked.resident.id
    child = await registry.submit(
        session,
        principal,
        ResidentRecord(
            source=source,
            source_id=f"child:{command.subject_id}",
            name=c.get("name"),
            sex=c.get("sex"),
            birth_date=c.get("birth_date"),
            id_number=c.get("id_number"),
            birth_certificate_no=c.get("birth_certificate_no"),
            address=c.get("address"),
            guardian_name=g.get("name"),
            guardian_phone=g.get("phone"),
            guardian_relation=g.get("relation"),
            guardian_id_number=g.get("id_number"),
            mother_id_number=g.get("id_number") if g.get("relation") == "mother" else None,
        ),
        strict=False,
    )
    resident_id = child.resident.id
    row = await repository.subject(session, source, command.subject_id)
    if row is None:
        row = VaccinationSubject(
            source=source, source_id=command.subject_id, resident_id=resident_id
        )
        session.add(row)
    row.resident_id, row.guardian_resident_id = resident_id, guardian_id
    row.guardian_relation, row.certificate_no = g.get("relation"), c.get("certificate_no")
    row.version, row.updated_at = command.version, dt.datetime.now(dt.UTC)
    known = await repository.events_by_source_id(
        session, source, [v.event_id for v in command.vaccinations]
    )
    added, touched = 0, list[VaccinationEvent]()
    for v in command.vaccinations:
        event = known.get(v.event_id)
        if event is None:
            event = VaccinationEvent(source=source, source_event_id=v.event_id)
            session.add(event)
            added += 1
        touched.append(event)
        event.resident_id = resident_id
        event.vaccine, event.local_code, event.product_name = (
            v.vaccine,
            v.local_code,
            v.product_name,
        )
        event.dose_number, event.given_on, event.lot = v.dose_number, v.given_on, v.lot
        event.manufacturer, event.trace_code = v.manufacturer, v.trace_code
        event.site, event.route, event.unit = v.site, v.route, v.unit
        event.entered_in_error = v.entered_in_error
        event.updated_at = dt.datetime.now(dt.UTC)
    for a in command.adverse:
        exists = await session.scalar(
            select(AdverseEvent.id).where(
                AdverseEvent.source == source, AdverseEvent.source_event_id == a.event_id
            )
        )
        if exists is None:
            session.add(
                AdverseEvent(
                    source=source, source_event_id=a.event_id, resident_id=resident_id,
                    vaccination_event_id=a.vaccination_id, onset_on=a.onset_on,
                    reaction=a.reaction, severity=a.severity,
                )
            )  # fmt: skip
    await session.flush()
    if added:
        org = child.resident.organization_id
        emit(
            session, "immunization.recorded", "Resident", resident_id, source=source, doses=added,
            organization_ids=[org] if org else [],
        )  # fmt: skip
    emitted = await mark_overdue(session, [resident_id], today or dt.date.today())
    from hub.immunization.fulfilment import count_valid_doses  # a valid dose counts (履约)

    delivered = await count_valid_doses(
        session, principal, resident_id, child.resident.birth_date, touched, source=source
    )
    return {
        "resident_id": resident_id,
        "guardian_resident_id": guardian_id,
        "doses": len(command.vaccinations),
        "new_doses": added,
        "overdue_events": emitted,
        "deliveries": delivered,
        "outcome": child.outcome.value,
    }


def _doses(events: Sequence[VaccinationEvent]) -> list[GivenDose]:
    return [GivenDose(e.vaccine, e.given_on) for e in events if e.vaccine is not None]


async def forecasts(
    session: AsyncSession, people: Sequence[tuple[int, dt.date]], on: dt.date
) -> dict[int, Forecast]:
    """The forecast of each (resident id, birth date) at `on` (no access check: callers
    hand in residents they may see, or run as a job)."""
    schedule = load_schedule()
    given = await repository.events(session, [rid for rid, _ in people])
    return {
        rid: forecast(
            born, [d for d in _doses(given.get(rid, [])) if d.date <= on], on, schedule=schedule
        )
        for rid, born in people
    }


async def resident_forecast(
    session: AsyncSession, principal: Principal, resident_id: int, on: dt.date
) -> Forecast:
    """A visible resident's evaluation and forecast (audited)."""
    resident = await _visible(session, principal, resident_id)
    if resident.birth_date is None:
        raise NotFound("The resident has no birth date to forecast from.", field="residentId")
    await audit(session, principal, "READ", "immunizationForecast", [resident_id])
    return (await forecasts(session, [(resident_id, resident.birth_date)], on))[resident_id]


async def resident_events(
    session: AsyncSession, principal: Principal, resident_id: int
) -> list[VaccinationEvent]:
    await _visible(session, principal, resident_id)
    await audit(session, principal, "READ", "immunizations", [resident_id])
    return (await repository.events(session, [resident_id])).get(resident_id, [])


async def _visible(session: AsyncSession, principal: Principal, resident_id: int) -> Resident:
    resident = await session.get(Resident, resident_id)
    if resident is None or not await policy.may_see_resident(session, principal, resident_id):
        raise NotFound(f"No resident {resident_id}.", field="residentId")
    return resident


async def mark_overdue(session: AsyncSession, resident_ids: Sequence[int], on: dt.date) -> int:
    """Mark each newly overdue dose once and emit `immunization.overdue` for it. Safe in
    several processes: the marker's unique key decides who emits."""
    rows = await session.execute(
        repository.children_query(on, MAX_AGE_YEARS).where(Resident.id.in_(list(resident_ids)))
    )
    return await _mark(session, [(rid, born) for rid, born, _ in rows], on)


async def _mark(session: AsyncSession, people: Sequence[tuple[int, dt.date]], on: dt.date) -> int:
    if not people:
        return 0
    teams = await repository.signed_teams(session, [rid for rid, _ in people])
    results = await forecasts(session, people, on)
    seen = await repository.markers(session, [rid for rid, _ in people])
    emitted = 0
    for rid, result in results.items():
        for r in result.recommendations:
            if r.status is not Status.OVERDUE or r.next_dose is None or r.due_by is None:
                continue
            if (rid, r.series, r.next_dose) in seen:
                continue
            try:
                async with session.begin_nested():
                    await session.execute(
                        insert(OverdueMarker).values(
                            resident_id=rid, series=r.series, dose=r.next_dose, due_by=r.due_by,
                            marked_at=dt.datetime.now(dt.UTC),
                        )
                    )  # fmt: skip
            except IntegrityError:
                continue  # another process marked it first, and emitted
            team, org = teams.get(rid, (None, None))
            emit(
                session, "immunization.overdue", "Resident", rid,
                series=r.series, dose=r.next_dose, dueBy=r.due_by.isoformat(), teamId=team,
                organization_ids=[org] if org else [],
            )  # fmt: skip
            emitted += 1
    return emitted


async def recompute(session: AsyncSession, on: dt.date, *, batch: int = 2000) -> dict[str, int]:
    """The daily recompute: every child under the catch-up age; marks what became overdue."""
    rows = list(await session.execute(repository.children_query(on, MAX_AGE_YEARS)))
    emitted = 0
    for start in range(0, len(rows), batch):
        chunk = rows[start : start + batch]
        emitted += await _mark(session, [(rid, born) for rid, born, _ in chunk], on)
    return {"children": len(rows), "overdue_events": emitted}
