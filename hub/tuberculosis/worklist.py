"""TB_FIRST_VISIT on the team work list: a notified TB patient of the team (signed, or
managed by it) not yet visited; due 72 hours after the notification, OVERDUE after."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.directory.models import Team
from hub.registry.models import Resident
from hub.tuberculosis.service import due_at, first_visits, open_episodes, rules
from hub.worklist.service import WorkItem, WorkItemKind, WorkItemStatus


async def tb_items(session: AsyncSession, team: Team, day: dt.date) -> list[WorkItem]:
    from hub.contracts.models import Contract, ContractStatus

    signed = select(Contract.resident_id).where(
        Contract.team_id == team.id, Contract.status == ContractStatus.ACTIVE
    )
    ids = list(await session.scalars(
        select(Resident.id).where(or_(Resident.team_id == team.id, Resident.id.in_(signed)))
    ))  # fmt: skip
    episodes = await open_episodes(session, ids) if ids else []
    visited = await first_visits(session, episodes)
    now = dt.datetime.combine(day, dt.datetime.now(dt.UTC).time(), dt.UTC)
    stale = dt.timedelta(days=int(rules()["stale_after_days"]))
    out: list[WorkItem] = []
    for e in episodes:
        if e.id in visited or due_at(e) + stale < now:
            continue
        overdue = now > due_at(e)
        out.append(
            WorkItem(
                kind=WorkItemKind.TB_FIRST_VISIT, resident_id=e.resident_id, team_id=team.id,
                status=WorkItemStatus.OVERDUE if overdue else WorkItemStatus.DUE,
                source="cdc", subject_type="EpisodeOfCare", subject_id=f"tb-{e.id}",
                title=str(rules()["title"]), due_on=e.notified_at.date(), due_by=due_at(e).date(),
                since=e.notified_at,
                detail={"notification": e.source_id, "dueAt": due_at(e).isoformat()},
            )
        )  # fmt: skip
    return out
