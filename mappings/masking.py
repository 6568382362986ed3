"""Masking of identifiers and phones for clients that may not see them in full."""

from __future__ import annotations

from typing import Any


def mask_id(value: str | None) -> str | None:
    """110105********002X: region and sequence visible, birth date hidden."""
    if not value:
        return value
    if len(value) == 18:
        return value[:6] + "********" + value[14:]
    if len(value) <= 4:  # too short to show any of it (found by tests/unit/test_properties.py)
        return "*" * len(value)
    return value[:2] + "*" * (len(value) - 4) + value[-2:]


def mask_phone(value: str | None) -> str | None:
    if not value:
        return value
    digits = value.strip()
    if len(digits) >= 7:
        return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]
    return "*" * len(digits)


# A source record's payload keys, by how they are masked (the same rules as the fields).
_ID_KEYS = ("id_number", "mother_id_number", "guardian_id_number", "insurance_card",
            "health_record_no", "birth_certificate_no")  # fmt: skip
_PHONE_KEYS = ("phone", "guardian_phone")
_TEXT_KEYS = ("address",)


def mask_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """A record as received, with what residents:pii unlocks masked as the fields mask it:
    identifiers and phones partly, the street address wholly."""
    data = dict(payload)
    for key in _ID_KEYS:
        if isinstance(data.get(key), str) and data[key]:
            data[key] = mask_id(data[key])
    for key in _PHONE_KEYS:
        if isinstance(data.get(key), str) and data[key]:
            data[key] = mask_phone(data[key])
    for key in _TEXT_KEYS:
        if data.get(key):
            data[key] = "****"
    return data
