"""Masking of identifiers and phones for clients that may not see them in full."""

from __future__ import annotations


def mask_id(value: str | None) -> str | None:
    """110105********002X: region and sequence visible, birth date hidden."""
    if not value:
        return value
    if len(value) == 18:
        return value[:6] + "********" + value[14:]
    return value[:2] + "*" * max(len(value) - 4, 0) + value[-2:]


def mask_phone(value: str | None) -> str | None:
    if not value:
        return value
    digits = value.strip()
    if len(digits) >= 7:
        return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]
    return "*" * len(digits)
