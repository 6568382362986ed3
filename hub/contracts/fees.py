"""Signing fees (签约服务费): who pays what for a package, per resident.

The split comes from the package's fee rules in the region policy (first match on
insurance type and population categories); hardship groups' personal share is paid by
the body the policy names (民政, 残联, 县财政).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from hub.contracts.errors import RuleViolation, ViolationCode
from hub.contracts.policy import Package, RegionPolicy
from hub.contracts.terms import PackageKind, Payer, ResidentFacts

V = ViolationCode


def require_package(policy: RegionPolicy, code: str, fld: str) -> Package:
    try:
        return policy.package(code)
    except KeyError:
        known = ", ".join(p.code for p in policy.packages)
        raise RuleViolation(
            V.PACKAGE_UNKNOWN,
            fld,
            f"{policy.name_en} has no package {code!r}; choose one of {known}",
        ) from None


@dataclass(frozen=True, slots=True)
class Fees:
    """签约服务费 split: price = public_health_fund + insurance_fund + personal."""

    price: Decimal
    public_health_fund: Decimal
    insurance_fund: Decimal
    personal: Decimal
    personal_paid_by: Payer = Payer.PERSON
    charge_item_zh: str = ""


@dataclass(frozen=True, slots=True)
class ContractFees:
    """Per-package fees and totals; the personal total is also split by who pays it."""

    packages: Mapping[str, Fees]
    price: Decimal
    public_health_fund: Decimal
    insurance_fund: Decimal
    personal: Decimal
    personal_by_payer: Mapping[Payer, Decimal]


_ZERO = Decimal("0.00")


def package_fees(policy: RegionPolicy, package_code: str, resident: ResidentFacts) -> Fees:
    """The fee split of one package for this resident (first matching fee rule)."""
    fld = f"packages.{package_code}"
    pkg = require_package(policy, package_code, fld)
    if pkg.kind is PackageKind.TIER:  # paid for by the package it is bundled in
        return Fees(_ZERO, _ZERO, _ZERO, _ZERO)
    if pkg.price is None:
        raise RuleViolation(
            V.PRICE_NOT_SET,
            fld,
            f"{policy.name_en} sets no price for {pkg.code} ({pkg.name_en}); set "
            f"packages[{pkg.code}].price and fees in the {policy.key} policy file.",
        )
    for rule in pkg.fees:
        if rule.insurance_types and resident.insurance_type not in rule.insurance_types:
            continue
        if rule.categories_any and not resident.categories.intersection(rule.categories_any):
            continue
        payer = next(
            (
                p.payer
                for p in pkg.personal_share_payers
                if resident.categories.intersection(p.categories_any)
            ),
            Payer.PERSON,
        )
        return Fees(
            price=pkg.price,
            public_health_fund=rule.public_health_fund,
            insurance_fund=rule.insurance_fund,
            personal=rule.personal,
            personal_paid_by=payer if rule.personal else Payer.PERSON,
            charge_item_zh=rule.charge_item_zh,
        )
    raise RuleViolation(
        V.NO_FEE_RULE,
        fld,
        f"No fee rule of {pkg.code} covers insurance type {resident.insurance_type}; "
        "choose the package for the resident's insurance type.",
    )


def contract_fees(
    policy: RegionPolicy, package_codes: Iterable[str], resident: ResidentFacts
) -> ContractFees:
    per = {code: package_fees(policy, code, resident) for code in package_codes}
    by_payer: dict[Payer, Decimal] = {}
    for f in per.values():
        if f.personal:
            by_payer[f.personal_paid_by] = by_payer.get(f.personal_paid_by, _ZERO) + f.personal
    return ContractFees(
        packages=per,
        price=sum((f.price for f in per.values()), _ZERO),
        public_health_fund=sum((f.public_health_fund for f in per.values()), _ZERO),
        insurance_fund=sum((f.insurance_fund for f in per.values()), _ZERO),
        personal=sum((f.personal for f in per.values()), _ZERO),
        personal_by_payer=by_payer,
    )
