"""An audit row as a FHIR R4 AuditEvent (who, when, which operation, whose record)."""

from __future__ import annotations

import datetime as dt
from typing import Any

DCM = "http://dicom.nema.org/resources/ontology/DCM"
ACTIONS = {"READ": ("R", "110106", "Export"), "WRITE": ("U", "110110", "Patient Record")}
HUB_OPERATION = "https://fdhub.example.cn/fhir/CodeSystem/hub-operation"


def audit_event(row: Any) -> dict[str, Any]:
    code, subtype, _ = ACTIONS.get(row.action, ("E", "110100", "Application Activity"))
    at = row.at if row.at.tzinfo else row.at.replace(tzinfo=dt.UTC)
    agent: dict[str, Any] = {
        "requestor": True,
        "who": {"display": row.actor},
    }
    if row.client_id is not None:
        agent["who"]["identifier"] = {"system": "https://fdhub.example.cn/client",
                                      "value": str(row.client_id)}  # fmt: skip
    resource: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": str(row.id),
        "type": {"system": DCM, "code": "110110", "display": "Patient Record"},
        "subtype": [{"system": HUB_OPERATION, "code": row.operation}],
        "action": code,
        "recorded": at.astimezone(dt.UTC).isoformat(),
        "outcome": "0",
        "agent": [agent],
        "source": {"observer": {"display": "fdhub"}},
        "entity": [{"what": {"reference": f"Patient/{rid}"}, "role": {
            "system": "http://terminology.hl7.org/CodeSystem/object-role", "code": "1",
            "display": "Patient"}} for rid in row.resident_ids],  # fmt: skip
    }
    if row.request_id:
        resource["entity"].append({"what": {"identifier": {"value": row.request_id}},
                                   "description": "request id"})  # fmt: skip
    return resource
