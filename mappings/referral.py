"""Referral rows -> FHIR R4B ServiceRequest with its Task, Appointment and MedicationRequests.

The ServiceRequest is the referral (转诊单); the workflow state lives in a contained Task
(FHIR's workflow pattern: REQUESTED → requested … ARRIVED → in-progress); a booked
expert slot or bed is a contained Appointment; prescriptions the team is to continue are
contained MedicationRequests. Contained resources point back at the container ("#").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from mappings import codes

REFERRAL_ID = f"{codes.BASE}/sid/referral"
DIRECTION_SYSTEM = f"{codes.BASE}/CodeSystem/referral-direction"
PRIORITY_SYSTEM = f"{codes.BASE}/CodeSystem/referral-priority"
BOOKING_SYSTEM = f"{codes.BASE}/CodeSystem/referral-booking-kind"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
CHINA = dt.timezone(dt.timedelta(hours=8))

DIRECTION = {"UP": "上转 (up-referral)", "DOWN": "下转 (down-referral)"}
PRIORITY = {
    "EXPERT_APPOINTMENT": "优先专家号",
    "EXAMINATION": "优先辅助检查",
    "ADMISSION": "优先住院",
}
BOOKING = {"EXPERT_SLOT": "专家号", "BED": "住院床位"}
URGENCY = {"ROUTINE": "routine", "URGENT": "urgent", "EMERGENCY": "stat"}
REQUEST_STATUS = {
    "REQUESTED": "active",
    "RECEIVED": "active",
    "ACCEPTED": "active",
    "ARRIVED": "active",
    "COMPLETED": "completed",
    "REJECTED": "revoked",
    "CANCELLED": "revoked",
}
TASK_STATUS = {
    "REQUESTED": "requested",
    "RECEIVED": "received",
    "ACCEPTED": "accepted",
    "REJECTED": "rejected",
    "ARRIVED": "in-progress",
    "COMPLETED": "completed",
    "CANCELLED": "cancelled",
}
APPOINTMENT_STATUS = {"ACCEPTED": "booked", "ARRIVED": "arrived", "COMPLETED": "fulfilled"}
DURATION_DAYS_UNIT = {"day": "d", "week": "wk", "month": "mo"}


def _instant(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat()


def _parties(ref: Any) -> tuple[dict[str, str], dict[str, str]]:
    """(requester, performer): who sends and who receives, by direction."""
    team_org = {"reference": f"Organization/{ref.team_organization_id}"}
    hospital = {"reference": f"Organization/{ref.hospital_id}"}
    if ref.direction == "UP":
        return team_org, hospital
    return hospital, {"reference": f"CareTeam/{ref.team_id}"}


def service_request(
    ref: Any,
    *,
    transitions: Sequence[Any] = (),
    booking: Any = None,
    prescriptions: Sequence[Any] = (),
) -> dict[str, Any]:
    requester, performer = _parties(ref)
    patient = {"reference": f"Patient/{ref.resident_id}"}
    reason: dict[str, Any] = {
        "coding": [
            {
                "system": ICD10,
                "code": ref.diagnosis_code,
                **({"display": ref.diagnosis_text} if ref.diagnosis_text else {}),
            }
        ]
    }
    out: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "id": f"referral-{ref.id}",
        "identifier": [{"system": REFERRAL_ID, "value": str(ref.id)}],
        "status": REQUEST_STATUS[ref.status],
        "intent": "order",
        "category": [
            {"coding": [{"system": SNOMED, "code": "3457005", "display": "Patient referral"}]}
        ],
        "code": {
            "coding": [
                {
                    "system": DIRECTION_SYSTEM,
                    "code": ref.direction,
                    "display": DIRECTION[ref.direction],
                }
            ]
        },
        "priority": URGENCY.get(ref.urgency, "routine"),
        "subject": patient,
        "authoredOn": _instant(ref.created_at),
        "requester": requester,
        "performer": [performer],
        "reasonCode": [reason],
        "note": [{"text": ref.reason}],
    }
    if ref.priorities:
        out["orderDetail"] = [
            {"coding": [{"system": PRIORITY_SYSTEM, "code": p, "display": PRIORITY.get(p, p)}]}
            for p in ref.priorities
        ]
    if ref.department:
        out["performerType"] = {"text": ref.department}
    if ref.documents:
        out["supportingInfo"] = [
            {"reference": d["url"], "display": d.get("title") or d["url"]} for d in ref.documents
        ]
    if ref.parent_id:
        out["basedOn"] = [{"reference": f"ServiceRequest/referral-{ref.parent_id}"}]
    contained = [task(ref, transitions, requester, performer, patient)]
    if booking is not None:
        contained.append(appointment(ref, booking, patient))
    contained.extend(medication_request(ref, p, n, patient) for n, p in enumerate(prescriptions))
    out["contained"] = contained
    return out


def task(
    ref: Any,
    transitions: Sequence[Any],
    requester: dict[str, str],
    performer: dict[str, str],
    patient: dict[str, str],
) -> dict[str, Any]:
    """The workflow state; each transition is a note (who, when, from → to)."""
    out: dict[str, Any] = {
        "resourceType": "Task",
        "id": "task",
        "basedOn": [{"reference": "#"}],
        "focus": {"reference": "#"},
        "status": TASK_STATUS[ref.status],
        "businessStatus": {"text": ref.status},
        "intent": "order",
        "for": patient,
        "authoredOn": _instant(ref.created_at),
        "lastModified": _instant(ref.updated_at),
        "requester": requester,
        "owner": performer,
    }
    if transitions:
        out["note"] = [
            {
                "authorString": t.actor,
                "time": _instant(t.at),
                "text": f"{t.from_status or '—'} → {t.to_status}"
                + (f": {t.note}" if t.note else ""),
            }
            for t in transitions
        ]
        last = transitions[-1]
        if last.note and ref.status in ("REJECTED", "CANCELLED"):
            out["statusReason"] = {"text": last.note}
    outputs = [
        ("discharge-summary", ref.discharge_summary),
        ("rehabilitation-plan", ref.rehabilitation_plan),
        ("completion-note", ref.completion_note),
    ]
    if any(v for _, v in outputs):
        out["output"] = [{"type": {"text": k}, "valueString": v} for k, v in outputs if v]
    return out


def appointment(ref: Any, booking: Any, patient: dict[str, str]) -> dict[str, Any]:
    """The booked reserved unit: the whole day (the hub books a day, the hospital the hour)."""
    start = dt.datetime.combine(booking.date, dt.time(0), tzinfo=CHINA)
    released = booking.status == "RELEASED"
    return {
        "resourceType": "Appointment",
        "id": "appointment",
        "status": "cancelled" if released else APPOINTMENT_STATUS.get(ref.status, "booked"),
        "basedOn": [{"reference": "#"}],
        "serviceType": [
            {
                "coding": [
                    {
                        "system": BOOKING_SYSTEM,
                        "code": booking.kind,
                        "display": BOOKING.get(booking.kind, booking.kind),
                    }
                ]
            }
        ],
        "description": booking.department,
        "start": start.isoformat(),
        "end": (start + dt.timedelta(days=1)).isoformat(),
        "created": booking.created_at.astimezone(dt.UTC).date().isoformat(),
        "participant": [
            {"actor": patient, "status": "accepted"},
            {
                "actor": {"display": booking.department},
                "status": "accepted",
                "type": [{"text": ref.hospital_id}],
            },
        ],
    }


def medication_request(ref: Any, p: Any, n: int, patient: dict[str, str]) -> dict[str, Any]:
    dosage = p.dose + (f", {p.frequency}" if p.frequency else "")
    return {
        "resourceType": "MedicationRequest",
        "id": f"rx{n + 1}",
        "status": "active",
        "intent": "order",
        "basedOn": [{"reference": "#"}],
        "medicationCodeableConcept": {"text": p.drug},
        "subject": patient,
        "authoredOn": p.issued_on.isoformat(),
        "dosageInstruction": [{"text": dosage}],
        "dispenseRequest": {
            "expectedSupplyDuration": {
                "value": p.duration_amount,
                "unit": p.duration_unit,
                "system": UCUM,
                "code": DURATION_DAYS_UNIT.get(p.duration_unit, "d"),
            }
        },
    }
