"""Evaluation and forecast against the national schedule (预防接种评估与预测): a pure function.

Given a birth date, the doses given and a date, `forecast` says for each dose whether it
counts (a dose before its minimum age or interval does not, and is repeated) and for each
series the next dose with its status, earliest date and due-by date. Every rule is read
from the schedule data (`hub/immunization/schedule.py`); no database, no clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from hub.immunization.schedule import DoseRule, DueBy, Duration, Schedule, Series, load_schedule


class Status(StrEnum):
    NOT_DUE = "NOT_DUE"
    DUE = "DUE"
    OVERDUE = "OVERDUE"
    COMPLETE = "COMPLETE"
    AGED_OUT = "AGED_OUT"


class Reason(StrEnum):
    BEFORE_MINIMUM_AGE = "BEFORE_MINIMUM_AGE"
    INTERVAL_TOO_SHORT = "INTERVAL_TOO_SHORT"
    LIVE_VACCINE_INTERVAL = "LIVE_VACCINE_INTERVAL"
    WRONG_PRODUCT = "WRONG_PRODUCT"
    SERIES_COMPLETE = "SERIES_COMPLETE"
    AGED_OUT = "AGED_OUT"


@dataclass(frozen=True)
class GivenDose:
    vaccine: str  # the schedule's abbreviation: HepB, IPV, JE-L, ...
    date: dt.date


@dataclass(frozen=True)
class Evaluation:
    vaccine: str
    date: dt.date
    series: str
    dose_number: int | None
    valid: bool
    reason: Reason | None = None
    message: str | None = None


@dataclass(frozen=True)
class Recommendation:
    series: str
    next_dose: int | None
    status: Status
    earliest_on: dt.date | None
    due_by: dt.date | None
    products: tuple[str, ...] = ()
    valid_doses: int = 0


@dataclass(frozen=True)
class Forecast:
    birth_date: dt.date
    as_of: dt.date
    schedule_version: str
    evaluations: tuple[Evaluation, ...]
    recommendations: tuple[Recommendation, ...]

    def to_json(self) -> dict[str, Any]:
        """The `hub immunization forecast` output."""
        return {
            "evaluations": [
                {
                    "vaccine": e.vaccine,
                    "date": e.date.isoformat(),
                    "doseNumber": e.dose_number,
                    "valid": e.valid,
                    "reason": e.reason.value if e.reason else None,
                    "message": e.message,
                }
                for e in self.evaluations
            ],
            "forecast": [
                {
                    "series": r.series,
                    "nextDose": r.next_dose,
                    "status": r.status.value,
                    "earliestOn": r.earliest_on.isoformat() if r.earliest_on else None,
                    "dueBy": r.due_by.isoformat() if r.due_by else None,
                }
                for r in self.recommendations
            ],
        }


@dataclass
class _SeriesState:
    path: int | None = None  # index into Series.paths, chosen by the first valid dose
    valid: list[tuple[dt.date, str]] = field(default_factory=list)  # (date, product)


@dataclass(frozen=True)
class _Slot:
    """What the next dose of a series needs at a given date."""

    dose: int
    products: tuple[str, ...]
    earliest: dt.date
    due_by: dt.date
    why: dict[dt.date, tuple[Reason, Callable[[], str]]]  # constraint date -> its reason


def _complete_in(series: Series, state: _SeriesState) -> bool:
    path = series.paths[state.path or 0]
    return len(state.valid) >= len(path.doses)


class _Engine:
    def __init__(self, schedule: Schedule, birth: dt.date) -> None:
        self.schedule = schedule
        self.birth = birth
        self.states = {name: _SeriesState() for name in schedule.series}
        self.given: list[tuple[dt.date, str]] = []  # every dose given so far (for live vaccines)

    def age(self, duration: Duration) -> dt.date:
        return duration.after(self.birth)

    def slot(self, series: Series, at: dt.date, product: str | None) -> _Slot | None:
        """The next dose's rule at `at` (None: the series is complete)."""
        state = self.states[series.name]
        regime = series.from_age
        if regime is not None and at >= self.age(regime.age):
            return self._regime_slot(series, state, at)
        path_index = state.path
        if path_index is None:
            path_index = 0
            if product is not None:
                for index, path in enumerate(series.paths):
                    if product in path.doses[0].products:
                        path_index = index
                        break
        path = series.paths[path_index]
        if len(state.valid) >= len(path.doses):
            return None
        rule = path.doses[len(state.valid)]
        return self._rule_slot(series, state, rule, at)

    def _rule_slot(self, series: Series, state: _SeriesState, rule: DoseRule, at: dt.date) -> _Slot:
        # Messages are built only for a dose that fails (lazily): this runs per dose per child.
        min_age = rule.min_age
        skip_series: str | None = None
        extra: list[tuple[dt.date, Callable[[], str]]] = []
        alt = rule.when_incomplete
        if alt is not None:
            other = self.schedule.series[alt.series]
            other_state = self.states[alt.series]
            if not _complete_in(other, other_state) and at >= self.age(other.aged_out):
                min_age, skip_series = alt.min_age, alt.series
                if other_state.valid:
                    last = other_state.valid[-1][0]
                    text = lambda a=alt: f"{a.after_last} after the last {a.series}"  # noqa: E731
                    extra.append((alt.after_last.after(last), text))
        earliest = self.age(min_age)
        why: dict[dt.date, tuple[Reason, Callable[[], str]]] = {
            earliest: (
                Reason.BEFORE_MINIMUM_AGE,
                lambda m=min_age, e=earliest: (
                    f"{series.name} dose {rule.dose} is given from the age of {m} ({e})"
                ),
            )
        }
        for interval in rule.intervals:
            if interval.series is not None and interval.series == skip_series:
                continue
            doses = self.states[interval.series].valid if interval.series else state.valid
            if len(doses) < interval.from_dose:
                continue
            base = doses[interval.from_dose - 1][0]
            extra.append((interval.minimum.after(base),
                          lambda i=interval, b=base: f"{i.minimum} after {i.series or series.name} "
                          f"dose {i.from_dose} ({b})"))  # fmt: skip
        for when, text in extra:
            if when > earliest:
                earliest = when
            if when not in why:
                message = lambda t=text: f"{series.name} {rule.dose}: at least {t()}"  # noqa: E731
                why[when] = (Reason.INTERVAL_TOO_SHORT, message)
        return _Slot(rule.dose, rule.products, earliest, rule.due_by.last_day(self.birth), why)

    def _regime_slot(self, series: Series, state: _SeriesState, at: dt.date) -> _Slot | None:
        regime = series.from_age
        assert regime is not None
        start = self.age(regime.age)
        before = sum(1 for day, _ in state.valid if day < start)
        catch_up = before < regime.complete_to
        target = regime.complete_to if catch_up else before + 1
        count = len(state.valid)
        if count >= target:
            return None
        dose = count + 1
        why: dict[dt.date, tuple[Reason, Callable[[], str]]] = {
            start: (
                Reason.BEFORE_MINIMUM_AGE,
                lambda: f"{series.name}: {'/'.join(regime.products)} from {regime.age}",
            )  # fmt: skip
        }
        earliest = start
        interval = regime.intervals.get(dose) if catch_up else regime.booster_interval
        if interval is not None and state.valid:
            when = interval.after(state.valid[-1][0])
            if when not in why:
                gap = lambda: f"{series.name} {dose}: at least {interval} after {count}"  # noqa: E731
                why[when] = (Reason.INTERVAL_TOO_SHORT, gap)
            earliest = max(earliest, when)
        standard = series.paths[0].doses
        due: DueBy = (
            standard[min(dose, len(standard)) - 1].due_by if catch_up else regime.booster_due_by
        )
        return _Slot(dose, regime.products, earliest, due.last_day(self.birth), why)

    def live_block(self, product: str, day: dt.date) -> tuple[dt.date, str] | None:
        """The last live injected dose too close before `day`, if `product` is one."""
        if product not in self.schedule.live_injected:
            return None
        for given_on, other in reversed(self.given):
            if other in self.schedule.live_injected and given_on < day:
                if self.schedule.live_interval.after(given_on) > day:
                    return given_on, other
                return None
        return None

    def evaluate(self, dose: GivenDose) -> Evaluation:
        series = self.schedule.series[self.schedule.vaccines[dose.vaccine]]
        state = self.states[series.name]
        try:
            return self._evaluate(series, state, dose)
        finally:
            self.given.append((dose.date, dose.vaccine))

    def _evaluate(self, series: Series, state: _SeriesState, dose: GivenDose) -> Evaluation:
        def invalid(number: int | None, reason: Reason, message: str) -> Evaluation:
            return Evaluation(dose.vaccine, dose.date, series.name, number, False, reason, message)

        slot = self.slot(series, dose.date, dose.vaccine)
        if slot is None:
            return invalid(
                None, Reason.SERIES_COMPLETE, f"the {series.name} series was already complete"
            )
        if dose.date >= self.age(series.aged_out):
            return invalid(
                slot.dose,
                Reason.AGED_OUT,
                f"{series.name} is not given from the age of {series.aged_out}",
            )
        if dose.vaccine not in slot.products:
            return invalid(
                slot.dose,
                Reason.WRONG_PRODUCT,
                f"{series.name} dose {slot.dose} on {dose.date} takes "
                f"{'/'.join(slot.products)}, not {dose.vaccine}",
            )
        if dose.date < slot.earliest:
            binding = max((d for d in slot.why if d > dose.date), default=None)
            if binding is None:
                return invalid(slot.dose, Reason.INTERVAL_TOO_SHORT, "too early")
            reason, text = slot.why[binding]
            return invalid(slot.dose, reason, text())
        blocked = self.live_block(dose.vaccine, dose.date)
        if blocked is not None:
            return invalid(
                slot.dose,
                Reason.LIVE_VACCINE_INTERVAL,
                f"live vaccines not given the same day need {self.schedule.live_interval} apart "
                f"({blocked[1]} on {blocked[0]})",
            )
        if state.path is None:
            state.path = next(
                (i for i, p in enumerate(series.paths) if dose.vaccine in p.doses[0].products), 0
            )
        state.valid.append((dose.date, dose.vaccine))
        return Evaluation(dose.vaccine, dose.date, series.name, slot.dose, True)

    def recommend(self, series: Series, as_of: dt.date) -> Recommendation:
        state = self.states[series.name]
        count = len(state.valid)
        slot = self.slot(series, as_of, None)
        if slot is None:
            return Recommendation(series.name, None, Status.COMPLETE, None, None, (), count)
        earliest = slot.earliest
        for product in slot.products[:1]:
            for given_on, other in reversed(self.given):
                if product in self.schedule.live_injected and other in self.schedule.live_injected:
                    earliest = max(earliest, self.schedule.live_interval.after(given_on))
                    break
        aged_out = self.age(series.aged_out)
        if as_of >= aged_out or earliest >= aged_out:
            return Recommendation(
                series.name, slot.dose, Status.AGED_OUT, None, None, slot.products, count
            )
        if as_of < earliest:
            status = Status.NOT_DUE
        elif as_of <= slot.due_by:
            status = Status.DUE
        else:
            status = Status.OVERDUE
        return Recommendation(
            series.name, slot.dose, status, earliest, slot.due_by, slot.products, count
        )


