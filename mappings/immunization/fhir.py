"""Immunization facts as FHIR R4B: Immunization (a dose given), ImmunizationEvaluation (does
it count, by the national schedule), ImmunizationRecommendation (each series' next dose).
Plain dicts; the tests validate them with fhir.resources R4B."""

from __future__ import annotations

import datetime as dt
from typing import Any

HUB = "https://hub.example.cn/fhir"
VACCINE = f"{HUB}/CodeSystem/nip-vaccine"  # the schedule's abbreviations (HepB, IPV, JE-L …)
LOCAL = f"{HUB}/CodeSystem/immunization-local-vaccine"  # the source system's own codes
SERIES = f"{HUB}/CodeSystem/nip-series"  # HepB, BCG, Polio, DTaP, MMR, JE, MenA, MenAC, HepA
SCHEDULE = f"{HUB}/sid/nip-schedule"
TRACE = f"{HUB}/sid/vaccine-trace-code"  # 疫苗追溯码
STATUS = "http://terminology.hl7.org/CodeSystem/immunization-recommendation-status"
CRITERION = "http://terminology.hl7.org/CodeSystem/immunization-recommendation-date-criterion"
EVAL = "http://terminology.hl7.org/CodeSystem/immunization-evaluation-dose-status"
ROUTE = "http://terminology.hl7.org/CodeSystem/v3-RouteOfAdministration"
ROUTES = {"IM": "IM", "SC": "SQ", "ID": "IDINJ", "PO": "PO"}
# Forecast status -> the HL7 recommendation status (no "aged out" code: "contraindicated"
# would be wrong; the hub's own code travels alongside).
FORECAST = {"NOT_DUE": "notdue", "DUE": "due", "OVERDUE": "overdue", "COMPLETE": "complete",
            "AGED_OUT": "agedout"}  # fmt: skip
FORECAST_DISPLAY = {"notdue": "Not Due", "due": "Due", "overdue": "Overdue",
                    "complete": "Complete", "agedout": "Aged Out"}  # fmt: skip
HUB_STATUS = f"{HUB}/CodeSystem/immunization-forecast-status"


def _vaccine(abbr: str | None, local: str | None, name: str | None) -> dict[str, Any]:
    coding = []
    if abbr:
        coding.append({"system": VACCINE, "code": abbr})
    if local:
        coding.append({"system": LOCAL, "code": local})
    out: dict[str, Any] = {"coding": coding}
    if name:
        out["text"] = name
    return out


def immunization(event: Any) -> dict[str, Any]:
    """One dose given (接种记录), from a VaccinationEvent row."""
    out: dict[str, Any] = {
        "resourceType": "Immunization",
        "id": f"imm-{event.id}",
        "identifier": [
            {"system": f"{HUB}/sid/{event.source}-vaccination", "value": event.source_event_id}
        ],
        "status": "entered-in-error" if event.entered_in_error else "completed",
        "vaccineCode": _vaccine(event.vaccine, event.local_code, event.product_name),
        "patient": {"reference": f"Patient/{event.resident_id}"},
        "occurrenceDateTime": event.given_on.isoformat(),
        "primarySource": False,
    }
    if event.lot:
        out["lotNumber"] = event.lot
    if event.manufacturer:
        out["manufacturer"] = {"display": event.manufacturer}
    if event.site:
        out["site"] = {"text": event.site}
    if event.route:
        code = ROUTES.get(event.route)
        out["route"] = (
            {"coding": [{"system": ROUTE, "code": code}]} if code else {"text": event.route}
        )
    if event.unit:
        out["performer"] = [{"actor": {"display": event.unit}}]
    if event.dose_number:
        out["protocolApplied"] = [{"doseNumberPositiveInt": event.dose_number}]
    if event.trace_code:
        out.setdefault("extension", []).append(
            {
                "url": f"{HUB}/StructureDefinition/vaccine-trace-code",
                "valueString": event.trace_code,
            }
        )
    return out


def evaluation(
    ev: Any, resident_id: int, immunization_id: str | None, on: dt.date
) -> dict[str, Any]:
    """Whether one dose counts (ImmunizationEvaluation), from a forecast.Evaluation."""
    valid = "valid" if ev.valid else "notvalid"
    out: dict[str, Any] = {
        "resourceType": "ImmunizationEvaluation",
        "status": "completed",
        "patient": {"reference": f"Patient/{resident_id}"},
        "date": on.isoformat(),
        "authority": {"display": "国家免疫规划疫苗儿童免疫程序（2021年版）"},
        "targetDisease": {"coding": [{"system": SERIES, "code": ev.series}]},
        "immunizationEvent": {"reference": f"Immunization/{immunization_id}"}
        if immunization_id
        else {"display": f"{ev.vaccine} {ev.date.isoformat()}"},
        "doseStatus": {"coding": [{"system": EVAL, "code": valid}]},
        "series": ev.series,
    }
    if ev.reason:
        reason = {"system": f"{HUB}/CodeSystem/dose-not-valid", "code": ev.reason.value}
        out["doseStatusReason"] = [{"coding": [reason], "text": ev.message}]
    if ev.dose_number:
        out["doseNumberPositiveInt"] = ev.dose_number
    return out


def recommendation(result: Any, resident_id: int) -> dict[str, Any]:
    """Each series' next dose (ImmunizationRecommendation), from a forecast.Forecast."""
    items = []
    for r in result.recommendations:
        code = FORECAST[r.status.value]
        item: dict[str, Any] = {
            "targetDisease": {"coding": [{"system": SERIES, "code": r.series}]},
            "forecastStatus": {
                "coding": [
                    {"system": STATUS, "code": code, "display": FORECAST_DISPLAY[code]}
                    if code in ("due", "overdue", "complete")
                    else {"system": HUB_STATUS, "code": r.status.value},
                ]
            },
            "series": r.series,
        }
        if r.products:
            item["vaccineCode"] = [{"coding": [{"system": VACCINE, "code": p}]} for p in r.products]
        if r.next_dose:
            item["doseNumberPositiveInt"] = r.next_dose
        criteria = []
        if r.earliest_on:
            criteria.append({"code": {"coding": [{"system": CRITERION, "code": "earliest"}]},
                             "value": r.earliest_on.isoformat()})  # fmt: skip
        if r.due_by:
            criteria.append({"code": {"coding": [{"system": CRITERION, "code": "overdue"}]},
                             "value": (r.due_by + dt.timedelta(days=1)).isoformat()})  # fmt: skip
        if criteria:
            item["dateCriterion"] = criteria
        items.append(item)
    return {
        "resourceType": "ImmunizationRecommendation",
        "identifier": [{"system": SCHEDULE, "value": result.schedule_version}],
        "patient": {"reference": f"Patient/{resident_id}"},
        "date": result.as_of.isoformat(),
        "authority": {"display": "国家免疫规划疫苗儿童免疫程序（2021年版）"},
        "recommendation": items,
    }
