"""One work list per team: every kind of open item — a resident handed back by a hospital,
a prenatal or postpartum visit due, a vaccination due, a TB patient to visit — is a
`WorkItem` of one list, not a parallel list per source.

Each domain contributes its kinds through a provider (`hub/worklist/providers.py` lists
them): given the team and a day, the open items. The list is filtered by the one access
policy (the residents the caller may see) and ordered by urgency.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from hub.access import policy
from hub.access.principal import Principal, Scope
from hub.directory.models import Team
from hub.errors import MissingScope, NotFound


class WorkItemKind(StrEnum):
    """What the team has to do. Domains add their kinds here, one list for all."""

    REFERRAL_FOLLOW_UP = "REFERRAL_FOLLOW_UP"  # handed back by a hospital (下转), not closed
    PRENATAL_VISIT_DUE = "PRENATAL_VISIT_DUE"  # 产前随访 by gestational week
    POSTPARTUM_VISIT_DUE = "POSTPARTUM_VISIT_DUE"  # 产后访视 within 7 days of discharge
    POSTPARTUM_42_DAY_DUE = "POSTPARTUM_42_DAY_DUE"  # 产后42天健康检查
    NEWBORN_VISIT_DUE = "NEWBORN_VISIT_DUE"  # 新生儿家庭访视 within 7 days of discharge
    CHILD_EXAM_DUE = "CHILD_EXAM_DUE"  # 0-6岁儿童健康检查 by age in months
    APPOINTMENT_TODAY = "APPOINTMENT_TODAY"  # 分时段预约: a booked visit today
    IMMUNIZATION_DUE = "IMMUNIZATION_DUE"  # 预防接种: the next dose of a series is due
    IMMUNIZATION_OVERDUE = "IMMUNIZATION_OVERDUE"  # past its due-by date, to be caught up
    TB_FIRST_VISIT = "TB_FIRST_VISIT"  # 肺结核患者第一次入户随访, within 72 h of notification


class WorkItemStatus(StrEnum):
    UPCOMING = "UPCOMING"  # not yet due (inside the look-ahead window)
    DUE = "DUE"  # due now: the window is open
    OVERDUE = "OVERDUE"  # the window has passed without it


@dataclass(frozen=True, slots=True)
class WorkItem:
    kind: WorkItemKind
    resident_id: int
    team_id: str
    status: WorkItemStatus
    source: str  # where the need comes from: "referral", "maternal", "immunization", …
    subject_type: str  # what it is about, e.g. "Referral", "Pregnancy", "Immunization"
    subject_id: str
    title: str  # what to do, in a few words (Chinese, as a team reads it)
    due_on: dt.date | None = None
    due_by: dt.date | None = None  # the end of the window (OVERDUE after it)
    since: dt.datetime | None = None
    detail: dict[str, Any] = field(default_factory=dict)  # codes and ids, no personal data
    # The scope that reading this kind needs (besides seeing the resident).
    scope: str = Scope.RESIDENTS_READ


Provider = Callable[[AsyncSession, Team, dt.date], Awaitable[list[WorkItem]]]

_ORDER = {WorkItemStatus.OVERDUE: 0, WorkItemStatus.DUE: 1, WorkItemStatus.UPCOMING: 2}


async def team_items(
    session: AsyncSession,
    principal: Principal,
    team_id: str,
    *,
    as_of: dt.date | None = None,
    kinds: Sequence[str] | None = None,
    statuses: Sequence[str] | None = None,
) -> list[WorkItem]:
    """The team's open items the caller may see, most urgent first."""
    from hub.worklist.providers import PROVIDERS

    if not (principal.has(Scope.RESIDENTS_READ) or principal.has(Scope.REFERRALS_READ)):
        raise MissingScope(Scope.RESIDENTS_READ)
    team = await session.get(Team, team_id)
    if team is None or not await policy.may_act_for_team(session, principal, team):
        raise NotFound(f"No team {team_id} visible to this client.", field="teamId")
    day = as_of or dt.date.today()
    items: list[WorkItem] = []
    for provide in PROVIDERS:
        items += await provide(session, team, day)
    items = [
        i for i in items
        if principal.has(i.scope)
        and (not kinds or i.kind in kinds)
        and (not statuses or i.status in statuses)
    ]  # fmt: skip
    seen = await policy.visible_resident_ids(session, principal, [i.resident_id for i in items])
    items = [i for i in items if i.resident_id in seen]
    far = dt.date.max
    return sorted(items, key=lambda i: (_ORDER[i.status], i.due_on or far, i.kind, i.subject_id))


def status_of(day: dt.date, opens: dt.date, closes: dt.date | None) -> WorkItemStatus:
    """The status of an item whose window runs from `opens` to `closes` (inclusive)."""
    if day < opens:
        return WorkItemStatus.UPCOMING
    if closes is not None and day > closes:
        return WorkItemStatus.OVERDUE
    return WorkItemStatus.DUE
