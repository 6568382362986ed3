"""GraphQL types of immunization and the Resident fields that reach them
(`immunizations`, `immunizationForecast`). Thin: rows through hub/immunization, the
resident already passed the one access policy (these are fields of a visible Resident);
every read is audited."""

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from hub.immunization import repository
from hub.immunization import service as immunization
from hub.immunization.forecast import Evaluation, Forecast, Recommendation
from hub.immunization.models import VaccinationEvent
from mappings.immunization import fhir
from schema.context import Context


@strawberry.enum(description="A series' next dose at the forecast date.")
class ForecastStatus(Enum):
    NOT_DUE = "NOT_DUE"  # not yet: before its earliest date
    DUE = "DUE"  # from its earliest date to its due-by date
    OVERDUE = "OVERDUE"  # past due-by: catch up (补种)
    COMPLETE = "COMPLETE"
    AGED_OUT = "AGED_OUT"  # too old to catch up


@strawberry.type(description="A dose given (接种记录), as the vaccinating unit recorded it.")
class Immunization:
    row: strawberry.Private[VaccinationEvent]
    vaccine: str | None = strawberry.field(
        description="The schedule's abbreviation (None: unmapped code)."
    )
    local_code: str
    product_name: str | None
    dose_number: int | None = strawberry.field(description="As the source numbered it.")
    given_on: dt.date
    lot: str | None
    manufacturer: str | None
    trace_code: str | None = strawberry.field(description="疫苗追溯码 (20 digits).")
    site: str | None
    route: str | None
    unit: str | None = strawberry.field(description="接种单位.")
    source: str

    @strawberry.field(description="FHIR R4B Immunization.")
    def fhir(self) -> JSON:
        return fhir.immunization(self.row)

    @classmethod
    def of(cls, e: VaccinationEvent) -> Immunization:
        return cls(
            row=e, vaccine=e.vaccine, local_code=e.local_code, product_name=e.product_name,
            dose_number=e.dose_number, given_on=e.given_on, lot=e.lot,
            manufacturer=e.manufacturer, trace_code=e.trace_code, site=e.site, route=e.route,
            unit=e.unit, source=e.source,
        )  # fmt: skip


@strawberry.type(description="Whether a dose counts by the national schedule.")
class DoseEvaluation:
    ev: strawberry.Private[Evaluation]
    resident: strawberry.Private[int]
    immunization_id: strawberry.Private[str | None]
    on: strawberry.Private[dt.date]
    vaccine: str
    given_on: dt.date
    series: str
    dose_number: int | None
    valid: bool
    reason: str | None = strawberry.field(
        description="Why not: BEFORE_MINIMUM_AGE, INTERVAL_TOO_SHORT, …"
    )
    message: str | None

    @strawberry.field(description="FHIR R4B ImmunizationEvaluation.")
    def fhir(self) -> JSON:
        return fhir.evaluation(self.ev, self.resident, self.immunization_id, self.on)


@strawberry.type(description="A series' next dose.")
class SeriesForecast:
    series: str
    next_dose: int | None
    status: ForecastStatus
    earliest_on: dt.date | None
    due_by: dt.date | None = strawberry.field(description="The last on-time day; OVERDUE after it.")
    vaccines: list[str] = strawberry.field(description="Products that may be given for it.")
    valid_doses: int

    @classmethod
    def of(cls, r: Recommendation) -> SeriesForecast:
        return cls(
            series=r.series, next_dose=r.next_dose, status=ForecastStatus(r.status.value),
            earliest_on=r.earliest_on, due_by=r.due_by, vaccines=list(r.products),
            valid_doses=r.valid_doses,
        )  # fmt: skip


@strawberry.type(description="Evaluation and forecast against the national schedule.")
class ImmunizationForecast:
    result: strawberry.Private[Forecast]
    resident: strawberry.Private[int]
    as_of: dt.date
    schedule_version: str
    evaluations: list[DoseEvaluation]
    series: list[SeriesForecast]

    @strawberry.field(description="FHIR R4B ImmunizationRecommendation.")
    def fhir(self) -> JSON:
        return fhir.recommendation(self.result, self.resident)


async def _events(info: Info[Context, Any], resident_id: int) -> list[VaccinationEvent]:
    async def batch(session: Any, keys: list[int]) -> list[list[VaccinationEvent]]:
        found = await repository.events(session, keys)
        return [found.get(k, []) for k in keys]

    rows: list[VaccinationEvent] = await info.context.loader("Immunizations", batch).load(
        resident_id
    )
    return rows


async def resident_immunizations(info: Info[Context, Any], resident_id: int) -> list[Immunization]:
    rows = await _events(info, resident_id)
    if rows:
        info.context.audit_read("immunizations", resident_id)
    return [Immunization.of(e) for e in rows]


async def resident_forecast(
    info: Info[Context, Any], resident_id: int, birth_date: dt.date | None, as_of: dt.date | None
) -> ImmunizationForecast | None:
    if birth_date is None:
        return None
    on = as_of or dt.date.today()
    rows = await _events(info, resident_id)
    found = await info.context.run(
        lambda s: immunization.forecasts(s, [(resident_id, birth_date)], on)
    )
    result = found[resident_id]
    info.context.audit_read("immunizationForecast", resident_id)
    ids: dict[tuple[str, dt.date], str] = {}
    for e in rows:
        if e.vaccine:
            ids.setdefault((e.vaccine, e.given_on), f"imm-{e.id}")
    return ImmunizationForecast(
        result=result, resident=resident_id, as_of=on, schedule_version=result.schedule_version,
        evaluations=[
            DoseEvaluation(
                ev=e, resident=resident_id, immunization_id=ids.get((e.vaccine, e.date)), on=on,
                vaccine=e.vaccine, given_on=e.date, series=e.series, dose_number=e.dose_number,
                valid=e.valid, reason=e.reason.value if e.reason else None, message=e.message,
            )
            for e in result.evaluations
        ],
        series=[SeriesForecast.of(r) for r in result.recommendations],
    )  # fmt: skip
