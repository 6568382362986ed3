"""Maternal-child rows -> FHIR R4B (plain dicts; validated with fhir.resources in tests).

A pregnancy is an EpisodeOfCare of type pregnancy; each visit an Encounter in that
episode with its Observations (blood pressure, weight, gestational age, the five-colour
risk assessment); a child exam an Encounter with height, weight, development and
anaemia. A newborn's mother is a RelatedPerson (relationship MTH) of the child's Patient.
Rows are duck-typed, so mappings import nothing from hub.
"""

from __future__ import annotations

from typing import Any

from mappings.maternal.codes import codes

HUB = "https://hub.example.cn/fhir"
LOCAL = f"{HUB}/CodeSystem/maternal-local"
RISK = f"{HUB}/CodeSystem/pregnancy-risk-colour"  # 2017 妊娠风险评估与管理规范
KIND = f"{HUB}/CodeSystem/maternal-visit-kind"
HANDBOOK = f"{HUB}/sid/maternal-child-handbook"  # 母子健康手册编号
LOINC, UCUM = "http://loinc.org", "http://unitsofmeasure.org"
SNOMED = "http://snomed.info/sct"
ACT = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
VISIT_DISPLAY = {
    "prenatal_visit": "产前随访",
    "postpartum_visit": "产后访视",
    "postpartum_42day": "产后42天健康检查",
    "newborn_visit": "新生儿家庭访视",
    "child_exam": "儿童健康检查",
}


def _date(d: Any) -> str | None:
    return d.isoformat() if d is not None else None


def episode_of_care(p: Any, *, mask_handbook: bool = False) -> dict[str, Any]:
    status = "finished" if p.deleted else ("active" if p.delivered_on is None else "finished")
    period: dict[str, Any] = {"start": _date(p.registered_on or p.lmp)}
    if p.category_ends_on is not None and p.delivered_on is not None:
        period["end"] = _date(p.category_ends_on)
    handbook = p.handbook_no if not mask_handbook else p.handbook_no[:4] + "****"
    out: dict[str, Any] = {
        "resourceType": "EpisodeOfCare",
        "id": f"pregnancy-{p.id}",
        "identifier": [{"system": HANDBOOK, "value": handbook}],
        "status": status,
        "type": [
            {
                "coding": [{"system": SNOMED, "code": "77386006", "display": "Pregnancy"}],
                "text": "孕产期保健",
            }
        ],
        "patient": {"reference": f"Patient/{p.resident_id}"},
        "period": {k: v for k, v in period.items() if v},
    }
    if p.risk_colour:
        display = codes().display("risk_colour", p.risk_colour) or p.risk_colour
        out["diagnosis"] = [{"condition": {"display": f"妊娠风险 {display}"}, "rank": 1}]
    return out


def _obs(
    oid: str, subject: int, encounter: str, when: Any, code: tuple[str, str, str], **value: Any
) -> dict[str, Any]:
    system, c, display = code
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": {"coding": [{"system": system, "code": c, "display": display}]},
        "subject": {"reference": f"Patient/{subject}"},
        "encounter": {"reference": f"Encounter/{encounter}"},
        "effectiveDateTime": _date(when),
        **value,
    }


def _qty(v: float, unit: str, code: str) -> dict[str, Any]:
    return {"valueQuantity": {"value": v, "unit": unit, "system": UCUM, "code": code}}


def _encounter(
    eid: str, kind: str, subject: int, when: Any, institution: str | None
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": eid,
        "status": "finished",
        "class": {
            "system": ACT,
            "code": "HH" if kind in ("postpartum_visit", "newborn_visit") else "AMB",
        },
        "type": [
            {"coding": [{"system": KIND, "code": kind, "display": VISIT_DISPLAY.get(kind, kind)}]}
        ],
        "subject": {"reference": f"Patient/{subject}"},
        "period": {"start": _date(when), "end": _date(when)},
    }
    if institution:
        out["serviceProvider"] = {
            "identifier": {"system": f"{HUB}/sid/maternal-institution", "value": institution}
        }
    return out


