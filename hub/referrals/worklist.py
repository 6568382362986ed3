"""Referrals on the team work list: residents handed back by a hospital (下转) that the team
has not closed yet."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from hub.access.principal import Scope
from hub.directory.models import Team
from hub.referrals import repository
from hub.worklist.service import WorkItem, WorkItemKind, WorkItemStatus


async def referral_items(session: AsyncSession, team: Team, day: dt.date) -> list[WorkItem]:
    return [
        WorkItem(
            kind=WorkItemKind.REFERRAL_FOLLOW_UP,
            resident_id=r.resident_id,
            team_id=team.id,
            status=WorkItemStatus.DUE,
            source="referral",
            subject_type="Referral",
            subject_id=str(r.id),
            title="下转患者接续管理",
            due_on=r.updated_at.date(),
            since=r.updated_at,
            detail={"referralId": r.id, "status": str(r.status), "diagnosisCode": r.diagnosis_code},
            scope=Scope.REFERRALS_READ,
        )
        for r in await repository.open_down_referrals(session, team.id)
    ]
