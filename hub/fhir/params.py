"""Search-parameter parsing: the query string of a FHIR search into typed values.

Only parsing lives here (no SQL): `search.py` turns the parsed clauses into conditions
through each type's parameter table. Everything a client can get wrong is a `FhirError`
(400) naming the parameter."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from hub.fhir.errors import FhirError, invalid, not_supported

DEFAULT_COUNT = 20
MAX_COUNT = 200
# Parameters every search understands (besides the type's own).
CONTROL = {
    "_count", "_sort", "_total", "_summary", "_elements", "_include", "_revinclude",
    "_cursor", "_format", "_pretty", "_totalMethod",
}  # fmt: skip
DATE_PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")
_DATE = re.compile(
    r"(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?"
    r"(Z|[+-]\d{2}:\d{2})?)?)?)?"
)
# [base URL/][Type/]id; the prefix is non-greedy so a `Type/` before the id is the type
_REFERENCE = re.compile(r"(?:.*?/)??(?:([A-Z][A-Za-z]+)/)?([A-Za-z0-9\-.]{1,64})")


@dataclass(frozen=True, slots=True)
class Clause:
    """One `name[:modifier]=v1,v2` (values OR-ed; repeated names AND-ed)."""

    name: str
    modifier: str | None
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Include:
    """`_include=Source:param[:Target]` / `_revinclude=Source:param[:Target]`."""

    source: str
    param: str
    target: str | None


@dataclass(slots=True)
class SearchQuery:
    clauses: list[Clause] = field(default_factory=list)
    count: int = DEFAULT_COUNT
    sort: tuple[str, bool] | None = None  # (parameter, descending)
    total: str = "accurate"
    summary: str | None = None
    elements: tuple[str, ...] | None = None
    includes: list[Include] = field(default_factory=list)
    revincludes: list[Include] = field(default_factory=list)
    cursor: str | None = None


def parse_query(items: Iterable[tuple[str, str]], known: set[str], *, lenient: bool) -> SearchQuery:
    """`known`: the type's own parameter names. Unknown ones are an error unless the client
    asked for lenient handling (`Prefer: handling=lenient`)."""
    q = SearchQuery()
    for key, raw in items:
        name, _, modifier = key.partition(":")
        if name in CONTROL:
            _control(q, name, raw)
        elif name in known:
            if raw == "":
                raise invalid(f"Search parameter {key!r} has no value.")
            values = tuple(_split(raw))
            q.clauses.append(Clause(name, modifier or None, values))
        elif not lenient:
            raise FhirError(400, "not-supported", f"Unknown search parameter {name!r}.")
    return q


def _split(raw: str) -> list[str]:
    """Comma-separated values; `\\,` is a literal comma."""
    parts = re.split(r"(?<!\\),", raw)
    return [p.replace("\\,", ",") for p in parts]


def _control(q: SearchQuery, name: str, raw: str) -> None:
    if name == "_count":
        if not raw.isdigit() or len(raw) > 6:
            raise invalid(f"_count must be a whole number from 0 to {MAX_COUNT}.")
        q.count = min(int(raw), MAX_COUNT)
    elif name == "_sort":
        keys = [k for k in raw.split(",") if k]
        if len(keys) != 1:
            raise not_supported("_sort takes exactly one parameter (ties are broken by _id).")
        key = keys[0]
        q.sort = (key[1:], True) if key.startswith("-") else (key, False)
    elif name == "_total":
        if raw not in ("none", "estimate", "accurate"):
            raise invalid("_total is none, estimate or accurate.")
        q.total = raw
    elif name == "_summary":
        if raw not in ("count", "false"):
            raise not_supported("_summary supports count and false.")
        q.summary = None if raw == "false" else raw
    elif name == "_elements":
        q.elements = tuple(e.strip() for e in raw.split(",") if e.strip())
    elif name in ("_include", "_revinclude"):
        parts = raw.split(":")
        if len(parts) not in (2, 3) or not all(parts):
            raise invalid(f"{name} is Type:parameter or Type:parameter:Target, not {raw!r}.")
        inc = Include(parts[0], parts[1], parts[2] if len(parts) == 3 else None)
        (q.includes if name == "_include" else q.revincludes).append(inc)
    elif name == "_totalMethod":  # fhirpy's count(): an accurate total
        q.total = "accurate"
    elif name == "_cursor":
        q.cursor = raw


# -- typed values ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DateValue:
    """A date search value: prefix and the half-open instant range its precision covers."""

    prefix: str
    start: dt.datetime
    end: dt.datetime

    @property
    def start_date(self) -> dt.date:
        return self.start.date()

    @property
    def end_date(self) -> dt.date:  # exclusive
        return (
            self.end.date() if self.end.time() == dt.time() else self.end.date() + dt.timedelta(1)
        )


def parse_date(param: str, raw: str) -> DateValue:
    prefix = raw[:2] if raw[:2] in DATE_PREFIXES else "eq"
    text = raw[2:] if raw[:2] in DATE_PREFIXES else raw
    m = _DATE.fullmatch(text)
    if not m:
        raise invalid(
            f"{param}: {raw!r} is not a FHIR date (YYYY, YYYY-MM, YYYY-MM-DD[Thh:mm:ss])."
        )
    year, month, day, hour, minute, second, tz = m.groups()
    try:
        if hour is not None:
            zone = dt.UTC if tz in (None, "Z") else dt.datetime.strptime(tz, "%z").tzinfo
            start = dt.datetime(int(year), int(month), int(day), int(hour), int(minute),
                                int(second or 0), tzinfo=zone)  # fmt: skip
            end = start + dt.timedelta(seconds=1 if second is not None else 60)
        else:
            d0 = dt.date(int(year), int(month or 1), int(day or 1))
            if day is not None:
                d1 = d0 + dt.timedelta(days=1)
            elif month is not None:
                d1 = (d0.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
            else:
                d1 = d0.replace(year=d0.year + 1) if d0.year < 9999 else dt.date(9999, 12, 31)
            start = dt.datetime.combine(d0, dt.time(), dt.UTC)
            end = dt.datetime.combine(d1, dt.time(), dt.UTC)
    except (ValueError, OverflowError):
        raise invalid(f"{param}: {raw!r} is not a real date.") from None
    return DateValue(prefix, start.astimezone(dt.UTC), end.astimezone(dt.UTC))


def parse_token(raw: str) -> tuple[str | None, str | None]:
    """`system|code` -> (system, code); `|code` -> ("", code); `code` -> (None, code);
    `system|` -> (system, None)."""
    if "|" not in raw:
        return None, raw
    system, _, code = raw.partition("|")
    return system, code or None


def parse_reference(param: str, raw: str, targets: Iterable[str]) -> tuple[str, str]:
    """`Type/id`, a bare `id` (when the parameter has one target type) or an absolute URL
    ending in `Type/id` -> (type, id)."""
    targets = tuple(targets)
    m = _REFERENCE.fullmatch(raw)
    if not m:
        raise invalid(f"{param}: {raw!r} is not a reference (Type/id).")
    rtype, rid = m.groups()
    if rtype is None:
        if len(targets) != 1:
            raise invalid(f"{param}: say which type {raw!r} is ({', '.join(targets)}).")
        rtype = targets[0]
    if rtype not in targets:
        raise invalid(f"{param} refers to {', '.join(targets)}, not {rtype}.")
    return rtype, rid
