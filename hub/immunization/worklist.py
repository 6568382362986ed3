"""Immunization items on the team work list: for each signed child 0-6, each series whose
next dose is due (IMMUNIZATION_DUE: from its earliest date to its due-by date, UPCOMING
shortly before) or overdue (IMMUNIZATION_OVERDUE: past due-by, still to be caught up).
Rules from the schedule (forecast.py) and mappings/immunization/worklist.yaml."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.ext.asyncio import AsyncSession

from hub.directory.models import Team
from hub.immunization import repository
from hub.immunization.forecast import Status
from hub.immunization.service import forecasts
from hub.worklist.service import WorkItem, WorkItemKind, WorkItemStatus

RULES = Path(__file__).resolve().parents[2] / "mappings" / "immunization" / "worklist.yaml"


@lru_cache(maxsize=1)
def rules() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return data


async def immunization_items(session: AsyncSession, team: Team, day: dt.date) -> list[WorkItem]:
    r = rules()
    children = await repository.team_children(session, team.id, day, int(r["max_age_years"]))
    limit = {rid: _years_after(born, int(r["max_age_years"])) for rid, born in children}
    children = [(rid, born) for rid, born in children if day < limit[rid]]
    ahead = dt.timedelta(days=int(r["look_ahead_days"]))
    out: list[WorkItem] = []
    for rid, result in (await forecasts(session, children, day)).items():
        for rec in result.recommendations:
            if rec.next_dose is None or rec.earliest_on is None:
                continue  # complete or aged out
            if rec.status is Status.OVERDUE:
                kind, status = WorkItemKind.IMMUNIZATION_OVERDUE, WorkItemStatus.OVERDUE
            elif rec.status is Status.DUE:
                kind, status = WorkItemKind.IMMUNIZATION_DUE, WorkItemStatus.DUE
            elif rec.earliest_on - day <= ahead:
                kind, status = WorkItemKind.IMMUNIZATION_DUE, WorkItemStatus.UPCOMING
            else:
                continue
            out.append(
                WorkItem(
                    kind=kind,
                    resident_id=rid,
                    team_id=team.id,
                    status=status,
                    source="immunization",
                    subject_type="ImmunizationRecommendation",
                    subject_id=f"{rid}:{rec.series}:{rec.next_dose}",
                    title=r["titles"][kind.value].format(series=rec.series, dose=rec.next_dose),
                    due_on=rec.earliest_on,
                    due_by=rec.due_by,
                    detail={
                        "series": rec.series,
                        "dose": rec.next_dose,
                        "vaccines": list(rec.products),
                        "schedule": result.schedule_version,
                    },
                )
            )
    return out


def _years_after(born: dt.date, years: int) -> dt.date:
    try:
        return born.replace(year=born.year + years)
    except ValueError:  # 29 February
        return born.replace(year=born.year + years, day=28)