class ForecastInputError(ValueError):
    """Bad forecast input; `field` names the offending field (e.g. `doses[2].date`)."""

    code = "INVALID_FORECAST_INPUT"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def forecast(
    birth_date: dt.date,
    doses: Iterable[GivenDose],
    as_of: dt.date,
    *,
    schedule: Schedule | None = None,
) -> Forecast:
    """Evaluate `doses` and forecast every series at `as_of` (doses after `as_of` are ignored)."""
    schedule = schedule or load_schedule()
    engine = _Engine(schedule, birth_date)
    indexed = list(enumerate(doses))
    for index, dose in indexed:
        if dose.vaccine not in schedule.vaccines:
            raise ForecastInputError(f"doses[{index}].vaccine", f"unknown vaccine {dose.vaccine!r}")
        if dose.date < birth_date:
            raise ForecastInputError(
                f"doses[{index}].date", f"{dose.date} is before the birth date"
            )
    results: dict[int, Evaluation] = {}
    for index, dose in sorted(indexed, key=lambda pair: (pair[1].date, pair[0])):
        if dose.date > as_of:
            continue
        results[index] = engine.evaluate(dose)
    evaluations = tuple(results[i] for i, _ in indexed if i in results)
    recommendations = tuple(engine.recommend(s, as_of) for s in schedule.series.values())
    return Forecast(birth_date, as_of, schedule.version, evaluations, recommendations)


