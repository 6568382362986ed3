"""Searchset Bundles: entries, paging links with an opaque cursor, `_elements`, ETags."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

from hub.fhir.errors import invalid

Resource = dict[str, Any]
SUBSETTED = {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
             "code": "SUBSETTED"}  # fmt: skip
_ALWAYS = {"resourceType", "id", "meta"}


def query_hash(items: Iterable[tuple[str, str]]) -> str:
    """What a cursor is bound to: the search without its paging parameters."""
    kept = sorted((k, v) for k, v in items if k not in ("_cursor", "_count"))
    return hashlib.sha256(json.dumps(kept).encode()).hexdigest()[:16]


def _encode_value(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def _decode_value(value: Any, kind: str) -> Any:
    if kind == "date":
        return dt.date.fromisoformat(value)
    if kind == "datetime":
        return dt.datetime.fromisoformat(value)
    if kind == "int":
        if not isinstance(value, int):
            raise ValueError
        return value
    if not isinstance(value, str):
        raise ValueError
    return value


def encode_cursor(value: Any, key: Any, backward: bool, qhash: str) -> str:
    raw = json.dumps([_encode_value(value), key, int(backward), qhash], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, kind: str, key_is_int: bool, qhash: str) -> tuple[Any, Any, bool]:
    """(sort value, key, backward) of a cursor this search issued; anything else is a 400."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value, key, backward, bound = json.loads(raw)
        if bound != qhash:
            raise invalid("This _cursor belongs to another search; start from the first page.")
        if key_is_int != isinstance(key, int) or (not key_is_int and not isinstance(key, str)):
            raise ValueError
        return _decode_value(value, kind), key, bool(backward)
    except (ValueError, TypeError, json.JSONDecodeError, UnicodeDecodeError):
        raise invalid("_cursor is not a cursor this server issued.") from None


def page_url(base: str, rtype: str, items: list[tuple[str, str]], cursor: str | None) -> str:
    kept = [(k, v) for k, v in items if k != "_cursor"]
    if cursor is not None:
        kept.append(("_cursor", cursor))
    return f"{base}/{rtype}" + (f"?{urlencode(kept)}" if kept else "")


def subset(resource: Resource, elements: tuple[str, ...]) -> Resource:
    keep = _ALWAYS | set(elements)
    out = {k: v for k, v in resource.items() if k in keep}
    meta = dict(out.get("meta") or {})
    meta["tag"] = [*meta.get("tag", []), SUBSETTED]
    out["meta"] = meta
    return out


def entry(base: str, resource: Resource, mode: str, score: float | None = None) -> Resource:
    search: dict[str, Any] = {"mode": mode}
    if score is not None:
        search["score"] = round(score, 4)
    return {
        "fullUrl": f"{base}/{resource['resourceType']}/{resource['id']}",
        "resource": resource,
        "search": search,
    }


def searchset(entries: list[Resource], total: int | None, links: list[tuple[str, str]]) -> Resource:
    out: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset"}
    if total is not None:
        out["total"] = total
    if links:
        out["link"] = [{"relation": rel, "url": url} for rel, url in links]
    if entries:
        out["entry"] = entries
    return out


def version_id(resource: Resource) -> str:
    """A content hash: it changes when what this client sees changes."""
    body = json.dumps(resource, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(body.encode()).hexdigest()[:16]
