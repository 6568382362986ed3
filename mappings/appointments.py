"""FHIR R4B forms of the appointment book: a clinic session is a Schedule, its slots are
Slots, a booking is an Appointment. Plain dicts (validated by fhir.resources in the tests)."""

from __future__ import annotations

import datetime as dt
from typing import Any

SERVICE_SYSTEM = "urn:hub:appointment-service-kind"
DISPLAY = {
    "GENERAL": "普通门诊 General clinic",
    "CHRONIC_FOLLOW_UP": "慢性病管理 Chronic follow-up",
    "CHILD_CARE": "儿童保健 Child care",
    "VACCINATION": "预防接种 Vaccination",
    "HEALTH_CHECK": "健康体检 Health check",
}
# Appointment.status (FHIR) for the hub's statuses
STATUS = {"BOOKED": "booked", "ARRIVED": "arrived", "NO_SHOW": "noshow", "CANCELLED": "cancelled"}


def _instant(value: dt.datetime) -> str:
    value = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _service(kind: str) -> list[dict[str, Any]]:
    return [
        {"coding": [{"system": SERVICE_SYSTEM, "code": kind, "display": DISPLAY.get(kind, kind)}]}
    ]


def schedule(s: Any, first: dt.datetime, last: dt.datetime) -> dict[str, Any]:
    """A team's clinic session (签约门诊时段) on one day."""
    out = {
        "resourceType": "Schedule",
        "id": f"session-{s.id}",
        "active": True,
        "serviceType": _service(s.service_kind),
        "actor": [{"reference": f"CareTeam/{s.team_id}"},
                  {"reference": f"Organization/{s.organization_id}"}],
        "planningHorizon": {"start": _instant(first), "end": _instant(last)},
    }  # fmt: skip
    if s.off_hours:
        out["comment"] = "错时服务 off-hours session"
    return out


def slot(s: Any) -> dict[str, Any]:
    return {
        "resourceType": "Slot",
        "id": f"slot-{s.id}",
        "schedule": {"reference": f"Schedule/session-{s.session_id}"},
        "serviceType": _service(s.service_kind),
        "status": "busy" if s.taken else "free",
        "start": _instant(s.start_at),
        "end": _instant(s.end_at),
    }


def appointment(a: Any) -> dict[str, Any]:
    return {
        "resourceType": "Appointment",
        "id": f"appointment-{a.id}",
        "status": STATUS.get(a.status, "booked"),
        "serviceType": _service(a.service_kind),
        "slot": [{"reference": f"Slot/slot-{a.slot_id}"}],
        "start": _instant(a.start_at),
        "end": _instant(a.end_at),
        "created": _instant(a.booked_at)[:10],
        "participant": [
            {"actor": {"reference": f"Patient/{a.resident_id}"}, "status": "accepted"},
            {"actor": {"reference": f"CareTeam/{a.team_id}"}, "status": "accepted"},
        ],
    }
