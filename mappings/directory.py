"""Directory rows -> FHIR R4B Organization, Practitioner (+ PractitionerRole), CareTeam."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mappings import codes


def organization(o: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "resourceType": "Organization",
        "id": o.id,
        "identifier": [{"system": codes.ORGANIZATION, "value": o.id}],
        "active": True,
        "name": o.name,
        "type": [
            {
                "coding": [
                    {
                        "system": codes.ORGANIZATION_KIND_SYSTEM,
                        "code": o.kind,
                        "display": codes.ORGANIZATION_KIND_DISPLAY.get(o.kind, o.kind),
                    }
                ]
            }
        ],
        "address": [
            {
                "district": o.region_code,
                "country": "CN",
                **({"text": o.address} if o.address else {}),
            }
        ],
    }
    if o.phone:
        out["telecom"] = [{"system": "phone", "value": o.phone}]
    if o.parent_id:
        out["partOf"] = {"reference": f"Organization/{o.parent_id}"}
    return out


def _role_code(role: str) -> dict[str, Any]:
    return {
        "coding": [
            {
                "system": codes.PRACTITIONER_ROLE_SYSTEM,
                "code": role,
                "display": codes.PRACTITIONER_ROLE_DISPLAY.get(role, role),
            }
        ]
    }


def practitioner(p: Any) -> dict[str, Any]:
    """A Practitioner with its PractitionerRole contained (role at its organization)."""
    out: dict[str, Any] = {
        "resourceType": "Practitioner",
        "id": p.id,
        "identifier": [{"system": codes.PRACTITIONER, "value": p.id}],
        "active": True,
        "name": [{"text": p.name}],
        "qualification": [{"code": _role_code(p.role)}],
        "contained": [
            {
                "resourceType": "PractitionerRole",
                "id": "role",
                "practitioner": {"reference": f"Practitioner/{p.id}"},
                "organization": {"reference": f"Organization/{p.organization_id}"},
                "code": [_role_code(p.role)],
            }
        ],
    }
    if p.sex in ("1", "2"):
        out["gender"] = codes.GB2261[p.sex][0]
    return out


def care_team(t: Any, members: Iterable[Any]) -> dict[str, Any]:
    participants = [
        {
            "role": [_role_code(m.role)],
            "member": {"reference": f"Practitioner/{m.practitioner_id}"},
        }
        for m in members
    ]
    out: dict[str, Any] = {
        "resourceType": "CareTeam",
        "id": t.id,
        "status": "active",
        "name": t.name,
        "category": [
            {
                "coding": [
                    {
                        "system": "http://loinc.org",
                        "code": "LA28865-6",
                        "display": "Longitudinal care-coordination focused care team",
                    }
                ]
            }
        ],
        "managingOrganization": [{"reference": f"Organization/{t.organization_id}"}],
    }
    if t.leader_id:
        participants.insert(
            0,
            {
                "role": [{"text": "家庭医生 (team leader)"}],
                "member": {"reference": f"Practitioner/{t.leader_id}"},
            },
        )
    if participants:
        out["participant"] = participants
    if t.grid_area:
        out["note"] = [{"text": f"网格: {t.grid_area}"}]
    return out
