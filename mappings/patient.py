"""Resident -> FHIR R4B Patient (plain dict; validated in tests and where FHIR enters)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from mappings import codes
from mappings.masking import mask_id, mask_phone


def patient(
    r: Any,
    *,
    categories: Iterable[str] = (),
    mask: bool = False,
    merged_into: int | None = None,
    replaces: Iterable[int] = (),
    general_practitioner: Iterable[str] = (),
) -> dict[str, Any]:
    """`r` is a hub Resident row (duck-typed so mappings import nothing from hub).

    `general_practitioner`: references ("Practitioner/x", "Organization/y") of the
    resident's family doctor and institution (the active contract's team leader and 甲方).
    Merges (主索引合并) are Patient.link: a merged-away resident is inactive and
    `replaced-by` its survivor; the survivor `replaces` each resident merged into it."""
    ident = []
    for system, value in (
        ("ID_CARD", r.id_number), ("INSURANCE_CARD", r.insurance_card),
        ("HEALTH_RECORD_NO", r.health_record_no), ("BIRTH_CERTIFICATE_NO", r.birth_certificate_no),
    ):
        if value:
            ident.append({"system": codes.IDENTIFIER_SYSTEMS[system],
                          "value": mask_id(value) if mask else value})
    out: dict[str, Any] = {
        "resourceType": "Patient",
        "id": str(r.id),
        "active": r.status == "ACTIVE",
    }
    if r.updated_at:
        out["meta"] = {"lastUpdated": _instant(r.updated_at)}
    if ident:
        out["identifier"] = ident
    if r.name:
        out["name"] = [{"use": "official", "text": r.name, "family": r.name[:1],
                        "given": [r.name[1:]]}
                       if len(r.name) > 1 else {"use": "official", "text": r.name}]
    if r.phones:
        out["telecom"] = [
            {"system": "phone", "value": mask_phone(p) if mask else p,
             "use": "mobile" if p.startswith("1") and len(p) == 11 else "home"}
            for p in r.phones
        ]
    if r.sex:
        gender, display = codes.GB2261[r.sex]
        out["gender"] = gender
        out["_gender"] = {"extension": [{
            "url": "http://hl7.org/fhir/StructureDefinition/iso21090-SC-coding",
            "valueCoding": {"system": codes.GB2261_SYSTEM, "code": r.sex, "display": display},
        }]}
    if r.birth_date:
        out["birthDate"] = r.birth_date.isoformat()
    if r.address_text or r.address_region:
        addr: dict[str, Any] = {"use": "home", "country": "CN"}
        if r.address_text:
            addr["text"] = "****" if mask else r.address_text
        if r.address_region:
            addr["district"] = r.address_region
        out["address"] = [addr]
    ext = []
    if r.insurance_type:
        ext.append({"url": codes.EXT_INSURANCE_TYPE, "valueCoding": {
            "system": codes.INSURANCE_TYPE_SYSTEM, "code": r.insurance_type}})
    for cat in sorted(categories):
        ext.append({"url": codes.EXT_POPULATION_CATEGORY, "valueCoding": {
            "system": codes.POPULATION_CATEGORY_SYSTEM, "code": cat}})
    if ext:
        out["extension"] = ext
    if r.guardian:
        g = r.guardian
        contact: dict[str, Any] = {"relationship": [{"coding": [{
            "system": codes.GUARDIAN_RELATION, "code": "N", "display": "Next-of-Kin"}],
            "text": g.get("relation") or "监护人"}]}
        if g.get("name"):
            contact["name"] = {"text": g["name"]}
        if g.get("phone"):
            contact["telecom"] = [{"system": "phone",
                                   "value": mask_phone(g["phone"]) if mask else g["phone"]}]
        out["contact"] = [contact]
    if gp := [{"reference": ref} for ref in general_practitioner]:
        out["generalPractitioner"] = gp
    if r.organization_id:
        out["managingOrganization"] = {"reference": f"Organization/{r.organization_id}"}
    links = [{"other": {"reference": f"Patient/{i}"}, "type": "replaces"} for i in sorted(replaces)]
    if merged_into is not None:
        links.insert(0, {"other": {"reference": f"Patient/{merged_into}"}, "type": "replaced-by"})
    if links:
        out["link"] = links
    return out


def _instant(value: dt.datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.isoformat()


def patient_fields(p: dict[str, Any]) -> dict[str, Any]:
    """FHIR Patient (already validated) -> the fields of a hub resident record
    (`hub.registry.records.ResidentRecord`), for $match: name, sex, birth date,
    identifiers by system, the first phone and the home address text."""
    by_uri = {uri: name for name, uri in codes.IDENTIFIER_SYSTEMS.items()}
    out: dict[str, Any] = {}
    for name in p.get("name") or []:
        text = name.get("text") or (name.get("family") or "") + "".join(name.get("given") or [])
        if text:
            out["name"] = text
            break
    if p.get("gender"):
        out["sex"] = codes.GENDER_TO_GB2261.get(p["gender"])
    if p.get("birthDate") and len(p["birthDate"]) == 10:
        out["birth_date"] = dt.date.fromisoformat(p["birthDate"])
    for ident in p.get("identifier") or []:
        system = by_uri.get(ident.get("system", ""))
        if system and ident.get("value"):
            out.setdefault(system.lower(), ident["value"])
    out["id_number"] = out.pop("id_card", None)
    phones = [
        t["value"] for t in p.get("telecom") or [] if t.get("system") == "phone" and t.get("value")
    ]
    if phones:
        out["phone"] = phones[0]
    for addr in p.get("address") or []:
        if addr.get("text"):
            out["address"] = addr["text"]
            break
    return {k: v for k, v in out.items() if v is not None}
