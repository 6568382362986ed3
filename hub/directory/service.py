"""Directory rules and queries: organizations, practitioners, teams."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.access.principal import Principal, Scope
from hub.directory.models import (
    PRIMARY_CARE_KINDS,
    Organization,
    OrganizationKind,
    Practitioner,
    PractitionerRole,
    Team,
    TeamMember,
)
from hub.errors import DomainError, NotFound
from hub.events.service import emit


@dataclass(frozen=True, slots=True)
class OrganizationFilter:
    region: str | None = None
    kind: str | None = None


@dataclass(frozen=True, slots=True)
class TeamFilter:
    region: str | None = None
    organization_id: str | None = None


def _orgs(flt: OrganizationFilter) -> Select[Organization]:
    stmt = select(Organization)
    if flt.region:
        stmt = stmt.where(Organization.region_key == flt.region)
    if flt.kind:
        stmt = stmt.where(Organization.kind == flt.kind)
    return stmt


def _teams(flt: TeamFilter) -> Select[Team]:
    stmt = select(Team)
    if flt.organization_id:
        stmt = stmt.where(Team.organization_id == flt.organization_id)
    if flt.region:
        stmt = stmt.where(
            Team.organization_id.in_(
                select(Organization.id).where(Organization.region_key == flt.region)
            )
        )
    return stmt


Page = tuple[list[Any], int, bool]


async def _page(
    session: AsyncSession, stmt: Select[Any], key: Any, after: str | None, limit: int
) -> Page:
    total = await session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    if after is not None:
        stmt = stmt.where(key > after)
    rows = list((await session.scalars(stmt.order_by(key).limit(limit + 1))).all())
    return rows[:limit], int(total or 0), len(rows) > limit


async def list_organizations(
    session: AsyncSession, flt: OrganizationFilter, *, after: str | None, limit: int
) -> Page:
    return await _page(session, _orgs(flt), Organization.id, after, limit)


async def list_teams(
    session: AsyncSession, flt: TeamFilter, *, after: str | None, limit: int
) -> Page:
    return await _page(session, _teams(flt), Team.id, after, limit)


async def list_practitioners(
    session: AsyncSession, organization_id: str | None, *, after: str | None, limit: int
) -> Page:
    stmt = select(Practitioner)
    if organization_id:
        stmt = stmt.where(Practitioner.organization_id == organization_id)
    return await _page(session, stmt, Practitioner.id, after, limit)


async def get_many(session: AsyncSession, model: type[Any], ids: Sequence[str]) -> dict[str, Any]:
    if not ids:
        return {}
    rows = await session.scalars(select(model).where(model.id.in_(ids)))
    return {r.id: r for r in rows}


class DirectoryCache:
    """Directory rows change rarely and are read on almost every resident: keep them in
    process for a few seconds. Upserts in this process invalidate at once; other
    processes see a change within `ttl`."""

    def __init__(self, ttl: float = 10.0) -> None:
        self.ttl = ttl
        self._rows: dict[tuple[str, str], tuple[float, Any]] = {}

    async def get_many(
        self, session: AsyncSession, model: type[Any], ids: Sequence[str]
    ) -> dict[str, Any]:
        now = time.monotonic()
        found: dict[str, Any] = {}
        missing = []
        for key in ids:
            hit = self._rows.get((model.__name__, key))
            if hit is not None and now - hit[0] < self.ttl:
                found[key] = hit[1]
            else:
                missing.append(key)
        if missing:
            loaded = await get_many(session, model, missing)
            for key, row in loaded.items():
                session.expunge(row)  # detached, read-only snapshot shared across requests
                self._rows[(model.__name__, key)] = (now, row)
            found.update(loaded)
        return found

    def invalidate(self) -> None:
        self._rows.clear()


cache = DirectoryCache()


async def team_members(
    session: AsyncSession, team_ids: Sequence[str]
) -> dict[str, list[TeamMember]]:
    out: dict[str, list[TeamMember]] = {t: [] for t in team_ids}
    rows = await session.scalars(select(TeamMember).where(TeamMember.team_id.in_(team_ids)))
    for m in rows:
        out[m.team_id].append(m)
    return out


# ---- upserts (directory:write) ------------------------------------------------------------


def _check_enum(value: str, enum: type[Any], field: str) -> None:
    if value not in enum.__members__:
        raise DomainError(
            f"'{value}' is not a known {field}; use one of {', '.join(enum.__members__)}.",
            field=field,
            code="INVALID_CODE",
        )


async def upsert_organization(
    session: AsyncSession, principal: Principal, **data: Any
) -> Organization:
    principal.require(Scope.DIRECTORY_WRITE)
    cache.invalidate()
    _check_enum(data["kind"], OrganizationKind, "kind")
    if data.get("parent_id") and not await session.get(Organization, data["parent_id"]):
        raise NotFound(f"Parent organization {data['parent_id']} does not exist.", field="parentId")
    data.setdefault("primary_care", OrganizationKind(data["kind"]) in PRIMARY_CARE_KINDS)
    if data["primary_care"] is None:
        data["primary_care"] = OrganizationKind(data["kind"]) in PRIMARY_CARE_KINDS
    org = await session.get(Organization, data["id"])
    if org is None:
        org = Organization(**data)
        session.add(org)
    else:
        for k, v in data.items():
            setattr(org, k, v)
    await session.flush()
    emit(session, "organization.upserted", "Organization", org.id, organization_ids=[org.id])
    return org


async def upsert_practitioner(
    session: AsyncSession, principal: Principal, **data: Any
) -> Practitioner:
    principal.require(Scope.DIRECTORY_WRITE)
    cache.invalidate()
    _check_enum(data["role"], PractitionerRole, "role")
    if not await session.get(Organization, data["organization_id"]):
        raise NotFound(
            f"Organization {data['organization_id']} does not exist.", field="organizationId"
        )
    pr = await session.get(Practitioner, data["id"])
    if pr is None:
        pr = Practitioner(**data)
        session.add(pr)
    else:
        for k, v in data.items():
            setattr(pr, k, v)
    await session.flush()
    emit(
        session,
        "practitioner.upserted",
        "Practitioner",
        pr.id,
        organization_ids=[pr.organization_id],
    )
    return pr


async def upsert_team(
    session: AsyncSession, principal: Principal, *, members: Sequence[tuple[str, str]], **data: Any
) -> Team:
    principal.require(Scope.DIRECTORY_WRITE)
    cache.invalidate()
    org = await session.get(Organization, data["organization_id"])
    if org is None:
        raise NotFound(
            f"Organization {data['organization_id']} does not exist.", field="organizationId"
        )
    if not org.primary_care:
        raise DomainError(
            f"{org.name} is not a primary-care institution; family doctor teams belong to "
            "community health centres/stations, township health centres or village clinics.",
            field="organizationId",
            code="INSTITUTION_NOT_PRIMARY_CARE",
        )
    ids = {pid for pid, _ in members} | ({data["leader_id"]} if data.get("leader_id") else set())
    known = await get_many(session, Practitioner, sorted(ids))
    if missing := ids - known.keys():
        raise NotFound(f"Unknown practitioner(s): {', '.join(sorted(missing))}.", field="members")
    team = await session.get(Team, data["id"])
    if team is None:
        team = Team(**data)
        session.add(team)
    else:
        for k, v in data.items():
            setattr(team, k, v)
    await session.flush()
    await session.execute(delete(TeamMember).where(TeamMember.team_id == team.id))
    session.add_all(TeamMember(team_id=team.id, practitioner_id=p, role=r) for p, r in members)
    emit(session, "team.upserted", "Team", team.id, organization_ids=[team.organization_id])
    return team
