"""Maternal-child items on the team work list: what the team owes its pregnant and
postpartum residents and its children, by the schedule (hub/maternal/schedule.yaml).

- PRENATAL_VISIT_DUE: the next prenatal visit by gestational week, after the last one;
- POSTPARTUM_VISIT_DUE: within 7 days of the discharge the source reported (OVERDUE after);
- POSTPARTUM_42_DAY_DUE: the 42-day check;
- NEWBORN_VISIT_DUE: the newborn home visit, within 7 days of discharge;
- CHILD_EXAM_DUE: the next child health exam by age in months (to 6 years).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlalchemy.ext.asyncio import AsyncSession

from hub.directory.models import Team
from hub.maternal import repository
from hub.maternal.models import Pregnancy
from hub.maternal.schedule import Schedule, schedule
from hub.worklist.service import WorkItem, WorkItemKind, status_of

DAY = dt.timedelta(days=1)


def _add_months(d: dt.date, months: int) -> dt.date:
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    import calendar

    return dt.date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def _item(
    kind: WorkItemKind,
    resident_id: int,
    team: Team,
    day: dt.date,
    opens: dt.date,
    closes: dt.date,
    s: Schedule,
    subject: tuple[str, str],
    title: str,
    **detail: object,
) -> WorkItem | None:
    if opens > day + dt.timedelta(days=s.look_ahead_days):
        return None
    if day > closes + dt.timedelta(days=s.stale_after_days):
        return None
    return WorkItem(
        kind=kind,
        resident_id=resident_id,
        team_id=team.id,
        status=status_of(day, opens, closes),
        source="maternal",
        subject_type=subject[0],
        subject_id=subject[1],
        title=title,
        due_on=opens,
        due_by=closes,
        detail={k: v for k, v in detail.items() if v is not None},
    )


async def maternal_items(session: AsyncSession, team: Team, day: dt.date) -> list[WorkItem]:
    s = schedule()
    out: list[WorkItem | None] = []
    pregnancies = await repository.team_pregnancies(session, team.id, day)
    visits = defaultdict(list)
    for v in await repository.visits(session, [p.id for p in pregnancies]):
        visits[v.pregnancy_id].append(v)
    for p in pregnancies:
        out += _pregnancy_items(p, visits[p.id], team, day, s)
    births = await repository.team_births(
        session, team.id, dt.datetime.combine(day - dt.timedelta(days=7 * 366), dt.time())
    )
    exams = defaultdict(list)
    for e in await repository.exams(session, [b.child_resident_id for b in births]):
        exams[e.resident_id].append(e)
    discharged = {
        p.id: p.discharged_on
        for p in await repository.pregnancies_by_id(session, [b.pregnancy_id for b in births])
    }
    for b in births:
        done = exams[b.child_resident_id]
        born = b.born_at.date() if b.born_at else None
        if born is None:
            continue
        subject = ("Birth", str(b.id))
        left = discharged.get(b.pregnancy_id)
        if left is not None and not any(e.kind == "newborn_visit" for e in done):
            out.append(
                _item(
                    WorkItemKind.NEWBORN_VISIT_DUE,
                    b.child_resident_id,
                    team,
                    day,
                    left,
                    left + s.newborn_visit_days * DAY,
                    s,
                    subject,
                    "新生儿家庭访视",
                    dischargedOn=left.isoformat(),
                )
            )
        seen = max((e.age_months or 0 for e in done if e.kind == "child_exam"), default=0)
        nxt = next((m for m in s.child_exam_months if m > seen), None)
        if nxt is not None:
            opens = _add_months(born, nxt)
            out.append(
                _item(
                    WorkItemKind.CHILD_EXAM_DUE,
                    b.child_resident_id,
                    team,
                    day,
                    opens,
                    opens + s.child_exam_window_days * DAY,
                    s,
                    subject,
                    f"{nxt}月龄儿童健康检查",
                    ageMonths=nxt,
                )
            )
    return [i for i in out if i is not None]


def _pregnancy_items(
    p: Pregnancy, visits: list, team: Team, day: dt.date, s: Schedule
) -> list[WorkItem | None]:
    subject = ("Pregnancy", str(p.id))
    colour = {"riskColour": p.risk_colour}
    if p.delivered_on is None:
        if p.lmp is None:
            return []
        seen = max(
            (v.gestational_week or 0 for v in visits if v.kind == "prenatal_visit"),
            default=p.registered_week or 0,
        )
        week = next((w for w in s.prenatal_weeks if w > seen), None)
        if week is None:
            return []
        opens = p.lmp + dt.timedelta(weeks=week)
        return [
            _item(
                WorkItemKind.PRENATAL_VISIT_DUE,
                p.resident_id,
                team,
                day,
                opens,
                opens + (s.prenatal_window_days - 1) * DAY,
                s,
                subject,
                f"孕{week}周产前随访",
                gestationalWeek=week,
                **colour,
            )
        ]
    out: list[WorkItem | None] = []
    kinds = {v.kind for v in visits}
    if p.discharged_on is not None and "postpartum_visit" not in kinds:
        out.append(
            _item(
                WorkItemKind.POSTPARTUM_VISIT_DUE,
                p.resident_id,
                team,
                day,
                p.discharged_on,
                p.discharged_on + s.postpartum_visit_days * DAY,
                s,
                subject,
                "产后访视（出院后7天内）",
                dischargedOn=p.discharged_on.isoformat(),
                **colour,
            )
        )
    if "postpartum_42day" not in kinds:
        opens = p.delivered_on + s.check_42_opens_days * DAY
        out.append(
            _item(
                WorkItemKind.POSTPARTUM_42_DAY_DUE,
                p.resident_id,
                team,
                day,
                opens,
                opens + (s.check_42_window_days - 1) * DAY,
                s,
                subject,
                "产后42天健康检查",
                deliveredOn=p.delivered_on.isoformat(),
            )
        )
    return out
