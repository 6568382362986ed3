"""A FHIR search from parsed parameters to a searchset Bundle: matches, `_include`,
`_revinclude`, paging and totals. Reads only; the route owns the session and the audit."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from hub.fhir import bundle
from hub.fhir import repository as repo
from hub.fhir.errors import FhirError, invalid, not_supported
from hub.fhir.params import Clause, Include, SearchQuery, parse_query
from hub.fhir.resources import BuildContext

Resource = dict[str, Any]
MAX_INCLUDED = 1000  # per page, over all _include / _revinclude


@dataclass(slots=True)
class Found:
    """What a search read: the Bundle and the residents it showed (for the audit)."""

    bundle: Resource
    residents: set[int] = field(default_factory=set)


def type_def(name: str) -> repo.TypeDef:
    td = repo.TYPES.get(name)
    if td is None:
        raise FhirError(404, "not-supported", f"This server has no resource type {name!r}.")
    return td


def allowed(ctx: BuildContext, td: repo.TypeDef, letter: str = "r") -> bool:
    """The hub scope of the type, and (an OAuth resident token) a SMART scope that reads it
    (``letter`` r for reads and includes, s for a search)."""
    smart = ctx.principal.smart
    if smart is not None:
        return bool(smart.fhir_allows(td.name, letter, td.scope))
    return td.scope is None or ctx.principal.has(td.scope)


def require(ctx: BuildContext, td: repo.TypeDef, letter: str = "r") -> None:
    if not allowed(ctx, td, letter):
        if ctx.principal.smart is not None and not ctx.principal.smart.allows(td.name, letter):
            verb = "search" if letter == "s" else "read"
            text = f"This token's SMART scopes do not {verb} {td.name} (patient/{td.name}.{letter})"
            raise FhirError(403, "forbidden", text)
        raise FhirError(403, "forbidden", f"{td.name} needs the {td.scope} scope.")


async def read_rows(ctx: BuildContext, td: repo.TypeDef, fhir_ids: Iterable[str]) -> list[Any]:
    keys = [k for k in (td.key_of(i) for i in fhir_ids) if k is not None]
    return await repo.by_keys(ctx.session, ctx.principal, td, sorted(set(keys)))


def residents_of(td: repo.TypeDef, rows: Sequence[Any]) -> set[int]:
    if td.resident is None:
        return set()
    return {rid for rid in (td.resident(r) for r in rows) if rid is not None}


async def run(
    ctx: BuildContext, td: repo.TypeDef, items: list[tuple[str, str]], base: str, *,
    lenient: bool = False, extra: Sequence[Any] = (),
) -> Found:  # fmt: skip
    """`items`: the query string; `extra`: conditions the caller adds (a compartment)."""
    require(ctx, td, "s")
    q = parse_query(items, set(td.params), lenient=lenient)
    conds = [*repo.conditions(td, q.clauses), *extra]
    _check_includes(td, q)
    qhash = bundle.query_hash(items)
    total = None
    if q.total != "none" or q.summary == "count":
        total = await repo.count(ctx.session, ctx.principal, td, conds)
    if q.summary == "count" or q.count == 0:
        return Found(
            bundle.searchset([], total, [("self", bundle.page_url(base, td.name, items, q.cursor))])
        )
    _, kind, _ = repo.sort_key(td, q.sort)
    after, backward = None, False
    if q.cursor is not None:
        value, key, backward = bundle.decode_cursor(q.cursor, kind, td.int_key, qhash)
        after = (value, key)
    rows, more = await repo.search(ctx.session, ctx.principal, td, conds, sort=q.sort,
                                   after=after, backward=backward, limit=q.count)  # fmt: skip
    built = await td.build(ctx, rows)
    seen = {(r["resourceType"], r["id"]) for r in built}
    shown = residents_of(td, rows)
    included, inc_residents = await _included(ctx, td, q, rows, built, seen)
    shown |= inc_residents
    matches = [bundle.subset(r, q.elements) if q.elements else r for r in built]
    entries = [bundle.entry(base, r, "match") for r in matches]
    entries += [bundle.entry(base, r, "include") for r in included]
    links = [("self", bundle.page_url(base, td.name, items, q.cursor))]
    if rows:

        def at(row: Any, back: bool) -> str:
            value = repo.sort_value(td, q.sort, row)
            return bundle.encode_cursor(value, getattr(row, td.key.key), back, qhash)

        if more or backward:
            links.append(("next", bundle.page_url(base, td.name, items, at(rows[-1], False))))
        if (q.cursor is not None and not backward) or (backward and more):
            links.append(("previous", bundle.page_url(base, td.name, items, at(rows[0], True))))
    return Found(bundle.searchset(entries, total, links), shown)


def _check_includes(td: repo.TypeDef, q: SearchQuery) -> None:
    for inc in q.includes:
        if inc.source != td.name:
            raise not_supported(
                f"_include={inc.source}:{inc.param}: includes start from {td.name}."
            )
        _reference_param(inc, td.name, forward=True)
    for inc in q.revincludes:
        _reference_param(inc, td.name, forward=False)


def _reference_param(inc: Include, current: str, *, forward: bool) -> repo.Param:
    source = repo.TYPES.get(inc.source)
    param = source.params.get(inc.param) if source else None
    if param is None or param.type != "reference":
        raise invalid(f"{inc.source}:{inc.param} is not a reference search parameter here.")
    if inc.target is not None and inc.target not in param.targets:
        raise invalid(f"{inc.source}:{inc.param} does not refer to {inc.target}.")
    if not forward and current not in param.targets:
        raise invalid(f"{inc.source}:{inc.param} does not refer to {current}.")
    return param


def references(resource: Resource, path: str) -> list[str]:
    """The `reference` strings at a dotted element path ("participant.member")."""
    nodes: list[Any] = [resource]
    for part in path.split("."):
        nxt: list[Any] = []
        for node in nodes:
            value = node.get(part) if isinstance(node, dict) else None
            nxt.extend(value if isinstance(value, list) else [value] if value is not None else [])
        nodes = nxt
    return [
        n["reference"] for n in nodes if isinstance(n, dict) and isinstance(n.get("reference"), str)
    ]


async def _included(
    ctx: BuildContext, td: repo.TypeDef, q: SearchQuery, rows: Sequence[Any],
    built: list[Resource], seen: set[tuple[str, str]],
) -> tuple[list[Resource], set[int]]:  # fmt: skip
    out: list[Resource] = []
    shown: set[int] = set()

    async def add(target: repo.TypeDef, found: Sequence[Any]) -> None:
        for row, res in zip(found, await target.build(ctx, found), strict=True):
            if (res["resourceType"], res["id"]) in seen or len(out) >= MAX_INCLUDED:
                continue
            seen.add((res["resourceType"], res["id"]))
            out.append(res)
            shown.update(residents_of(target, [row]))

    for inc in q.includes:
        param = _reference_param(inc, td.name, forward=True)
        wanted: dict[str, set[str]] = {}
        for res in built:
            for path in param.paths:
                for ref in references(res, path):
                    rtype, _, rid = ref.rpartition("/")
                    if rtype in param.targets and inc.target in (None, rtype):
                        wanted.setdefault(rtype, set()).add(rid)
        for rtype, ids in sorted(wanted.items()):
            target = repo.TYPES[rtype]
            if allowed(ctx, target):
                await add(target, await read_rows(ctx, target, ids))
    for inc in q.revincludes:
        source = repo.TYPES[inc.source]
        if not rows or not allowed(ctx, source):
            continue
        refs = tuple(f"{td.name}/{td.fhir_id(r)}" for r in rows)
        conds = repo.conditions(source, [Clause(inc.param, None, refs)])
        found, _ = await repo.search(ctx.session, ctx.principal, source, conds, sort=None,
                                     after=None, backward=False, limit=MAX_INCLUDED)  # fmt: skip
        await add(source, found)
    return out, shown
