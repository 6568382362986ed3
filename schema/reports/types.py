# ruff: noqa: E501  (field descriptions and one-line constructors read better whole)
"""Report result types: rows of counts and fractions (no resident is reachable from here)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from enum import Enum
from typing import Any, TypeVar

import strawberry

T = TypeVar("T")


@strawberry.enum(description="How coverageReport groups residents.")
class CoverageGroupBy(Enum):
    INSTITUTION = "INSTITUTION"
    TEAM = "TEAM"
    TOWNSHIP = "TOWNSHIP"
    VILLAGE = "VILLAGE"
    CATEGORY = "CATEGORY"


@strawberry.enum(description="How fulfilmentReport's main table is grouped.")
class FulfilmentGroupBy(Enum):
    TEAM = "TEAM"
    TEAM_ITEM = "TEAM_ITEM"


@strawberry.enum(description="A coverage against its policy target.")
class TargetStatus(Enum):
    MET = "MET"
    BELOW = "BELOW"


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(w[:1].upper() + w[1:] for w in rest)


def build(cls: type[T], row: dict[str, Any] | None) -> T | None:
    if row is None:
        return None
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    values = {k: row.get(_camel(k)) for k in names}
    if "status" in values and values["status"] is not None and cls is CoverageRow:
        values["status"] = TargetStatus(values["status"])
    return cls(**values)


@strawberry.type(description="One group of coverageReport; coverages are fractions (0.3124).")
class CoverageRow:
    key: str
    label: str
    residents: int
    signed: int
    households: int
    signed_households: int
    coverage: float | None
    household_coverage: float | None
    target: float | None = strawberry.field(description="The policy's coverage target.")
    status: TargetStatus | None


@strawberry.type
class CoverageReport:
    title: str
    region: str
    as_of: str
    group_by: CoverageGroupBy
    rows: list[CoverageRow]
    total: CoverageRow
    refreshed_at: dt.datetime | None = strawberry.field(
        default=None,
        description="When the report came from the refreshed rollup (hub report-refresh): the time it was computed, its staleness. Null: computed for this request.",
    )


@strawberry.type(description="农村低收入农户签约服务进展月报表: one township.")
class LowIncomeRow:
    township: str
    households: int
    persons: int
    signed_households: int
    signed_persons: int
    household_coverage: float | None
    person_coverage: float | None


@strawberry.type
class LowIncomeReport:
    title: str
    region: str
    month: str
    rows: list[LowIncomeRow]
    total: LowIncomeRow


@strawberry.type(description="签约服务包实施情况: one package of one institution.")
class PackageRow:
    key: str
    institution: str
    code: str
    package: str
    price: float | None
    signed: int
    newly_signed: int
    renewed: int


@strawberry.type
class PackageReport:
    title: str
    region: str
    quarter: str
    rows: list[PackageRow]
    total: PackageRow


@strawberry.type(description="履约 of one team (and package item, in `items`).")
class FulfilmentRow:
    key: str
    team_id: str
    team: str
    item_code: str | None = None
    item: str | None = None
    contracts: int | None = None
    required: int
    done: int
    rate: float | None
    overdue_residents: int


@strawberry.type
class FulfilmentReport:
    title: str
    region: str
    period: str
    teams: list[FulfilmentRow]
    items: list[FulfilmentRow]
    total: FulfilmentRow
    refreshed_at: dt.datetime | None = strawberry.field(
        default=None,
        description="When the report came from the refreshed rollup (hub report-refresh): the time it was computed, its staleness. Null: computed for this request.",
    )


@strawberry.type(description="Referrals of one direction (上转/下转) by status.")
class ReferralDirectionRow:
    key: str
    label: str
    total: int
    requested: int
    received: int
    accepted: int
    rejected: int
    arrived: int
    completed: int
    cancelled: int
    median_hours_to_accept: float | None
    p90_hours_to_accept: float | None


@strawberry.type(
    description="One hospital: referrals received, accepted, sent down, reserved capacity booked."
)
class ReferralHospitalRow:
    key: str
    label: str
    up: int
    accepted: int
    down: int
    reserved_booked: int


@strawberry.type
class ReferralReport:
    title: str
    region: str
    period: str
    directions: list[ReferralDirectionRow]
    total: ReferralDirectionRow
    hospitals: list[ReferralHospitalRow]


@strawberry.type(description="A fund's total (yuan).")
class FeeFundRow:
    key: str
    label: str
    amount: float


@strawberry.type(description="A charging item's totals (yuan).")
class FeeItemRow:
    key: str
    label: str
    packages: int
    price: float
    public_health_fund: float
    insurance_fund: float
    personal: float


@strawberry.type
class FeeReport:
    title: str
    region: str
    period: str
    funds: list[FeeFundRow]
    items: list[FeeItemRow]
    total: FeeItemRow


@strawberry.type(description="Contracts signed in one month.")
class SigningMonth:
    month: str
    signed: int


@strawberry.type
class SigningTrend:
    title: str
    region: str
    months: list[SigningMonth]
    total: int
