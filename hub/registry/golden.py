"""The golden record (主索引记录): each field taken from the best source record.

Best = the source with the highest configured priority, then the most recently received.
Every other value stays in its source record (provenance); fields whose sources disagree
are the discrepancies the seeds ask to reduce ("减少系统间数据差异").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from hub.registry import idnumber

# Golden field -> payload key. Phones are collected from every source instead.
SINGLE_FIELDS = {
    "name": "name",
    "sex": "sex",
    "birth_date": "birth_date",
    "id_number": "id_number",
    "insurance_card": "insurance_card",
    "health_record_no": "health_record_no",
    "birth_certificate_no": "birth_certificate_no",
    "address_text": "address",
    "address_region": "address_region",
    "insurance_type": "insurance_type",
    "mother_id_number": "mother_id_number",
}


class SourceLike(Protocol):
    id: int
    source: str
    payload: dict[str, Any]
    received_at: dt.datetime


@dataclass
class Golden:
    values: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, int] = field(default_factory=dict)  # field -> source record id
    phones: list[str] = field(default_factory=list)
    categories: set[str] = field(default_factory=set)
    guardian: dict[str, Any] | None = None
    id_number_flags: list[str] = field(default_factory=list)


def _value(payload: dict[str, Any], key: str) -> Any:
    value = payload.get(key)
    if value in (None, "", "0", "9") and key == "sex":
        return None  # unknown/unspecified sex never overrides a known one
    if key in ("id_number", "mother_id_number") and value:
        number = idnumber.parse(value)
        return number.value if number.valid else None  # invalid numbers are never golden
    if key == "birth_date" and value:
        return dt.date.fromisoformat(value)
    return value or None


def rank(records: Sequence[SourceLike], priority: Sequence[str]) -> list[SourceLike]:
    order = {source: i for i, source in enumerate(priority)}
    newest_first = sorted(records, key=lambda r: r.received_at, reverse=True)
    return sorted(newest_first, key=lambda r: order.get(r.source, len(order)))


def build(records: Sequence[SourceLike], priority: Sequence[str]) -> Golden:
    golden = Golden()
    ranked = rank(records, priority)
    for fld, key in SINGLE_FIELDS.items():
        for record in ranked:
            value = _value(record.payload, key)
            if value is not None:
                golden.values[fld] = value
                golden.provenance[fld] = record.id
                break
        else:
            golden.values[fld] = None
    for record in ranked:
        phone = record.payload.get("phone")
        if phone and phone not in golden.phones:
            golden.phones.append(phone)
        golden.categories.update(record.payload.get("categories") or [])
        if golden.guardian is None and record.payload.get("guardian_name"):
            golden.guardian = {
                k: record.payload.get(f"guardian_{k}")
                for k in ("name", "phone", "relation", "id_number")
                if record.payload.get(f"guardian_{k}")
            }
    golden.id_number_flags = id_flags(ranked, golden)
    return golden


def id_flags(records: Sequence[SourceLike], golden: Golden) -> list[str]:
    """Flags on the identity: an invalid number received, a number contradicting the record."""
    flags: set[str] = set()
    for record in records:
        raw = record.payload.get("id_number")
        if raw and not idnumber.parse(raw).valid:
            flags.add("INVALID_ID_NUMBER_RECEIVED")
    if golden.values.get("id_number"):
        number = idnumber.parse(golden.values["id_number"])
        for fld in idnumber.contradictions(
            number, birth_date=golden.values.get("birth_date"), sex=golden.values.get("sex")
        ):
            flags.add("ID_CONTRADICTS_BIRTH_DATE" if fld == "birthDate" else "ID_CONTRADICTS_SEX")
    return sorted(flags)


# Identifier systems (hub.registry.models.IdentifierSystem values) of the other identifiers.
@dataclass(slots=True)
class Refreshed:
    """A resident's golden record as computed from its source records."""

    values: dict[str, Any]  # Resident column -> value
    identifiers: set[tuple[str, str]]  # (system, value), valid values only
    categories: set[str]


