"""The national immunization schedule (国家免疫规划疫苗儿童免疫程序), loaded from data.

The rules live in `mappings/immunization/schedule-2021.yaml`; this module only reads them
into typed, immutable objects for `forecast.py`. Nothing here imports the database.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

SCHEDULE_DIR = Path(__file__).resolve().parents[2] / "mappings" / "immunization"
DEFAULT_SCHEDULE = SCHEDULE_DIR / "schedule-2021.yaml"

_DURATION = re.compile(r"^(\d+)([dmy])$")


@dataclass(frozen=True)
class Duration:
    """An age or an interval: N days, N calendar months or N years."""

    amount: int
    unit: str  # "d", "m", "y"

    @classmethod
    def parse(cls, text: str) -> Duration:
        match = _DURATION.match(str(text).strip())
        if not match:
            raise ValueError(f"not a duration: {text!r} (expected e.g. 28d, 6m, 3y)")
        return cls(int(match.group(1)), match.group(2))

    def after(self, day: dt.date) -> dt.date:
        return _after(self.amount, self.unit, day)

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"


@lru_cache(maxsize=1 << 18)  # ages and intervals repeat across a population: hot in the recompute
def _after(amount: int, unit: str, day: dt.date) -> dt.date:
    if unit == "d":
        return day + dt.timedelta(days=amount)
    return add_months(day, amount * (12 if unit == "y" else 1))


def add_months(day: dt.date, months: int) -> dt.date:
    """`day` plus calendar months; the 31st of a shorter month is its last day."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))


@dataclass(frozen=True)
class DueBy:
    """When a dose should be complete: `before` an age, or `within` a time of birth."""

    before: Duration | None = None
    within: Duration | None = None

    def last_day(self, birth: dt.date) -> dt.date:
        if self.within is not None:
            return self.within.after(birth)
        assert self.before is not None
        return self.before.after(birth) - dt.timedelta(days=1)


@dataclass(frozen=True)
class Interval:
    """At least `minimum` after dose `from_dose` of `series` (None: the same series)."""

    from_dose: int
    minimum: Duration
    series: str | None = None


@dataclass(frozen=True)
class WhenIncomplete:
    """An earlier start when another series is incomplete and no longer caught up."""

    series: str
    min_age: Duration
    after_last: Duration


@dataclass(frozen=True)
class DoseRule:
    dose: int
    products: tuple[str, ...]
    min_age: Duration
    due_by: DueBy
    intervals: tuple[Interval, ...] = ()
    when_incomplete: WhenIncomplete | None = None


@dataclass(frozen=True)
class Path_:
    name: str
    doses: tuple[DoseRule, ...]


@dataclass(frozen=True)
class FromAge:
    """A change of regime from an age (DTaP -> DT from 6 years)."""

    age: Duration
    products: tuple[str, ...]
    complete_to: int
    intervals: dict[int, Duration]
    booster_interval: Duration
    booster_due_by: DueBy


@dataclass(frozen=True)
class Series:
    name: str
    label: str
    paths: tuple[Path_, ...]
    aged_out: Duration
    from_age: FromAge | None = None


@dataclass(frozen=True)
class Schedule:
    version: str
    title: str
    vaccines: dict[str, str]  # abbreviation -> series
    vaccine_names: dict[str, str]
    series: dict[str, Series]  # in output order
    live_injected: frozenset[str]
    live_interval: Duration
    catch_up_before: Duration
    notes: tuple[str, ...] = field(default=())


def _due_by(raw: dict[str, Any]) -> DueBy:
    if "within" in raw:
        return DueBy(within=Duration.parse(raw["within"]))
    return DueBy(before=Duration.parse(raw["before"]))


def _dose(raw: dict[str, Any]) -> DoseRule:
    intervals = tuple(
        Interval(int(i["from"]), Duration.parse(i["min"]), i.get("series"))
        for i in raw.get("intervals", [])
    )
    incomplete = raw.get("when_incomplete")
    return DoseRule(
        dose=int(raw["dose"]),
        products=tuple(raw["products"]),
        min_age=Duration.parse(raw["min_age"]),
        due_by=_due_by(raw["due_by"]),
        intervals=intervals,
        when_incomplete=WhenIncomplete(
            incomplete["series"],
            Duration.parse(incomplete["min_age"]),
            Duration.parse(incomplete["after_last"]),
        )
        if incomplete
        else None,
    )


def parse_schedule(raw: dict[str, Any]) -> Schedule:
    catch_up = Duration.parse(raw["catch_up_before"])
    series: dict[str, Series] = {}
    for name, body in raw["series"].items():
        from_age = body.get("from_age")
        series[name] = Series(
            name=name,
            label=body.get("name", name),
            paths=tuple(
                Path_(p["name"], tuple(_dose(d) for d in p["doses"])) for p in body["paths"]
            ),
            aged_out=Duration.parse(body["aged_out"]) if "aged_out" in body else catch_up,
            from_age=FromAge(
                age=Duration.parse(from_age["age"]),
                products=tuple(from_age["products"]),
                complete_to=int(from_age["complete_to"]),
                intervals={int(k): Duration.parse(v) for k, v in from_age["intervals"].items()},
                booster_interval=Duration.parse(from_age["booster_interval"]),
                booster_due_by=_due_by(from_age["booster_due_by"]),
            )
            if from_age
            else None,
        )
    vaccines = {abbr: v["series"] for abbr, v in raw["vaccines"].items()}
    for abbr, target in vaccines.items():
        if target not in series:
            raise ValueError(f"vaccine {abbr} names an unknown series {target}")
    return Schedule(
        version=str(raw["version"]),
        title=raw.get("title", ""),
        vaccines=vaccines,
        vaccine_names={abbr: v.get("name", abbr) for abbr, v in raw["vaccines"].items()},
        series=series,
        live_injected=frozenset(raw.get("live_injected", [])),
        live_interval=Duration.parse(raw.get("live_interval", "28d")),
        catch_up_before=catch_up,
        notes=tuple(raw.get("notes", [])),
    )


@lru_cache(maxsize=4)
def load_schedule(path: str | None = None) -> Schedule:
    """The schedule from a data file (default: the 2021 national schedule)."""
    source = Path(path) if path else DEFAULT_SCHEDULE
    with source.open(encoding="utf-8") as handle:
        return parse_schedule(yaml.safe_load(handle))
