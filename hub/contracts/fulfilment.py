"""Fulfilment (履约): required versus delivered services, per item and window.

Given the items of a contract, its period and what was delivered, say for each item and
each contract year (or quarter, or triggering event) how many were required, how many
were done, and whether the rest is due or overdue as of a date. Pure: the caller reads
deliveries and events from the records domain.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from hub.contracts.lifecycle import ONE_DAY, Period, period_end
from hub.contracts.policy import Package, PackageItem, RegionPolicy
from hub.contracts.terms import (
    Duration,
    DurationUnit,
    FrequencyKind,
    PackageKind,
    PopulationCategory,
)

_YEAR = Duration(1, DurationUnit.YEAR)
_QUARTER = Duration(3, DurationUnit.MONTH)


@dataclass(frozen=True, slots=True)
class Delivery:
    """One delivered service: the item code and when (a date, or a time when it matters)."""

    item_code: str
    at: dt.date | dt.datetime


@dataclass(frozen=True, slots=True)
class TriggerEvent:
    """An event that starts a "within N hours" clock (e.g. TB_NOTIFICATION)."""

    event: str
    at: dt.datetime


class ItemStatus(StrEnum):
    MET = "MET"
    DUE = "DUE"
    OVERDUE = "OVERDUE"
    ON_DEMAND = "ON_DEMAND"  # no minimum; counted only
    BY_SCHEDULE = "BY_SCHEDULE"  # follows a schedule measured elsewhere (immunization, pregnancy)


@dataclass(frozen=True, slots=True)
class ItemProgress:
    item_code: str
    window_start: dt.date | dt.datetime
    window_end: dt.date | dt.datetime  # inclusive; for events, the deadline
    required: int | None
    done: int
    status: ItemStatus
    trigger: str | None = None

    @property
    def remaining(self) -> int:
        return max((self.required or 0) - self.done, 0)


def contract_items(
    policy: RegionPolicy,
    package_codes: Iterable[str],
    categories: Collection[PopulationCategory],
    chosen_items: Collection[str] | None = None,
) -> list[PackageItem]:
    """The items this resident is owed: signed packages and the packages they include,
    their bundled tier modules for the resident's populations, items aimed at the
    resident's groups, chosen items of "k 选 n" groups. An item code appears once."""
    cats = set(categories)
    out: dict[str, PackageItem] = {}
    for pkg in _packages_owed(policy, package_codes, cats):
        in_groups = {c for g in pkg.choice_groups for c in g.items}
        for it in pkg.items:
            if it.applies_to_categories and not cats & set(it.applies_to_categories):
                continue
            if it.code in in_groups and chosen_items is not None and it.code not in chosen_items:
                continue
            out.setdefault(it.code, it)
    return list(out.values())


def _packages_owed(
    policy: RegionPolicy, package_codes: Iterable[str], cats: set[PopulationCategory]
) -> list[Package]:
    codes = set(package_codes)
    # A higher tier includes the services of the lower ones (温州: 定制型 ⊃ 改善型 ⊃ 基本型).
    pending = list(codes)
    while pending:
        for inc in policy.package(pending.pop()).includes:
            if inc not in codes:
                codes.add(inc)
                pending.append(inc)
    packages = [p for p in policy.packages if p.code in codes]
    packages += [
        t
        for t in policy.packages
        if t.kind is PackageKind.TIER
        and t.code not in codes
        and codes & set(t.bundled_in)
        and (not t.eligibility.categories_any or cats & set(t.eligibility.categories_any))
    ]
    return packages


def service_item(
    policy: RegionPolicy,
    package_codes: Iterable[str],
    categories: Collection[PopulationCategory],
    *,
    service: str,
    category: PopulationCategory | None = None,
) -> PackageItem | None:
    """The contract item that delivers ``service`` (e.g. ``follow_up``) for ``category``.

    An item aimed at the category (by its own groups or its tier module's) wins over a
    general one (吉林: every signed resident's face-to-face follow-up).
    """
    cats = set(categories)
    general: PackageItem | None = None
    for pkg in _packages_owed(policy, package_codes, cats):
        for it in pkg.items:
            if it.service != service:
                continue
            aimed = set(it.applies_to_categories) or set(pkg.eligibility.categories_any)
            if not aimed:
                general = general or it
            elif category is not None and category in aimed and category in cats:
                return it
    return general


