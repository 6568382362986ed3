"""Relay plumbing: global ids, cursors, connections with totalCount, the Node interface."""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

import strawberry

from hub.errors import InvalidInput, NotFound
from hub.ids import MAX_ID as MAX_ID  # re-exported: the bound of parse_int_id
from hub.ids import parse_int_id as _parse

T = TypeVar("T")


def to_global_id(type_name: str, raw: str | int) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{raw}".encode()).decode().rstrip("=")


def from_global_id(gid: str, expected: str | None = None) -> tuple[str, str]:
    """Decode a global id; a raw id of the expected type is accepted too."""
    try:
        padded = gid + "=" * (-len(gid) % 4)
        type_name, raw = base64.urlsafe_b64decode(padded.encode()).decode().split(":", 1)
    except Exception:  # noqa: BLE001 - anything undecodable is a raw id
        if expected:
            return expected, gid
        raise InvalidInput(f"'{gid}' is not a valid id.", field="id", code="INVALID_ID") from None
    if expected and type_name != expected:
        raise InvalidInput(
            f"'{gid}' is a {type_name} id, expected a {expected} id.", field="id", code="INVALID_ID"
        )
    return type_name, raw


def raw_id(gid: Any, expected: str) -> str | None:
    """The hub's own key behind an optional global id of the expected type."""
    return from_global_id(str(gid), expected)[1] if gid else None


def parse_int_id(raw: object) -> int | None:
    """A client's raw integer id (decimal, 1..hub.ids.MAX_ID), or None: no row has it."""
    return _parse(raw)


def int_id(gid: str, expected: str) -> int:
    """The integer key behind a global (or raw) id of the expected type.

    Not a number at all: INVALID_ID. A number no row can have (0, 2**64, …): NOT_FOUND,
    before it reaches SQL."""
    _, raw = from_global_id(gid, expected)
    key = _parse(raw)
    if key is not None:
        return key
    if raw.isascii() and raw.isdigit():
        raise NotFound(f"No {expected} has the id '{gid}'.", field="id")
    raise InvalidInput(f"'{gid}' is not a valid {expected} id.", field="id", code="INVALID_ID")


def encode_cursor(key: str | int) -> str:
    return base64.urlsafe_b64encode(f"c:{key}".encode()).decode()


def decode_cursor(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    try:
        prefix, key = base64.urlsafe_b64decode(cursor.encode()).decode().split(":", 1)
        assert prefix == "c"
        # integer keys are checked here, before a caller's int() and SQL see them
        assert not key.lstrip("-").isdigit() or _parse(key) is not None
        return key
    except Exception:  # noqa: BLE001
        raise InvalidInput(
            f"'{cursor}' is not a cursor from this API.", field="after", code="INVALID_CURSOR"
        ) from None


@strawberry.interface(description="An object with a global id (Relay).")
class Node:
    id: strawberry.ID


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    total_count: int


def connection(
    rows: Sequence[Any],
    total: int,
    has_next: bool,
    *,
    after: str | None,
    convert: Callable[[Any], T],
    key: Callable[[Any], Any] = lambda r: r.id,
) -> Connection[T]:
    edges = [Edge(cursor=encode_cursor(key(r)), node=convert(r)) for r in rows]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=has_next,
            has_previous_page=after is not None,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        total_count=total,
    )