IDENTIFIER_FIELDS = (
    ("insurance_card", "INSURANCE_CARD"),
    ("health_record_no", "HEALTH_RECORD_NO"),
    ("birth_certificate_no", "BIRTH_CERTIFICATE_NO"),
)


def refreshed(
    records: Sequence[SourceLike],
    priority: Sequence[str],
    address_region: str | None = None,
    insurance_type: str | None = None,
) -> Refreshed:
    """Pure: the golden values (by source priority, then recency), identifiers and
    categories of one resident. Shared by `refresh` and bulk linking."""
    g = build(records, priority)
    v = g.values
    values: dict[str, Any] = {
        "name": v["name"], "sex": v["sex"], "birth_date": v["birth_date"],
        "id_number": v["id_number"], "insurance_card": v["insurance_card"],
        "health_record_no": v["health_record_no"],
        "birth_certificate_no": v["birth_certificate_no"], "address_text": v["address_text"],
        "address_region": v["address_region"] or address_region,
        "insurance_type": v["insurance_type"] or insurance_type,
        "mother_id_number": v["mother_id_number"], "phones": g.phones, "guardian": g.guardian,
        "id_number_flags": g.id_number_flags, "provenance": g.provenance,
        "updated_at": dt.datetime.now(dt.UTC),
    }  # fmt: skip
    identifiers: set[tuple[str, str]] = set()
    for rec in records:
        p = rec.payload
        if p.get("id_number") and (n := idnumber.parse(p["id_number"])).valid:
            identifiers.add(("ID_CARD", n.value))
        for key, system in IDENTIFIER_FIELDS:
            if p.get(key):
                identifiers.add((system, str(p[key]).strip()))
    identifiers |= lookup_identifiers(values)
    return Refreshed(values, identifiers, g.categories)


def lookup_identifiers(values: Mapping[str, Any]) -> set[tuple[str, str]]:
    """The golden record's other exact lookups, kept in `resident_identifier` (HMAC values)
    because the encrypted columns cannot be searched: phones, the mother's and the
    guardian's ID numbers."""
    out = {("PHONE", str(p)) for p in values.get("phones") or () if p}
    if values.get("mother_id_number"):
        out.add(("MOTHER_ID_CARD", str(values["mother_id_number"])))
    guardian = values.get("guardian") or {}
    if isinstance(guardian, Mapping) and guardian.get("id_number"):
        out.add(("GUARDIAN_ID_CARD", str(guardian["id_number"])))
    return out


@dataclass(frozen=True)
class Discrepancy:
    field: str
    chosen: Any
    values: list[tuple[int, str, Any]]  # (source record id, source, value)


def discrepancies(records: Sequence[SourceLike], priority: Sequence[str]) -> list[Discrepancy]:
    golden = build(records, priority)
    out = []
    for fld, key in SINGLE_FIELDS.items():
        seen = [(r.id, r.source, _value(r.payload, key)) for r in rank(records, priority)]
        seen = [s for s in seen if s[2] is not None]
        if len({str(v) for _, _, v in seen}) > 1:
            out.append(Discrepancy(fld, golden.values.get(fld), seen))
    return out


def derived_categories(birth_date: dt.date | None, today: dt.date | None = None) -> set[str]:
    """Categories that follow from data: children 0–6 and the elderly 65+."""
    if birth_date is None:
        return set()
    today = today or dt.date.today()
    age = (
        today.year
        - birth_date.year
        - ((today.month, today.day) < (birth_date.month, birth_date.day))
    )
    if age < 0:
        return set()
    if age <= 6:
        return {"CHILD_0_6"}
    if age >= 65:
        return {"ELDERLY_65"}
    return set()


AGE_DERIVED = frozenset({"CHILD_0_6", "ELDERLY_65"})
