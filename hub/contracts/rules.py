"""Signing rules and fees (签约规则与收费) as pure functions over a ``RegionPolicy``.

No database, no clock: callers pass the resident's facts, the date and counts, and get
back violations (``check_*``). Fees live in ``fees``, the contract lifecycle (periods,
expiry) in ``lifecycle`` and fulfilment (履约) in ``fulfilment``; all are re-exported
here so a service imports one module.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping

from hub.contracts.errors import RuleViolation, RuleViolations, ViolationCode, raise_for
from hub.contracts.fees import ContractFees, Fees, contract_fees, package_fees, require_package
from hub.contracts.fulfilment import (
    Delivery,
    ItemProgress,
    ItemStatus,
    TriggerEvent,
    contract_items,
    fulfilment,
    service_item,
)
from hub.contracts.lifecycle import (
    ExpiryDecision,
    ExpiryOutcome,
    Period,
    check_renewal_payment,
    contract_period,
    decide_expiry,
    is_long_absence,
    period_end,
    reserved_share,
)
from hub.contracts.policy import RegionPolicy
from hub.contracts.teams import (
    HOSPITAL_LEVELS,
    check_combination,
    check_hospitals,
    check_team_capacity,
    check_team_load,
    team_limits,
)
from hub.contracts.terms import (
    InstitutionKind,
    PackageKind,
    PopulationCategory,
    ResidentFacts,
    age_on,
)

__all__ = [
    "Delivery", "ExpiryDecision", "ExpiryOutcome", "ItemProgress", "ItemStatus", "Period",
    "RuleViolation", "RuleViolations", "TriggerEvent", "ViolationCode", "check_renewal_payment",
    "contract_items", "contract_period", "decide_expiry", "fulfilment", "is_long_absence",
    "period_end", "raise_for", "reserved_share", "require_package",
    "ResidentFacts", "Fees", "ContractFees", "age_on", "guardian_required", "check_guardian",
    "check_package_eligibility", "check_package_set", "check_item_choices",
    "check_team_capacity", "check_signing_party", "check_team_change", "check_combination",
    "check_prescription", "check_signing", "package_fees", "contract_fees", "team_limits",
    "check_team_load", "check_hospitals", "service_item", "HOSPITAL_LEVELS",
]  # fmt: skip

V = ViolationCode


# -- who may sign what ---------------------------------------------------------------


def guardian_required(policy: RegionPolicy, resident: ResidentFacts, on: dt.date) -> bool:
    """监护人代签: minors and the listed groups sign through a guardian."""
    g = policy.guardian
    if g.under_age is not None and age_on(resident.birth_date, on) < g.under_age:
        return True
    return bool(resident.categories.intersection(g.categories_any))


def check_guardian(
    policy: RegionPolicy, resident: ResidentFacts, on: dt.date
) -> list[RuleViolation]:
    if resident.has_guardian or not guardian_required(policy, resident, on):
        return []
    return [
        RuleViolation(
            V.GUARDIAN_REQUIRED,
            "guardian",
            f"In {policy.name_en} this resident must sign through a guardian (under "
            f"{policy.guardian.under_age}, or in {sorted(policy.guardian.categories_any)}); "
            "add the guardian's name, relation, phone and ID number.",
        )
    ]


def check_package_eligibility(
    policy: RegionPolicy, package_code: str, resident: ResidentFacts, on: dt.date
) -> list[RuleViolation]:
    """签约适合对象: age, population categories and insurance type."""
    fld = f"packages.{package_code}"
    pkg = require_package(policy, package_code, fld)
    if pkg.kind is PackageKind.TIER:
        bases = ", ".join(pkg.bundled_in)
        return [
            RuleViolation(
                V.PACKAGE_NOT_SIGNABLE,
                fld,
                f"{pkg.code} ({pkg.name_en}) comes with {bases}; sign one of those instead.",
            )
        ]
    el, out = pkg.eligibility, []
    age = age_on(resident.birth_date, on)
    if (el.age.min is not None and age < el.age.min) or (
        el.age.max is not None and age > el.age.max
    ):
        out.append(
            RuleViolation(
                V.PACKAGE_NOT_ELIGIBLE,
                fld,
                f"{pkg.code} is for ages {el.age.min or 0}-{el.age.max or 'any'}; "
                f"the resident is {age} on {on}.",
            )
        )
    if el.categories_any and not resident.categories.intersection(el.categories_any):
        out.append(
            RuleViolation(
                V.PACKAGE_NOT_ELIGIBLE,
                fld,
                f"{pkg.code} is for {sorted(el.categories_any)}; record the resident's "
                "population category first or choose another package.",
            )
        )
    if el.insurance_types and resident.insurance_type not in el.insurance_types:
        out.append(
            RuleViolation(
                V.PACKAGE_NOT_ELIGIBLE,
                fld,
                f"{pkg.code} is for insurance types {sorted(el.insurance_types)}; the resident "
                f"is {resident.insurance_type}. Choose the package for that insurance type.",
            )
        )
    return out


def check_package_set(policy: RegionPolicy, package_codes: Collection[str]) -> list[RuleViolation]:
    """免费包 XOR 基本包; 个性化包 only on top of a free or basic package."""
    chosen = set(package_codes)
    for code in chosen:
        require_package(policy, code, "packages")
    out: list[RuleViolation] = []
    if not chosen:
        out.append(RuleViolation(V.NO_PACKAGE, "packages", "Choose at least one package."))
    for grp in policy.exclusive_groups:
        clash = sorted(chosen.intersection(grp.packages))
        if len(clash) > 1:
            out.append(
                RuleViolation(
                    V.EXCLUSIVE_PACKAGES,
                    "packages",
                    f"{' and '.join(clash)} exclude each other ({grp.code}); keep only one.",
                )
            )
    for code in sorted(chosen):
        pkg = policy.package(code)
        if pkg.requires_any_of and not chosen.intersection(pkg.requires_any_of):
            out.append(
                RuleViolation(
                    V.PREREQUISITE_PACKAGE_MISSING,
                    f"packages.{code}",
                    f"{code} can only be signed on top of one of {list(pkg.requires_any_of)}; "
                    "add one of them to the contract.",
                )
            )
    return out


def check_item_choices(
    policy: RegionPolicy, package_code: str, chosen_items: Collection[str]
) -> list[RuleViolation]:
    """ "k 选 n" groups: exactly ``choose`` items from each group (儿保检查包 四选三)."""
    pkg = require_package(policy, package_code, f"packages.{package_code}")
    out = []
    for grp in pkg.choice_groups:
        picked = [c for c in chosen_items if c in grp.items]
        if len(set(picked)) != grp.choose or len(picked) != len(set(picked)):
            out.append(
                RuleViolation(
                    V.ITEM_CHOICE_INVALID,
                    f"packages.{package_code}.items",
                    f"Choose exactly {grp.choose} of {list(grp.items)} for {pkg.code}; "
                    f"got {picked}.",
                )
            )
    unknown = [c for c in chosen_items if c not in {it.code for it in pkg.items}]
    if unknown:
        out.append(
            RuleViolation(
                V.ITEM_CHOICE_INVALID,
                f"packages.{package_code}.items",
                f"{unknown} are not items of {pkg.code}.",
            )
        )
    return out


def check_signing_party(
    policy: RegionPolicy,
    institution_kind: InstitutionKind,
    *,
    in_personal_name: bool = False,
    doctor_from_hospital_directly: bool = False,
    area_has_primary_care: bool = True,
) -> list[RuleViolation]:
    """甲方 must be a primary-care institution, never a hospital doctor or a private person."""
    sp, out = policy.signing_parties, []
    allowed = set(sp.institution_kinds)
    if not area_has_primary_care:
        allowed |= set(sp.fallback_kinds_without_primary_care)
    if institution_kind not in allowed:
        out.append(
            RuleViolation(
                V.INSTITUTION_NOT_PRIMARY_CARE,
                "institution",
                f"In {policy.name_en} contracts are signed by {sorted(allowed)}, not by a "
                f"{institution_kind}; sign through the resident's primary-care institution.",
            )
        )
    if doctor_from_hospital_directly and not sp.hospital_doctor_may_sign_directly:
        out.append(
            RuleViolation(
                V.HOSPITAL_DOCTOR_SIGNING,
                "doctor",
                "A public-hospital doctor may not sign with residents directly; join a "
                "primary-care team (multi-site practice) and sign through that institution.",
            )
        )
    if in_personal_name and not sp.personal_name_contract_allowed:
        out.append(
            RuleViolation(
                V.PERSONAL_NAME_CONTRACT,
                "institution",
                "A contract cannot be in a medical worker's own name; the institution is 甲方.",
            )
        )
    return out


def check_team_change(
    policy: RegionPolicy, *, from_institution: str, to_institution: str
) -> list[RuleViolation]:
    """变更签约团队 within the validity period."""
    ct = policy.change_team
    if not ct.allowed:
        return [
            RuleViolation(
                V.TEAM_CHANGE_NOT_ALLOWED,
                "team",
                f"{policy.name_en} does not allow changing team during the contract; "
                "terminate and sign again.",
            )
        ]
    if ct.same_institution_only and from_institution != to_institution:
        return [
            RuleViolation(
                V.CROSS_INSTITUTION_CHANGE,
                "team",
                "During the contract the team can only change within the same institution; "
                "pick a team there, or wait for expiry to sign with another institution.",
            )
        ]
    return []


def check_prescription(
    policy: RegionPolicy,
    *,
    prescribed_on: dt.date,
    days_supply: int,
    categories: Collection[PopulationCategory] = (),
) -> list[RuleViolation]:
    """长处方: a single supply may not exceed the policy's maximum."""
    lp = policy.long_prescription
    if lp is None:
        return []
    max_days = (lp.max.add_to(prescribed_on) - prescribed_on).days
    out = []
    if days_supply > max_days:
        out.append(
            RuleViolation(
                V.PRESCRIPTION_TOO_LONG,
                "days_supply",
                f"{policy.name_en} allows at most {lp.max} ({max_days} days) per prescription; "
                f"shorten the {days_supply}-day supply.",
            )
        )
    # Longer than an ordinary supply is a long prescription, only for the listed groups.
    ordinary = lp.ordinary_max
    if ordinary is not None and lp.eligible_categories:
        ordinary_days = (ordinary.add_to(prescribed_on) - prescribed_on).days
        eligible = set(categories) & set(lp.eligible_categories)
        if days_supply > ordinary_days and not eligible:
            out.append(
                RuleViolation(
                    V.LONG_PRESCRIPTION_NOT_ELIGIBLE,
                    "days_supply",
                    f"Supplies over {ordinary} are for {sorted(lp.eligible_categories)} in "
                    f"{policy.name_en}; shorten the supply to {ordinary_days} days.",
                )
            )
    return out


def check_signing(
    policy: RegionPolicy,
    resident: ResidentFacts,
    package_codes: Collection[str],
    *,
    on: dt.date,
    institution_kind: InstitutionKind,
    team_signed_units: int | None = None,
    adding_units: int = 1,
    chosen_items: Mapping[str, Collection[str]] | None = None,
) -> list[RuleViolation]:
    """Everything that can refuse a new contract, collected at once."""
    try:
        out = check_package_set(policy, package_codes)
    except RuleViolation as v:
        return [v]
    for code in sorted(set(package_codes)):
        out += check_package_eligibility(policy, code, resident, on)
        if policy.package(code).choice_groups:
            out += check_item_choices(policy, code, (chosen_items or {}).get(code, ()))
    out += check_guardian(policy, resident, on)
    out += check_signing_party(policy, institution_kind)
    if team_signed_units is not None:
        out += check_team_capacity(policy, team_signed_units, adding_units)
    return out
