"""Where a resident lives for the reports (乡镇（街道）/村（社区）, `resident_locality`).

The rule (RULES.md §1: a household, 户, is one family at one home address, and the seeds'
forms list the members of one household on one form, under one address): **a household
has one township and village, and every member is counted there** — the household head's
place when the head is placed, else the first placed member's. A resident in no household
is placed from their own address, and, when the address names no township, from their
team's grid (网格, `team.grid_area`: "市桥街道 青年社区、建设社区" — the township, and the
village when the grid covers only one).

`place()` runs after every write that creates or moves a resident (submitResidentRecord,
the FHIR Patient writes, the adapters through `RegistryService.submit`), the demo and the
low-income import; a township report therefore counts each household in one township only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.directory.models import Team
from hub.registry.models import Household, Resident
from hub.registry.normalize import normalize_address
from hub.reports.models import ResidentLocality

_VILLAGE = re.compile(r"^(?P<v>[\u4e00-\u9fff]{1,8}?(?:村|社区))")
_GRID_SPLIT = re.compile(r"[、，,\s]+")

Place = tuple[str, str | None]


def locality(address: str | None) -> Place | None:
    """乡镇（街道）and 村（社区） read from an address text (None: no township in it)."""
    parsed = normalize_address(address)
    if parsed is None or not parsed.township or address is None:
        return None
    try:
        rest = address[address.index(parsed.township) + len(parsed.township) :]
    except ValueError:  # the address names it in another form (traditional, full-width)
        return parsed.township, None
    m = _VILLAGE.match(rest)
    return parsed.township, (m.group("v") if m else None)


def grid_locality(grid_area: str | None) -> Place | None:
    """A team's grid as the directory states it: "街道 社区、社区" (township first)."""
    if not grid_area or not grid_area.strip():
        return None
    township, _, rest = grid_area.strip().partition(" ")
    parts = [p for p in _GRID_SPLIT.split(rest) if p]
    return township, (parts[0] if len(parts) == 1 else None)


async def place(session: AsyncSession, resident_ids: Iterable[int]) -> None:
    """Set the township and village of these residents and of everyone in their households
    by the rule above (the caller's transaction; flushes)."""
    ids = sorted({int(i) for i in resident_ids})
    if not ids:
        return
    await session.flush()
    people = (await session.execute(
        select(Resident.id, Resident.household_id).where(Resident.id.in_(ids))
    )).all()  # fmt: skip
    households = sorted({h for _, h in people if h is not None})
    alone = [rid for rid, h in people if h is None]
    for chunk in _chunks(households, 500):
        await _place_households(session, chunk)
    for chunk in _chunks(alone, 500):
        await _place_alone(session, chunk)
    await session.flush()