def _date(value: Any, name: str) -> dt.date:
    if not isinstance(value, str):
        raise ForecastInputError(name, "expected a date as YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ForecastInputError(name, f"{value!r} is not a date (YYYY-MM-DD)") from None


def parse_request(
    raw: Any, *, schedule: Schedule | None = None, today: dt.date | None = None
) -> tuple[dt.date, list[GivenDose], dt.date]:
    """`{"birthDate", "asOf", "doses": [{"vaccine", "date"}]}` -> forecast arguments."""
    schedule = schedule or load_schedule()
    if not isinstance(raw, dict):
        raise ForecastInputError("(input)", "expected a JSON object")
    if "birthDate" not in raw:
        raise ForecastInputError("birthDate", "required")
    birth = _date(raw["birthDate"], "birthDate")
    if raw.get("asOf") is None:
        if today is None:
            raise ForecastInputError("asOf", "required")
        as_of = today
    else:
        as_of = _date(raw["asOf"], "asOf")
    if as_of < birth:
        raise ForecastInputError("asOf", f"{as_of} is before the birth date {birth}")
    items = raw.get("doses", [])
    if not isinstance(items, Sequence) or isinstance(items, str):
        raise ForecastInputError("doses", "expected a list of {vaccine, date}")
    doses: list[GivenDose] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise ForecastInputError(f"doses[{index}]", "expected an object {vaccine, date}")
        vaccine = item.get("vaccine")
        if not isinstance(vaccine, str) or vaccine not in schedule.vaccines:
            known = ", ".join(schedule.vaccines)
            raise ForecastInputError(
                f"doses[{index}].vaccine", f"unknown vaccine {vaccine!r} (one of {known})"
            )
        if "date" not in item:
            raise ForecastInputError(f"doses[{index}].date", "required")
        day = _date(item["date"], f"doses[{index}].date")
        if day < birth:
            raise ForecastInputError(
                f"doses[{index}].date", f"{day} is before the birth date {birth}"
            )
        if day > as_of:
            raise ForecastInputError(f"doses[{index}].date", f"{day} is after asOf {as_of}")
        doses.append(GivenDose(vaccine, day))
    return birth, doses, as_of
