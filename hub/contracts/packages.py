"""The package catalog's shape (签约服务包): items, frequencies, fees, renewal.

Pure pydantic models read from a region's policy file (see ``hub.contracts.policy``).
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hub.contracts.terms import (
    DurationField,
    FrequencyKind,
    InsuranceType,
    OtherwiseAction,
    PackageKind,
    Payer,
    PopulationCategory,
    RenewalMode,
)


class _Model(BaseModel):
    # Unknown keys are typos in a policy file; refuse them rather than ignore them.
    model_config = ConfigDict(extra="forbid", frozen=True)


class AgeRange(_Model):
    """Inclusive age bounds in whole years; ``None`` means open."""

    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=0)


class Eligibility(_Model):
    """签约适合对象: who may sign a package. Empty lists mean "anyone"."""

    categories_any: tuple[PopulationCategory, ...] = ()
    insurance_types: tuple[InsuranceType, ...] = ()
    age: AgeRange = AgeRange()
    note_zh: str = ""


class FeeRule(_Model):
    """One row of a package's fee split; the first rule whose conditions match applies."""

    insurance_types: tuple[InsuranceType, ...] = ()
    categories_any: tuple[PopulationCategory, ...] = ()
    public_health_fund: Decimal = Decimal(0)
    insurance_fund: Decimal = Decimal(0)
    personal: Decimal = Decimal(0)
    charge_item_zh: str = ""


class PersonalSharePayer(_Model):
    """Who pays the personal share for a group (e.g. 民政 pays it for 低保/五保)."""

    categories_any: tuple[PopulationCategory, ...]
    payer: Payer


class Frequency(_Model):
    """服务频次. ``count`` is a minimum per period; institutions may do more, never less."""

    kind: FrequencyKind
    count: int | None = Field(default=None, ge=1)
    hours: int | None = Field(default=None, ge=1)
    event: str | None = None
    interval_weeks: int | None = Field(default=None, ge=1)
    schedule: str | None = None
    at_age_months: tuple[int, ...] = ()

    @model_validator(mode="after")
    def _parameters_fit_kind(self) -> Frequency:
        k = self.kind
        if k in (FrequencyKind.PER_YEAR, FrequencyKind.PER_QUARTER) and self.count is None:
            raise ValueError(f"count is required for frequency kind {k.value}")
        if k is FrequencyKind.WITHIN_HOURS and (self.hours is None or not self.event):
            raise ValueError("hours and event are required for frequency kind within_hours")
        return self


class PackageItem(_Model):
    """服务项目: one service in a package."""

    code: str
    name_zh: str
    name_en: str
    frequency: Frequency
    # Items aimed at a group (e.g. follow-ups for hypertension) apply only to residents in it.
    applies_to_categories: tuple[PopulationCategory, ...] = ()
    unit_price: Decimal | None = None
    # Billed per use at this price on top of the package price (Panyu home rounds).
    billed_per_use: bool = False
    # A delivery of this item also counts for these (a face-to-face follow-up is a follow-up).
    counts_toward: tuple[str, ...] = ()
    # What kind of service it is, for senders that know the service but not the item code
    # (an adapter reporting "a hypertension follow-up"): e.g. ``follow_up``.
    service: str | None = Field(default=None, pattern=r"^[a-z][a-z_]*$")
    note_zh: str = ""


class ChoiceGroup(_Model):
    """ "k 选 n": the resident picks exactly ``choose`` of the listed items."""

    code: str
    choose: int = Field(ge=1)
    items: tuple[str, ...]


class Renewal(_Model):
    """续约: what happens to a package when the contract period ends."""

    mode: RenewalMode
    otherwise: OtherwiseAction = OtherwiseAction.END
    otherwise_package: str | None = None
    payment_window: DurationField | None = None
    requires_unchanged_personal_data: bool = False
    # Erqi: on auto-renewal both sides re-confirm duties; the contract itself carries on.
    reconfirm_terms: bool = False
    ends_when_insurance_stops: bool = False


class Package(_Model):
    """签约服务包."""

    code: str = Field(pattern=r"^[A-Z0-9][A-Z0-9-]*$")
    name_zh: str
    name_en: str
    kind: PackageKind
    tier_zh: str = ""
    eligibility: Eligibility = Eligibility()
    cost_estimate: Decimal | None = None
    list_price: Decimal | None = None
    price: Decimal | None = None
    fees: tuple[FeeRule, ...] = ()
    personal_share_payers: tuple[PersonalSharePayer, ...] = ()
    items: tuple[PackageItem, ...] = ()
    choice_groups: tuple[ChoiceGroup, ...] = ()
    requires_any_of: tuple[str, ...] = ()
    bundled_in: tuple[str, ...] = ()
    includes: tuple[str, ...] = ()
    # Tier modules follow the package they are bundled in, so they carry no renewal.
    renewal: Renewal | None = None
    starts_on_payment: bool = False
    benefits_zh: tuple[str, ...] = ()
    note_zh: str = ""

    def item(self, code: str) -> PackageItem:
        for it in self.items:
            if it.code == code:
                return it
        raise KeyError(code)
