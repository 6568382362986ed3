"""The team's booked visits of the day on its work list (APPOINTMENT_TODAY)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from hub.appointments import repository
from hub.appointments.service import LOCAL, local_day
from hub.directory.models import Team
from hub.worklist.service import WorkItem, WorkItemKind, WorkItemStatus

TITLES = {"GENERAL": "预约门诊", "CHRONIC_FOLLOW_UP": "慢病随访预约", "CHILD_CARE": "儿童保健预约",
          "VACCINATION": "预防接种预约", "HEALTH_CHECK": "健康体检预约"}  # fmt: skip


async def appointment_items(session: AsyncSession, team: Team, day: dt.date) -> list[WorkItem]:
    start, end = local_day(day)
    out = []
    for a in await repository.booked_between(session, team.id, start, end):
        at = a.start_at if a.start_at.tzinfo else a.start_at.replace(tzinfo=dt.UTC)
        out.append(WorkItem(
            kind=WorkItemKind.APPOINTMENT_TODAY, resident_id=a.resident_id, team_id=team.id,
            status=WorkItemStatus.DUE, source="appointments", subject_type="Appointment",
            subject_id=str(a.id), title=TITLES.get(a.service_kind, "预约门诊"), due_on=day,
            due_by=day, since=a.booked_at,
            detail={"start": at.astimezone(LOCAL).strftime("%H:%M"),
                    "serviceKind": a.service_kind}))  # fmt: skip
    return out