def _chunks(items: list[int], n: int) -> Iterable[list[int]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


async def _own_places(session: AsyncSession, rows: list[Any]) -> dict[int, Place]:
    """Each resident's place from their own address, else their team's grid."""
    teams = {t for *_, t in rows if t}
    grids = dict((await session.execute(
        select(Team.id, Team.grid_area).where(Team.id.in_(sorted(teams)))
    )).tuples().all()) if teams else {}  # fmt: skip
    out: dict[int, Place] = {}
    for rid, address, team in rows:
        where = locality(address) or grid_locality(grids.get(team))
        if where is not None:
            out[rid] = where
    return out


async def _write(session: AsyncSession, places: dict[int, tuple[str, Place]]) -> None:
    """Replace the locality rows of these residents (resident -> (region, place))."""
    if not places:
        return
    ids = sorted(places)
    current = {
        r.resident_id: r
        for r in await session.scalars(
            select(ResidentLocality).where(ResidentLocality.resident_id.in_(ids))
        )
    }
    for rid, (region, (township, village)) in places.items():
        row = current.get(rid)
        if row is None:
            session.add(ResidentLocality(resident_id=rid, region_key=region, township=township,
                                         village=village))  # fmt: skip
        elif (row.region_key, row.township, row.village) != (region, township, village):
            row.region_key, row.township, row.village = region, township, village


def _region(region_key: str | None, address_region: str | None, address: str | None) -> str | None:
    """The resident's region, else the policy whose division code covers their address
    region, else whose district or county (番禺区) the address names: a resident created
    through the API has no region until a team takes them on."""
    if region_key:
        return region_key
    from hub.contracts.policy import _presets, policy_for_region_code

    if address_region and (policy := policy_for_region_code(address_region[:6])):
        return policy.key
    for policy in _presets().values():
        for rc in policy.region_codes:
            if rc.level in ("district", "county") and address and rc.name_zh in address:
                return policy.key
    return None


async def _place_alone(session: AsyncSession, ids: list[int]) -> None:
    rows = (await session.execute(
        select(Resident.id, Resident.region_key, Resident.address_region, Resident.address_text,
               Resident.team_id)
        .where(Resident.id.in_(ids))
    )).all()  # fmt: skip
    regions = {r.id: _region(r.region_key, r.address_region, r.address_text) for r in rows}
    placed = {r.resident_id for r in await session.scalars(
        select(ResidentLocality).where(ResidentLocality.resident_id.in_(ids)))}  # fmt: skip
    # someone already placed (the demo, the low-income list) keeps their place; the others
    # are read from their address or grid
    own = await _own_places(session, [(r.id, r.address_text, r.team_id) for r in rows
                                      if r.id not in placed])  # fmt: skip
    await _write(session, {rid: (regions[rid], p) for rid, p in own.items() if regions[rid]})


async def _place_households(session: AsyncSession, households: list[int]) -> None:
    heads = dict((await session.execute(
        select(Household.id, Household.head_resident_id).where(Household.id.in_(households))
    )).tuples().all())  # fmt: skip
    members = (await session.execute(
        select(Resident.id, Resident.household_id, Resident.region_key, Resident.address_region,
               Resident.address_text, Resident.team_id)
        .where(Resident.household_id.in_(households))
        .order_by(Resident.household_id, Resident.id)
    )).all()  # fmt: skip
    ids = [m.id for m in members]
    placed: dict[int, Place] = {}
    for chunk in _chunks(ids, 500):
        for r in await session.scalars(
            select(ResidentLocality).where(ResidentLocality.resident_id.in_(chunk))
        ):
            placed[r.resident_id] = (r.township, r.village)
    unplaced = [(m.id, m.address_text, m.team_id) for m in members if m.id not in placed]
    own = await _own_places(session, unplaced)
    by_household: dict[int, list[Any]] = {}
    for m in members:
        by_household.setdefault(m.household_id, []).append(m)
    out: dict[int, tuple[str, Place]] = {}
    for hid, group in by_household.items():
        head = heads.get(hid)
        ordered = sorted(group, key=lambda m: (m.id != head, m.id))  # the head first
        where = next((placed[m.id] for m in ordered if m.id in placed), None) or next(
            (own[m.id] for m in ordered if m.id in own), None
        )
        if where is None:
            continue
        home = next((m.region_key for m in ordered if m.region_key), None)
        for m in group:  # a member with no region yet counts in the household's
            region = m.region_key or home or _region(None, m.address_region, m.address_text)
            if region:
                out[m.id] = (region, where)
    await _write(session, out)


async def align_households(session: AsyncSession, region: str | None = None) -> None:
    """Apply the rule to every household (of a region): the demo and a one-off repair."""
    stmt = select(Resident.household_id).where(Resident.household_id.is_not(None)).distinct()
    if region is not None:
        stmt = stmt.where(Resident.region_key == region)
    households = sorted(await session.scalars(stmt))
    for chunk in _chunks(households, 500):
        await _place_households(session, chunk)
    await session.flush()


__all__ = ["align_households", "grid_locality", "locality", "place"]
