"""Client-supplied integer ids, checked before they reach SQL.

A database key is a decimal integer in 1..2**63-1 (BIGINT). Anything else — signs,
spaces, underscores, non-ASCII digits, 2**64 — cannot name a row: callers treat it as
not found, never as an OverflowError or a 500.
"""

from __future__ import annotations

import re

MAX_ID = 2**63 - 1
_DECIMAL = re.compile(r"[1-9][0-9]{0,18}")


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
