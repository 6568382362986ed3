"""The maternal-child schedule (hub/maternal/schedule.yaml) as typed values."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml


@dataclass(frozen=True, slots=True)
class Schedule:
    version: str
    postpartum_days: int
    overdue_pregnancy_days: int
    prenatal_weeks: tuple[int, ...]
    prenatal_window_days: int
    postpartum_visit_days: int
    newborn_visit_days: int
    check_42_opens_days: int
    check_42_window_days: int
    child_exam_months: tuple[int, ...]
    child_exam_window_days: int
    look_ahead_days: int
    stale_after_days: int


@cache
def schedule() -> Schedule:
    with (Path(__file__).parent / "schedule.yaml").open(encoding="utf-8") as f:
        d = yaml.safe_load(f)
    d["version"] = str(d["version"])
    d["prenatal_weeks"] = tuple(d["prenatal_weeks"])
    d["child_exam_months"] = tuple(d["child_exam_months"])
    return Schedule(**d)
