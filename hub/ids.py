"""Client-supplied integer ids, checked before they reach SQL.

The hub's integer keys are INTEGER columns (32-bit on PostgreSQL): a key is a decimal
integer in 1..2**31-1. Anything else — signs, spaces, underscores, non-ASCII digits,
2**31, 2**64 — cannot name a row: callers treat it as not found, never as an
OverflowError, a DataError or a 500.
"""

from __future__ import annotations

import re

MAX_ID = 2**31 - 1  # INTEGER primary keys; BIGINT ones would allow 2**63-1
_DECIMAL = re.compile(r"[1-9][0-9]{0,9}")


def parse_int_id(raw: object) -> int | None:
    """The key behind a client id, or None when it cannot name a row."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw if 1 <= raw <= MAX_ID else None
    if not isinstance(raw, str) or not _DECIMAL.fullmatch(raw):
        return None
    value = int(raw)
    return value if value <= MAX_ID else None
