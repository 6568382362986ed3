"""A TB episode (结核病患者健康管理) as a FHIR R4B EpisodeOfCare of type tuberculosis: the
notification opens it, the CDC's closing finishes it. Plain dicts; the tests validate them
with fhir.resources R4B."""

from __future__ import annotations

import datetime as dt
from typing import Any

HUB = "https://hub.example.cn/fhir"
TYPE = f"{HUB}/CodeSystem/episode-of-care-type"
DIAGNOSIS_TYPE = f"{HUB}/CodeSystem/tb-diagnosis-type"
ROLE = "http://terminology.hl7.org/CodeSystem/diagnosis-role"
EXT = f"{HUB}/StructureDefinition"


def _instant(at: dt.datetime) -> str:
    return (at if at.tzinfo else at.replace(tzinfo=dt.UTC)).isoformat()


def episode_of_care(
    episode: Any, *, first_visit_due: dt.datetime, first_visit_on: dt.date | None
) -> dict[str, Any]:
    """One TbEpisode row; `first_visit_due` / `first_visit_on` as hub.tuberculosis says."""
    period: dict[str, Any] = {"start": _instant(episode.notified_at)}
    if episode.closed_on:
        period["end"] = episode.closed_on.isoformat()
    out: dict[str, Any] = {
        "resourceType": "EpisodeOfCare",
        "id": f"tb-{episode.id}",
        "identifier": [
            {"system": f"{HUB}/sid/{episode.source}-notification", "value": episode.source_id}
        ],  # fmt: skip
        "status": "finished" if episode.closed_on else "active",
        "type": [
            {
                "coding": [
                    {"system": TYPE, "code": "tuberculosis", "display": "结核病患者健康管理"}
                ],
                "text": "Tuberculosis",
            }
        ],  # fmt: skip
        "patient": {"reference": f"Patient/{episode.resident_id}"},
        "period": period,
    }
    condition: dict[str, Any] = {"display": "肺结核"}
    diagnosis: dict[str, Any] = {
        "condition": condition,
        "role": {"coding": [{"system": ROLE, "code": "AD", "display": "Admission diagnosis"}]},
        "rank": 1,
    }
    if episode.diagnosis_type:
        condition["display"] = f"肺结核 ({episode.diagnosis_type})"
    out["diagnosis"] = [diagnosis]
    if episode.hospital:
        out["managingOrganization"] = {"display": episode.hospital}
    ext: list[dict[str, Any]] = [
        {"url": f"{EXT}/tb-notified-at", "valueDateTime": _instant(episode.notified_at)},
        {"url": f"{EXT}/tb-first-visit-due", "valueDateTime": _instant(first_visit_due)},
    ]
    if first_visit_on:
        ext.append({"url": f"{EXT}/tb-first-visit-on", "valueDate": first_visit_on.isoformat()})
    if episode.diagnosed_on:
        ext.append({"url": f"{EXT}/tb-diagnosed-on", "valueDate": episode.diagnosed_on.isoformat()})
    if episode.diagnosis_type:
        ext.append({"url": f"{EXT}/tb-diagnosis-type", "valueCoding": {
            "system": DIAGNOSIS_TYPE, "code": episode.diagnosis_type}})  # fmt: skip
    if episode.treatment_start:
        ext.append({"url": f"{EXT}/tb-treatment-start",
                    "valueDate": episode.treatment_start.isoformat()})  # fmt: skip
    if episode.regimen:
        ext.append({"url": f"{EXT}/tb-regimen", "valueString": episode.regimen})
    if episode.outcome:
        ext.append({"url": f"{EXT}/tb-outcome", "valueString": episode.outcome})
    out["extension"] = ext
    return out
