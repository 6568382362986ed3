"""Every contracts query. Services call these; nothing else writes SQL for contracts.

Importing this module also teaches the registry two things it cannot know by itself:
a bound client sees residents whose active contract is with a team of its organizations,
and ``ResidentFilter.signed`` means "has an active contract".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Select, case, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.access import policy
from hub.access.principal import Principal
from hub.contracts.models import (
    Contract,
    ContractPackage,
    ContractPeriod,
    ContractSequence,
    ContractStatus,
    ServiceDelivery,
)
from hub.directory.models import Team
from hub.registry import repository as registry_repository
from hub.registry.models import Resident

ACTIVE = ContractStatus.ACTIVE.value


# -- the one function other domains need ------------------------------------------------


async def active_contract(session: AsyncSession, resident_id: int) -> Contract | None:
    """The resident's active contract (at most one: a database constraint), or None."""
    return await session.scalar(
        select(Contract).where(Contract.resident_id == resident_id, Contract.status == ACTIVE)
    )


async def active_contracts(
    session: AsyncSession, resident_ids: Sequence[int]
) -> dict[int, Contract]:
    if not resident_ids:
        return {}
    rows = await session.scalars(
        select(Contract).where(Contract.resident_id.in_(resident_ids), Contract.status == ACTIVE)
    )
    return {c.resident_id: c for c in rows}


# -- registry hooks -------------------------------------------------------------------------


def _signed_residents() -> Select[int]:
    return select(Contract.resident_id).where(Contract.status == ACTIVE)


def signed_condition(signed: bool) -> ColumnElement[bool]:
    """Residents with (``True``) or without (``False``) an active contract."""
    cond = Resident.id.in_(_signed_residents())
    return cond if signed else ~cond


registry_repository.extra_filters["signed"] = signed_condition


# -- reads --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ContractFilter:
    status: str | None = None
    region: str | None = None
    organization_id: str | None = None
    team_id: str | None = None
    resident_id: int | None = None
    household_id: int | None = None
    package_code: str | None = None
    ends_on_or_before: dt.date | None = None
    number: str | None = None


def visible(principal: Principal) -> ColumnElement[bool] | None:
    """Contracts this client may see: the one access policy (`hub.access.policy`)."""
    return policy.contracts(principal)


