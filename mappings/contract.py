"""Contract rows -> FHIR R4B Contract, with the enrolment (签约关系) as a contained EpisodeOfCare.

The Contract carries the number, the validity period, the resident (subject), the
primary-care institution (authority), one term per package with its fee split by fund,
and a term naming the combination hospitals (1+1+1 / 1+1+N). The EpisodeOfCare says
who manages the resident and which CareTeam serves them, for as long as the contract runs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from mappings import codes

CONTRACT_NUMBER = f"{codes.BASE}/sid/contract-number"
CONTRACT_TYPE_SYSTEM = f"{codes.BASE}/CodeSystem/contract-type"
SERVICE_PACKAGE_SYSTEM = f"{codes.BASE}/CodeSystem/service-package"
FEE_FUND_SYSTEM = f"{codes.BASE}/CodeSystem/fee-fund"
PAYER_SYSTEM = f"{codes.BASE}/CodeSystem/personal-share-payer"
CONTRACT_END_SYSTEM = f"{codes.BASE}/CodeSystem/contract-end"
TERM_TYPE_SYSTEM = f"{codes.BASE}/CodeSystem/contract-term"

# Contract.status (http://hl7.org/fhir/contract-status): a running contract is executed.
STATUS = {"ACTIVE": "executed", "TERMINATED": "terminated", "EXPIRED": "terminated"}
FUNDS = (
    ("public_health_fund", "PUBLIC_HEALTH_FUND", "基本公共卫生服务经费"),
    ("insurance_fund", "INSURANCE_FUND", "医保基金"),
    ("personal", "PERSONAL", "个人"),
)


def _money(value: Decimal) -> dict[str, Any]:
    return {"value": float(value), "currency": "CNY"}


def _concept(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    coding = {"system": system, "code": code, **({"display": display} if display else {})}
    return {"coding": [coding], **({"text": display} if display else {})}


def _package_term(p: Any, name: str | None) -> dict[str, Any]:
    """One term per package: what it costs and who pays which share."""
    items = [
        {
            "entityCodeableConcept": _concept(FEE_FUND_SYSTEM, code, display),
            "net": _money(getattr(p, attr)),
            **({"payment": p.personal_paid_by} if attr == "personal" and getattr(p, attr) else {}),
        }
        for attr, code, display in FUNDS
    ]
    return {
        "identifier": {"system": SERVICE_PACKAGE_SYSTEM, "value": p.code},
        "type": _concept(TERM_TYPE_SYSTEM, "SERVICE_PACKAGE", "签约服务包"),
        "subType": _concept(SERVICE_PACKAGE_SYSTEM, p.code, name),
        "text": name or p.code,
        "offer": {"text": f"{p.code} {p.kind}"},
        "asset": [
            {
                "valuedItem": [
                    {
                        "entityCodeableConcept": _concept(SERVICE_PACKAGE_SYSTEM, p.code, name),
                        "net": _money(p.price),
                    },
                    *items,
                ],
            }
        ],
    }


def _combination_term(hospital_ids: Iterable[str]) -> dict[str, Any]:
    return {
        "type": _concept(TERM_TYPE_SYSTEM, "COMBINATION", "组合式签约医院"),
        "offer": {
            "party": [
                {
                    "reference": [{"reference": f"Organization/{h}"} for h in hospital_ids],
                    "role": _concept(TERM_TYPE_SYSTEM, "COMBINATION_HOSPITAL", "组合签约医院"),
                }
            ],
            "text": "1+1+1 / 1+1+N",
        },
    }


def episode_of_care(c: Any) -> dict[str, Any]:
    """签约关系: the resident managed by the institution and served by the team."""
    period: dict[str, str] = {"start": c.signed_on.isoformat()}
    if c.ended_on is not None:
        period["end"] = c.ended_on.isoformat()
    return {
        "resourceType": "EpisodeOfCare",
        "id": "enrolment",
        "status": "active" if c.status == "ACTIVE" else "finished",
        "type": [_concept(CONTRACT_TYPE_SYSTEM, "FAMILY_DOCTOR", "家庭医生签约服务")],
        "patient": {"reference": f"Patient/{c.resident_id}"},
        "managingOrganization": {"reference": f"Organization/{c.organization_id}"},
        "period": period,
        "team": [{"reference": f"CareTeam/{c.team_id}"}],
    }


def contract(
    c: Any, packages: Iterable[Any], names: dict[str, str] | None = None
) -> dict[str, Any]:
    """FHIR R4B Contract of a contract row and its package rows (``names``: code -> name)."""
    names = names or {}
    terms = [_package_term(p, names.get(p.code)) for p in packages]
    if c.hospital_ids:
        terms.append(_combination_term(c.hospital_ids))
    out: dict[str, Any] = {
        "resourceType": "Contract",
        "id": str(c.id),
        "identifier": [{"system": CONTRACT_NUMBER, "value": c.number}],
        "status": STATUS.get(c.status, "executed"),
        "issued": dt.datetime.combine(c.signed_on, dt.time(), dt.UTC).isoformat(),
        "applies": {"start": c.starts_on.isoformat(), "end": c.ends_on.isoformat()},
        "subject": [{"reference": f"Patient/{c.resident_id}"}],
        "authority": [{"reference": f"Organization/{c.organization_id}"}],
        "type": _concept(CONTRACT_TYPE_SYSTEM, "FAMILY_DOCTOR", "家庭医生签约服务协议"),
        "contained": [episode_of_care(c)],
        "supportingInfo": [{"reference": "#enrolment"}],
        "term": terms,
    }
    if c.status != "ACTIVE":
        reason = c.termination_reason or c.status
        out["expirationType"] = _concept(CONTRACT_END_SYSTEM, reason)
    return out
