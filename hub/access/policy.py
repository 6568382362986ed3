"""The one access policy: which residents (and their contracts, referrals) a client may see
or act on. Every path asks it — GraphQL root and nested fields, `node`, mutations,
subscriptions, webhooks, FHIR — as a SQL predicate added to the query that reads the rows,
so what a client may not see looks exactly like what does not exist.

Who sees whom:
- an unbound client (no organization, no practitioner) or an admin: the whole district;
- an institution-bound client: residents managed by its institutions or in the grid of
  their teams, residents with an active contract with them, and the residents of referrals
  to or from them while the referral is open and for the region's
  `access.referral_grace_days` after it closed (a hospital client);
- a practitioner-bound client (a family doctor's app): the residents with an active
  contract with a team the practitioner is on;
- any client: the residents its own records created (a record of someone already known
  links to them and grants nothing);
- a resident-scoped token (`Principal.resident_ids`): exactly that resident and those they
  are guardian of, nothing else.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from sqlalchemy import ColumnElement, and_, exists, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.access.principal import Principal

__all__ = [
    "contracts", "may_act_for_team", "may_see_resident", "referral_grace_days", "referrals",
    "residents", "visible_events", "visible_resident_ids",
]  # fmt: skip


def referral_grace_days() -> dict[str, int]:
    """Region key -> days a hospital keeps seeing a referred resident after the referral
    closed (region policy `access.referral_grace_days`)."""
    from hub.contracts.policy import _presets

    return {key: p.access.referral_grace_days for key, p in _presets().items()}


def _practitioner_teams(principal: Principal):  # type: ignore[no-untyped-def]
    from hub.directory.models import TeamMember

    return select(TeamMember.team_id).where(
        TeamMember.practitioner_id.in_(list(principal.practitioner_ids))
    )


def _referred(orgs: list[str], now: dt.datetime, resident_id: Any) -> ColumnElement[bool]:
    """A referral of the resident to or from `orgs`: open, or closed within the grace period
    of the sending team's region. Correlated on the resident (indexed by resident)."""
    from hub.directory.models import Organization
    from hub.referrals.models import Referral
    from hub.referrals.workflow import OPEN

    recent = [
        and_(Organization.region_key == region, Referral.updated_at >= now - dt.timedelta(days=d))
        for region, d in sorted(referral_grace_days().items())
        if d > 0
    ]
    return exists(
        select(Referral.id)
        .join(Organization, Organization.id == Referral.team_organization_id)
        .where(
            Referral.resident_id == resident_id,
            or_(Referral.hospital_id.in_(orgs), Referral.team_organization_id.in_(orgs)),
            or_(Referral.status.in_([str(s) for s in OPEN]), *recent),
        )
    )


def residents(
    principal: Principal, *, now: dt.datetime | None = None
) -> ColumnElement[bool] | None:
    """A predicate on `Resident` for the rows this client may see (None: all of them).
    Each branch is a plain column test or an EXISTS correlated on the resident's id, so a
    point check costs a few index probes whatever the size of the district."""

    if not principal.bound:
        return None
    if principal.resident_ids:  # a resident-scoped token: exactly those residents
        from hub.registry.models import Resident

        return Resident.id.in_(list(principal.resident_ids))
    # Built once per client and hour (the grace period's resolution): building the
    # expression costs more than running it.
    now = (now or dt.datetime.now(dt.UTC)).replace(minute=0, second=0, microsecond=0)
    return _residents(principal, now)


@functools.lru_cache(maxsize=4096)
def _residents(principal: Principal, now: dt.datetime) -> ColumnElement[bool]:
    from hub.contracts.models import Contract, ContractStatus
    from hub.directory.models import Team
    from hub.registry.models import Resident

    conditions: list[ColumnElement[bool]] = []
    active = and_(Contract.resident_id == Resident.id, Contract.status == ContractStatus.ACTIVE)
    if principal.organization_ids:
        orgs = list(principal.organization_ids)
        teams = select(Team.id).where(Team.organization_id.in_(orgs))
        conditions += [
            Resident.organization_id.in_(orgs),
            Resident.team_id.in_(teams),
            exists(select(Contract.id).where(active, Contract.organization_id.in_(orgs))),
            _referred(orgs, now, Resident.id),
        ]
    if principal.practitioner_ids:
        conditions.append(
            exists(
                select(Contract.id).where(
                    active, Contract.team_id.in_(_practitioner_teams(principal))
                )
            )
        )
    if principal.client_id is not None:
        conditions.append(Resident.created_by_client_id == principal.client_id)
    return or_(*conditions) if conditions else false()