def filtered(principal: Principal, flt: ContractFilter) -> Select[Contract]:
    stmt = select(Contract)
    if (cond := visible(principal)) is not None:
        stmt = stmt.where(cond)
    for column, value in (
        (Contract.status, flt.status),
        (Contract.region_key, flt.region),
        (Contract.organization_id, flt.organization_id),
        (Contract.team_id, flt.team_id),
        (Contract.resident_id, flt.resident_id),
        (Contract.household_id, flt.household_id),
        (Contract.number, flt.number),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if flt.package_code:
        stmt = stmt.where(
            Contract.id.in_(
                select(ContractPackage.contract_id).where(ContractPackage.code == flt.package_code)
            )
        )
    if flt.ends_on_or_before:
        stmt = stmt.where(Contract.ends_on <= flt.ends_on_or_before)
    return stmt


async def page(
    session: AsyncSession, stmt: Select[Contract], *, after: int | None, limit: int
) -> tuple[list[Contract], int, bool]:
    """Keyset page by id: (rows, total count, has next page)."""
    total = await session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    if after is not None:
        stmt = stmt.where(Contract.id > after)
    rows = list((await session.scalars(stmt.order_by(Contract.id).limit(limit + 1))).all())
    return rows[:limit], int(total or 0), len(rows) > limit


async def get(session: AsyncSession, contract_id: int) -> Contract | None:
    return await session.get(Contract, contract_id)


async def get_for_update(session: AsyncSession, contract_id: int) -> Contract | None:
    return await session.scalar(
        select(Contract).where(Contract.id == contract_id).with_for_update()
    )


async def is_visible(session: AsyncSession, principal: Principal, contract_id: int) -> bool:
    cond = visible(principal)
    if cond is None:
        return True
    return bool(await session.scalar(select(Contract.id).where(Contract.id == contract_id, cond)))


async def get_many(session: AsyncSession, ids: Sequence[int]) -> dict[int, Contract]:
    if not ids:
        return {}
    return {c.id: c for c in await session.scalars(select(Contract).where(Contract.id.in_(ids)))}


async def of_residents(
    session: AsyncSession, resident_ids: Sequence[int]
) -> dict[int, list[Contract]]:
    """Every contract of each resident, newest first."""
    out: dict[int, list[Contract]] = {r: [] for r in resident_ids}
    if resident_ids:
        rows = await session.scalars(
            select(Contract)
            .where(Contract.resident_id.in_(resident_ids))
            .order_by(Contract.id.desc())
        )
        for c in rows:
            out[c.resident_id].append(c)
    return out


async def _children(
    session: AsyncSession, model: Any, contract_ids: Sequence[int], order: Any
) -> dict[int, list[Any]]:
    out: dict[int, list[Any]] = {c: [] for c in contract_ids}
    if contract_ids:
        rows = await session.scalars(
            select(model).where(model.contract_id.in_(contract_ids)).order_by(order)
        )
        for row in rows:
            out[row.contract_id].append(row)
    return out


async def packages(
    session: AsyncSession, contract_ids: Sequence[int]
) -> dict[int, list[ContractPackage]]:
    return await _children(session, ContractPackage, contract_ids, ContractPackage.id)


async def periods(
    session: AsyncSession, contract_ids: Sequence[int]
) -> dict[int, list[ContractPeriod]]:
    return await _children(session, ContractPeriod, contract_ids, ContractPeriod.period_no)


async def deliveries(
    session: AsyncSession, contract_ids: Sequence[int]
) -> dict[int, list[ServiceDelivery]]:
    return await _children(session, ServiceDelivery, contract_ids, ServiceDelivery.performed_on)


async def delivery_by_source(
    session: AsyncSession, source: str, source_ref: str
) -> ServiceDelivery | None:
    return await session.scalar(
        select(ServiceDelivery).where(
            ServiceDelivery.source == source, ServiceDelivery.source_ref == source_ref
        )
    )


# -- team load ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TeamLoad:
    """签约负荷: households and persons with an active contract with the team."""

    households: int = 0
    persons: int = 0


async def team_loads(session: AsyncSession, team_ids: Sequence[str]) -> dict[str, TeamLoad]:
    """A resident signed without a household counts as a household of one."""
    out = {t: TeamLoad() for t in team_ids}
    if not team_ids:
        return out
    rows = await session.execute(
        select(
            Contract.team_id,
            func.count(),
            func.count(func.distinct(Contract.household_id)),
            func.sum(case((Contract.household_id.is_(None), 1), else_=0)),
        )
        .where(Contract.team_id.in_(team_ids), Contract.status == ACTIVE)
        .group_by(Contract.team_id)
    )
    for team_id, persons, households, singles in rows:
        out[team_id] = TeamLoad(
            households=int(households) + int(singles or 0), persons=int(persons)
        )
    return out


async def lock_team(session: AsyncSession, team_id: str) -> Team | None:
    """The team row, locked (PostgreSQL) so concurrent signings count its load one at a time."""
    return await session.scalar(select(Team).where(Team.id == team_id).with_for_update())


async def households_signed_with(
    session: AsyncSession, team_id: str, household_ids: Iterable[int]
) -> set[int]:
    """Which of these households already have a member with an active contract with the team."""
    ids = list(set(household_ids))
    if not ids:
        return set()
    rows = await session.scalars(
        select(Contract.household_id).where(
            Contract.team_id == team_id,
            Contract.status == ACTIVE,
            Contract.household_id.in_(ids),
        )
    )
    return {h for h in rows if h is not None}


# -- writes -------------------------------------------------------------------------------


async def allocate_numbers(session: AsyncSession, region_code: str, year: int, n: int) -> range:
    """Reserve ``n`` consecutive sequence numbers for (region code, year), atomically."""
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    values = dict(region_code=region_code, year=year, last=n)
    stmt = (
        dialect.insert(ContractSequence)
        .values(**values)
        .on_conflict_do_update(
            index_elements=["region_code", "year"], set_={"last": ContractSequence.last + n}
        )
        .returning(ContractSequence.last)
    )
    last = int((await session.execute(stmt)).scalar_one())
    return range(last - n + 1, last + 1)


def format_number(region_code: str, year: int, sequence: int) -> str:
    """签约号: region code, signing year and a sequence, e.g. 440113-2024-000123."""
    return f"{region_code}-{year}-{sequence:06d}"


async def replace_packages(
    session: AsyncSession, contract_id: int, rows: Sequence[dict[str, Any]]
) -> None:
    await session.execute(delete(ContractPackage).where(ContractPackage.contract_id == contract_id))
    session.add_all(ContractPackage(contract_id=contract_id, **r) for r in rows)


def add_period(
    session: AsyncSession,
    contract: Contract,
    origin: str,
    codes: Sequence[str],
    fees: dict[str, str],
) -> None:
    session.add(
        ContractPeriod(
            contract_id=contract.id,
            period_no=contract.period_no,
            starts_on=contract.starts_on,
            ends_on=contract.ends_on,
            origin=origin,
            packages=list(codes),
            fees=fees,
        )
    )


async def due_for_roll(
    session: AsyncSession, on: dt.date, *, after_id: int, limit: int
) -> list[Contract]:
    """Active contracts whose period ended before ``on``, locked; rows another worker holds
    are skipped (PostgreSQL), so several processes can roll at once."""
    stmt = (
        select(Contract)
        .where(Contract.status == ACTIVE, Contract.ends_on < on, Contract.id > after_id)
        .order_by(Contract.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list((await session.scalars(stmt)).all())


@dataclass(frozen=True, slots=True)
class NewContract:
    """A contract row for bulk loading (imports, test fixtures): no rules are checked."""

    resident_id: int
    team_id: str
    organization_id: str
    region_key: str
    region_code: str
    starts_on: dt.date
    ends_on: dt.date
    packages: Sequence[dict[str, Any]] = field(default_factory=tuple)  # ContractPackage values
    household_id: int | None = None
    signed_by_id: int | None = None


async def bulk_insert(session: AsyncSession, contracts: Sequence[NewContract]) -> int:
    """Insert many active contracts at once (Core inserts, numbers allocated in blocks)."""
    by_key: dict[tuple[str, int], list[NewContract]] = {}
    for c in contracts:
        by_key.setdefault((c.region_code, c.starts_on.year), []).append(c)
    numbered: list[tuple[str, NewContract]] = []
    for (code, year), group in by_key.items():
        seq = await allocate_numbers(session, code, year, len(group))
        numbered += [(format_number(code, year, s), c) for s, c in zip(seq, group, strict=True)]
    now = dt.datetime.now(dt.UTC)
    for start in range(0, len(numbered), 1000):
        chunk = numbered[start : start + 1000]
        await session.execute(
            insert(Contract),
            [
                dict(
                    number=number,
                    resident_id=c.resident_id,
                    household_id=c.household_id,
                    signed_by_id=c.signed_by_id,
                    team_id=c.team_id,
                    organization_id=c.organization_id,
                    region_key=c.region_key,
                    status=ACTIVE,
                    signed_on=c.starts_on,
                    period_no=1,
                    starts_on=c.starts_on,
                    ends_on=c.ends_on,
                    hospital_ids=[],
                    created_at=now,
                    updated_at=now,
                    version=1,
                )
                for number, c in chunk
            ],
        )
        ids = dict(
            (
                await session.execute(
                    select(Contract.number, Contract.id).where(
                        Contract.number.in_([n for n, _ in chunk])
                    )
                )
            )
            .tuples()
            .all()
        )
        package_rows = [
            {"contract_id": ids[number], **p} for number, c in chunk for p in c.packages
        ]
        if package_rows:
            await session.execute(insert(ContractPackage), package_rows)
        await session.execute(
            insert(ContractPeriod),
            [
                dict(
                    contract_id=ids[number],
                    period_no=1,
                    starts_on=c.starts_on,
                    ends_on=c.ends_on,
                    origin="SIGNED",
                    packages=[p["code"] for p in c.packages],
                    fees={},
                    created_at=now,
                )
                for number, c in chunk
            ],
        )
    return len(numbered)


async def add_delivery(session: AsyncSession, **values: Any) -> ServiceDelivery:
    row = ServiceDelivery(**values)
    session.add(row)
    await session.flush()
    return row


__all__ = [
    "ContractFilter", "NewContract", "TeamLoad", "active_contract", "active_contracts",
    "add_delivery", "add_period", "allocate_numbers", "bulk_insert", "deliveries",
    "delivery_by_source", "due_for_roll", "filtered", "format_number", "get", "get_for_update",
    "get_many", "households_signed_with", "is_visible", "lock_team", "of_residents", "packages",
    "page", "periods", "replace_packages", "signed_condition", "team_loads", "visible",
]  # fmt: skip
