"""GraphQL types of the package catalog (签约服务包), read from the regional policies."""

from __future__ import annotations

from decimal import Decimal

import strawberry

from hub.contracts import terms
from hub.contracts.fulfilment import ItemStatus as _ItemStatus
from hub.contracts.policy import Package, PackageItem
from schema.scalars import InsuranceType

PackageKind = strawberry.enum(terms.PackageKind, description="服务包类型")
Payer = strawberry.enum(terms.Payer, description="Who pays a personal share")
FrequencyKind = strawberry.enum(terms.FrequencyKind, description="服务频次 kinds")
RenewalMode = strawberry.enum(terms.RenewalMode, description="How a package renews at expiry")
OtherwiseAction = strawberry.enum(
    terms.OtherwiseAction, description="What a package that does not renew becomes"
)
PolicyPopulationCategory = strawberry.enum(
    terms.PopulationCategory,
    name="PolicyPopulationCategory",
    description="人群类型 as regional policies name them (a superset of PopulationCategory).",
)
ItemStatus = strawberry.enum(_ItemStatus, description="履约 status of an item in a window")


CENT = Decimal("0.01")


def _yuan(value: Decimal) -> Decimal:
    """Yuan with two decimals, as fees are shown ("130.00")."""
    return value.quantize(CENT)


def _money(value: Decimal | None) -> Decimal | None:
    return None if value is None else _yuan(value)


def _insurance(values: tuple[terms.InsuranceType, ...]) -> list[InsuranceType]:
    return [InsuranceType(v.value) for v in values]


@strawberry.type(description="服务频次: a minimum per period, a schedule, or on demand.")
class Frequency:
    kind: FrequencyKind
    count: int | None
    hours: int | None
    event: str | None
    interval_weeks: int | None
    schedule: str | None
    at_age_months: list[int]


@strawberry.type(description="服务项目: one service in a package.")
class ServicePackageItem:
    code: str
    name: str
    name_en: str
    frequency: Frequency
    applies_to_categories: list[PolicyPopulationCategory]
    unit_price: Decimal | None
    billed_per_use: bool
    service: str | None = strawberry.field(description="Service kind, e.g. follow_up.")
    note: str | None

    @classmethod
    def from_model(cls, it: PackageItem) -> ServicePackageItem:
        f = it.frequency
        return cls(
            code=it.code, name=it.name_zh, name_en=it.name_en,
            frequency=Frequency(kind=f.kind, count=f.count, hours=f.hours, event=f.event,
                                interval_weeks=f.interval_weeks, schedule=f.schedule,
                                at_age_months=list(f.at_age_months)),
            applies_to_categories=list(it.applies_to_categories), unit_price=_money(it.unit_price),
            billed_per_use=it.billed_per_use, service=it.service, note=it.note_zh or None,
        )  # fmt: skip


@strawberry.type(description="签约适合对象: who may sign; empty lists mean anyone.")
class Eligibility:
    categories: list[PolicyPopulationCategory]
    insurance_types: list[InsuranceType]
    age_min: int | None
    age_max: int | None
    note: str | None


@strawberry.type(description="One row of a package's fee split; the first matching row applies.")
class FeeRule:
    insurance_types: list[InsuranceType]
    categories: list[PolicyPopulationCategory]
    public_health_fund: Decimal
    insurance_fund: Decimal
    personal: Decimal
    charge_item: str | None


@strawberry.type(description="Who pays the personal share for a group (民政, 残联, 县财政).")
class PersonalSharePayer:
    categories: list[PolicyPopulationCategory]
    payer: Payer


@strawberry.type(description='"k 选 n": the resident picks exactly `choose` of the items.')
class ChoiceGroup:
    code: str
    choose: int
    items: list[str]


@strawberry.type(description="续约: what happens to the package when the period ends.")
class Renewal:
    mode: RenewalMode
    otherwise: OtherwiseAction
    otherwise_package: str | None
    payment_window: str | None
    requires_unchanged_personal_data: bool
    ends_when_insurance_stops: bool


@strawberry.type(description="签约服务包 of a region's policy.")
class ServicePackage:
    region: str
    code: str
    name: str
    name_en: str
    kind: PackageKind
    tier: str | None
    price: Decimal | None = strawberry.field(description="Yearly price (优惠后金额), yuan.")
    list_price: Decimal | None
    cost_estimate: Decimal | None = strawberry.field(description="成本测算价, yuan.")
    eligibility: Eligibility
    fees: list[FeeRule]
    personal_share_payers: list[PersonalSharePayer]
    items: list[ServicePackageItem]
    choice_groups: list[ChoiceGroup]
    requires_any_of: list[str] = strawberry.field(description="Signed only on top of one of these.")
    bundled_in: list[str] = strawberry.field(description="A tier module bundled in these.")
    includes: list[str]
    renewal: Renewal | None
    starts_on_payment: bool
    note: str | None

    @classmethod
    def from_model(cls, region: str, p: Package) -> ServicePackage:
        el, r = p.eligibility, p.renewal
        return cls(
            region=region, code=p.code, name=p.name_zh, name_en=p.name_en, kind=p.kind,
            tier=p.tier_zh or None, price=_money(p.price), list_price=_money(p.list_price),
            cost_estimate=_money(p.cost_estimate),
            eligibility=Eligibility(categories=list(el.categories_any),
                                    insurance_types=_insurance(el.insurance_types),
                                    age_min=el.age.min, age_max=el.age.max,
                                    note=el.note_zh or None),
            fees=[FeeRule(insurance_types=_insurance(f.insurance_types),
                          categories=list(f.categories_any),
                          public_health_fund=_yuan(f.public_health_fund),
                          insurance_fund=_yuan(f.insurance_fund), personal=_yuan(f.personal),
                          charge_item=f.charge_item_zh or None) for f in p.fees],
            personal_share_payers=[PersonalSharePayer(categories=list(x.categories_any),
                                                      payer=x.payer)
                                   for x in p.personal_share_payers],
            items=[ServicePackageItem.from_model(i) for i in p.items],
            choice_groups=[ChoiceGroup(code=g.code, choose=g.choose, items=list(g.items))
                           for g in p.choice_groups],
            requires_any_of=list(p.requires_any_of), bundled_in=list(p.bundled_in),
            includes=list(p.includes),
            renewal=Renewal(mode=r.mode, otherwise=r.otherwise,
                            otherwise_package=r.otherwise_package,
                            payment_window=str(r.payment_window) if r.payment_window else None,
                            requires_unchanged_personal_data=r.requires_unchanged_personal_data,
                            ends_when_insurance_stops=r.ends_when_insurance_stops)
            if r else None,
            starts_on_payment=p.starts_on_payment, note=p.note_zh or None,
        )  # fmt: skip