def contracts(principal: Principal) -> ColumnElement[bool] | None:
    """A predicate on `Contract`: its own institutions' or teams' contracts, and the
    contracts of residents it may see."""
    from hub.contracts.models import Contract
    from hub.registry.models import Resident

    if not principal.bound:
        return None
    if principal.resident_ids:
        return Contract.resident_id.in_(list(principal.resident_ids))
    seen = select(Resident.id).where(residents(principal))  # type: ignore[arg-type]
    conditions = [Contract.resident_id.in_(seen)]
    if principal.organization_ids:
        conditions.append(Contract.organization_id.in_(list(principal.organization_ids)))
    if principal.practitioner_ids:
        conditions.append(Contract.team_id.in_(_practitioner_teams(principal)))
    return or_(*conditions)


def referrals(principal: Principal) -> ColumnElement[bool] | None:
    """A predicate on `Referral`: those to or from its institutions, or of its teams."""
    from hub.referrals.models import Referral

    if not principal.bound:
        return None
    if principal.resident_ids:
        return Referral.resident_id.in_(list(principal.resident_ids))
    conditions: list[ColumnElement[bool]] = []
    if principal.organization_ids:
        orgs = list(principal.organization_ids)
        conditions += [Referral.hospital_id.in_(orgs), Referral.team_organization_id.in_(orgs)]
    if principal.practitioner_ids:
        conditions.append(Referral.team_id.in_(_practitioner_teams(principal)))
    return or_(*conditions) if conditions else false()


async def visible_resident_ids(
    session: AsyncSession, principal: Principal, ids: Iterable[int]
) -> set[int]:
    """Which of `ids` this client may see (one query)."""

    wanted = sorted({int(i) for i in ids})
    if not wanted or not principal.bound:
        return set(wanted)
    if principal.resident_ids:  # a resident-scoped token: no query needed
        return set(wanted) & set(principal.resident_ids)
    hour = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
    stmt = _check_statement(principal, hour, session.bind.dialect.name)
    found = await session.execute(stmt, {"ids": wanted})
    return {row[0] for row in found}


@functools.lru_cache(maxsize=4096)
def _check_statement(principal: Principal, hour: dt.datetime, dialect: str) -> Any:
    """The point check, built once per client and hour (the predicate is a large
    expression; a statement object reused keeps SQLAlchemy's compiled form)."""
    from sqlalchemy import bindparam

    from hub.registry.models import Resident

    cond = _residents(principal, hour)
    return select(Resident.id).where(Resident.id.in_(bindparam("ids", expanding=True)), cond)


async def may_see_resident(session: AsyncSession, principal: Principal, resident_id: int) -> bool:
    return resident_id in await visible_resident_ids(session, principal, [resident_id])


async def may_act_for_team(session: AsyncSession, principal: Principal, team: Any) -> bool:
    """A team's work, contracts and referrals: its institution's clients, its members'."""
    if not principal.bound:
        return True
    if principal.resident_ids:
        return False  # a resident acts for themselves, never for a team
    if team.organization_id in principal.organization_ids:
        return True
    return team.id in await practitioner_team_ids(session, principal)


async def practitioner_team_ids(session: AsyncSession, principal: Principal) -> set[str]:
    if not principal.practitioner_ids:
        return set()
    return set(await session.scalars(_practitioner_teams(principal)))


async def visible_events(
    session: AsyncSession, principal: Principal, events: Sequence[EventLike]
) -> list[EventLike]:
    """The events this client may be told of (a webhook delivery, a subscription push): the
    scope for that kind of thing, then the same rule as reads — an event about a resident
    only if it may see the resident; others when they concern its institutions or teams."""
    from hub.events.webhooks import EVENT_SCOPES

    scoped = [
        e for e in events
        if (scope := EVENT_SCOPES.get(e.aggregate_type)) is None or principal.has(scope)
    ]  # fmt: skip
    if not principal.bound or not scoped:
        return scoped
    residents_of = {id(e): _resident_of(e) for e in scoped}
    seen = await visible_resident_ids(
        session, principal, [r for r in residents_of.values() if r is not None]
    )
    orgs = set() if principal.resident_ids else set(principal.organization_ids)
    teams = await practitioner_team_ids(session, principal) if not principal.resident_ids else set()
    out = []
    for e in scoped:
        rid = residents_of[id(e)]
        if rid is not None:
            ok = rid in seen
        else:
            ok = bool(orgs & set(e.organization_ids)) or e.data.get("team_id") in teams
        if ok:
            out.append(e)
    return out


def _resident_of(event: EventLike) -> int | None:
    raw = (
        event.aggregate_id if event.aggregate_type == "Resident" else event.data.get("resident_id")
    )
    try:
        return int(raw) if raw is not None else None
    except (TypeError, ValueError):
        return None


class EventLike(Protocol):
    aggregate_type: str
    aggregate_id: str
    organization_ids: tuple[str, ...]
    data: dict[str, Any]