def visit_bundle(v: Any) -> dict[str, Any]:
    """A maternal visit: its Encounter (in the pregnancy's episode) and Observations."""
    eid = f"maternal-visit-{v.id}"
    enc = _encounter(eid, v.kind, v.resident_id, v.visit_on, v.institution)
    enc["episodeOfCare"] = [{"reference": f"EpisodeOfCare/pregnancy-{v.pregnancy_id}"}]
    obs = []
    if v.systolic and v.diastolic:
        obs.append(
            _obs(
                f"{eid}-bp",
                v.resident_id,
                eid,
                v.visit_on,
                (LOINC, "85354-9", "Blood pressure panel"),
                component=[
                    {
                        "code": {
                            "coding": [
                                {
                                    "system": LOINC,
                                    "code": "8480-6",
                                    "display": "Systolic blood pressure",
                                }
                            ]
                        },
                        **_qty(v.systolic, "mmHg", "mm[Hg]"),
                    },
                    {
                        "code": {
                            "coding": [
                                {
                                    "system": LOINC,
                                    "code": "8462-4",
                                    "display": "Diastolic blood pressure",
                                }
                            ]
                        },
                        **_qty(v.diastolic, "mmHg", "mm[Hg]"),
                    },
                ],
            )
        )
    if v.weight_kg:
        obs.append(
            _obs(
                f"{eid}-wt",
                v.resident_id,
                eid,
                v.visit_on,
                (LOINC, "29463-7", "Body weight"),
                **_qty(v.weight_kg, "kg", "kg"),
            )
        )
    if v.gestational_week:
        obs.append(
            _obs(
                f"{eid}-ga",
                v.resident_id,
                eid,
                v.visit_on,
                (LOINC, "49051-6", "Gestational age in weeks"),
                **_qty(v.gestational_week, "wk", "wk"),
            )
        )
    if v.risk_colour:
        display = codes().display("risk_colour", v.risk_colour) or v.risk_colour
        local = (v.local_codes or {}).get("risk_colour")
        coding = [{"system": RISK, "code": v.risk_colour, "display": display}]
        if local:
            coding.append({"system": LOCAL, "code": local})
        obs.append(
            _obs(
                f"{eid}-risk",
                v.resident_id,
                eid,
                v.visit_on,
                (RISK, "assessment", "妊娠风险评估"),
                valueCodeableConcept={"coding": coding},
            )
        )
    return _bundle([enc, *obs])


def exam_bundle(e: Any) -> dict[str, Any]:
    eid = f"child-exam-{e.id}"
    enc = _encounter(eid, e.kind, e.resident_id, e.exam_on, e.institution)
    obs = []
    if e.height_cm:
        obs.append(
            _obs(
                f"{eid}-ht",
                e.resident_id,
                eid,
                e.exam_on,
                (LOINC, "8302-2", "Body height"),
                **_qty(e.height_cm, "cm", "cm"),
            )
        )
    if e.weight_kg:
        obs.append(
            _obs(
                f"{eid}-wt",
                e.resident_id,
                eid,
                e.exam_on,
                (LOINC, "29463-7", "Body weight"),
                **_qty(e.weight_kg, "kg", "kg"),
            )
        )
    if e.development:
        display = codes().display("development", e.development) or e.development
        obs.append(
            _obs(
                f"{eid}-dev",
                e.resident_id,
                eid,
                e.exam_on,
                (f"{HUB}/CodeSystem/child-development", "screening", "发育筛查"),
                valueCodeableConcept={
                    "coding": [
                        {
                            "system": f"{HUB}/CodeSystem/child-development",
                            "code": e.development,
                            "display": display,
                        }
                    ]
                },
            )
        )
    if e.anaemia is not None:
        obs.append(
            _obs(
                f"{eid}-anaemia",
                e.resident_id,
                eid,
                e.exam_on,
                (f"{HUB}/CodeSystem/child-exam", "anaemia", "贫血筛查"),
                valueBoolean=bool(e.anaemia),
            )
        )
    return _bundle([enc, *obs])


def mother_related_person(child_id: int, mother: Any, *, mask: bool) -> dict[str, Any]:
    """The child's mother as a RelatedPerson of the child (and a link to her own Patient)."""
    out: dict[str, Any] = {
        "resourceType": "RelatedPerson",
        "id": f"mother-of-{child_id}",
        "patient": {"reference": f"Patient/{child_id}"},
        "relationship": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode",
                        "code": "MTH",
                        "display": "mother",
                    }
                ]
            }
        ],
        "extension": [
            {
                "url": f"{HUB}/StructureDefinition/related-patient",
                "valueReference": {"reference": f"Patient/{mother.id}"},
            }
        ],
    }
    if mother.name:
        out["name"] = [{"text": mother.name if not mask else mother.name[0] + "**"}]
    return out


def _bundle(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": f"{HUB}/{r['resourceType']}/{r['id']}", "resource": r} for r in resources
        ],
    }