def _windows(period: Period, length: Duration, as_of: dt.date) -> list[Period]:
    """Consecutive windows of ``length`` from the period start, those begun by ``as_of``."""
    out, start = [], period.start
    while start <= period.end and start <= as_of:
        end = min(period_end(start, length), period.end)
        out.append(Period(start, end))
        start = end + ONE_DAY
    return out


def _day(at: dt.date | dt.datetime) -> dt.date:
    return at.date() if isinstance(at, dt.datetime) else at


def _counted(
    item: PackageItem, deliveries: Sequence[Delivery], toward: Mapping[str, tuple[str, ...]]
) -> list[Delivery]:
    """Deliveries of the item itself, or of an item that also counts for it."""
    return [
        d
        for d in deliveries
        if d.item_code == item.code or item.code in toward.get(d.item_code, ())
    ]


def fulfilment(
    items: Iterable[PackageItem],
    period: Period,
    delivered: Iterable[Delivery | tuple[str, dt.date | dt.datetime]],
    *,
    as_of: dt.date | dt.datetime,
    events: Iterable[TriggerEvent] = (),
) -> list[ItemProgress]:
    """Per item and window: required vs done, and MET / DUE / OVERDUE as of ``as_of``.

    Windows are contract years for per-year items, contract quarters for per-quarter
    items, and one window per triggering event for within-N-hours items. Only windows
    that have begun by ``as_of`` are reported.
    """
    items, events = list(items), list(events)
    deliveries = [d if isinstance(d, Delivery) else Delivery(*d) for d in delivered]
    as_of_day = _day(as_of)
    # A time of day is only known when given; a bare date means the start of that day.
    as_of_time = as_of if isinstance(as_of, dt.datetime) else dt.datetime.combine(as_of, dt.time())
    toward = {it.code: it.counts_toward for it in items}
    out: list[ItemProgress] = []
    for item in items:
        f = item.frequency
        if f.kind is FrequencyKind.WITHIN_HOURS:
            out += _event_progress(
                item, period, _counted(item, deliveries, toward), events, as_of_time
            )
            continue
        length = _QUARTER if f.kind is FrequencyKind.PER_QUARTER else _YEAR
        mine = _counted(item, deliveries, toward)
        for w in _windows(period, length, as_of_day):
            done = sum(1 for d in mine if _day(d.at) in w)
            if f.kind is FrequencyKind.ON_DEMAND:
                status, required = ItemStatus.ON_DEMAND, None
            elif f.kind is FrequencyKind.BY_SCHEDULE:
                status, required = ItemStatus.BY_SCHEDULE, None
            else:
                required = f.count
                if done >= (required or 0):
                    status = ItemStatus.MET
                else:
                    status = ItemStatus.OVERDUE if as_of_day > w.end else ItemStatus.DUE
            out.append(ItemProgress(item.code, w.start, w.end, required, done, status))
    return out


def _event_progress(
    item: PackageItem,
    period: Period,
    deliveries: Sequence[Delivery],
    events: Iterable[TriggerEvent],
    as_of: dt.datetime,
) -> list[ItemProgress]:
    f = item.frequency
    assert f.hours is not None  # validated at load
    out = []
    for ev in events:
        if ev.event != f.event or ev.at.date() not in period or ev.at > as_of:
            continue
        deadline = ev.at + dt.timedelta(hours=f.hours)

        done = sum(1 for d in deliveries if _on_time(d.at, ev.at, deadline))
        if done:
            status = ItemStatus.MET
        else:
            status = ItemStatus.OVERDUE if as_of > deadline else ItemStatus.DUE
        out.append(ItemProgress(item.code, ev.at, deadline, 1, done, status, trigger=ev.event))
    return out


def _on_time(at: dt.date | dt.datetime, start: dt.datetime, deadline: dt.datetime) -> bool:
    if isinstance(at, dt.datetime):
        return start <= at <= deadline
    # A bare date is on time if it falls on a day inside the window.
    return start.date() <= at <= deadline.date()
