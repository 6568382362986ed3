"""From registry and directory rows to the words policies are written in — in one place.

The registry and the directory have their own enums (``DIABETES_T2``,
``COMMUNITY_HEALTH_CENTER``); policies use ``hub.contracts.terms`` (``TYPE2_DIABETES``,
``COMMUNITY_HEALTH_CENTRE``). Every translation between the two lives here, so rules
never see a registry code and the registry never learns a policy code.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping
from types import MappingProxyType

from hub.contracts.terms import (
    InstitutionKind,
    InsuranceType,
    PopulationCategory,
    ResidentFacts,
)
from hub.directory.models import OrganizationKind
from hub.registry.golden import derived_categories
from hub.registry.models import InsuranceType as RegistryInsuranceType
from hub.registry.models import PopulationCategory as RegistryCategory
from hub.registry.models import Resident

PC, RC = PopulationCategory, RegistryCategory

# Registry category -> policy category. Same names map to themselves; the rest are listed.
CATEGORY_FROM_REGISTRY: Mapping[str, PopulationCategory] = MappingProxyType(
    {
        **{c.value: PC(c.value) for c in RC if c.value in PC.__members__},
        RC.DIABETES_T2.value: PC.TYPE2_DIABETES,
        RC.LOW_INCOME_HOUSEHOLD.value: PC.RURAL_LOW_INCOME,
    }
)
CATEGORY_TO_REGISTRY: Mapping[PopulationCategory, str] = MappingProxyType(
    {v: k for k, v in CATEGORY_FROM_REGISTRY.items()}
)

INSTITUTION_KIND: Mapping[str, InstitutionKind] = MappingProxyType(
    {
        OrganizationKind.COMMUNITY_HEALTH_CENTER.value: InstitutionKind.COMMUNITY_HEALTH_CENTRE,
        OrganizationKind.COMMUNITY_HEALTH_STATION.value: InstitutionKind.COMMUNITY_HEALTH_STATION,
        OrganizationKind.TOWNSHIP_HEALTH_CENTER.value: InstitutionKind.TOWNSHIP_HEALTH_CENTRE,
        OrganizationKind.VILLAGE_CLINIC.value: InstitutionKind.VILLAGE_CLINIC,
        OrganizationKind.SECONDARY_HOSPITAL.value: InstitutionKind.SECONDARY_HOSPITAL,
        OrganizationKind.TERTIARY_HOSPITAL.value: InstitutionKind.TERTIARY_HOSPITAL,
        OrganizationKind.MATERNAL_CHILD_HOSPITAL.value: InstitutionKind.MATERNAL_CHILD_HOSPITAL,
    }
)

# Insured residents; ``ends_when_insurance_stops`` packages need one of these.
INSURED = frozenset({InsuranceType.URBAN_EMPLOYEE, InsuranceType.URBAN_RURAL_RESIDENT})


def institution_kind(organization_kind: str) -> InstitutionKind:
    return INSTITUTION_KIND[organization_kind]


def policy_categories(registry_categories: Iterable[str]) -> frozenset[PopulationCategory]:
    """Policy categories of stored registry categories; unknown codes are ignored."""
    return frozenset(
        CATEGORY_FROM_REGISTRY[c] for c in registry_categories if c in CATEGORY_FROM_REGISTRY
    )


def age_categories(birth_date: dt.date | None, on: dt.date) -> frozenset[PopulationCategory]:
    """Categories that follow from age on the day of the decision (0-6, 65+): the
    registry's own definition, on the decision's day."""
    return policy_categories(derived_categories(birth_date, on))


def insurance_type(value: str | None) -> InsuranceType:
    # No insurance on record is read as self-pay (自费): the resident pays what the
    # policy asks of the uninsured, and insured-only packages are refused.
    if value is not None and value in RegistryInsuranceType.__members__:
        return InsuranceType(value)
    return InsuranceType.SELF_PAY


def resident_facts(
    resident: Resident,
    stored_categories: Iterable[str],
    on: dt.date,
    *,
    has_guardian: bool = False,
) -> ResidentFacts:
    """What the rules need to know about a resident on ``on``."""
    birth = resident.birth_date or on  # unknown birth date: rules by age cannot apply
    return ResidentFacts(
        birth_date=birth,
        insurance_type=insurance_type(resident.insurance_type),
        categories=policy_categories(stored_categories) | age_categories(resident.birth_date, on),
        has_guardian=has_guardian,
    )


def personal_digest(resident: Resident) -> str:
    """A fingerprint of the data a contract form carries about the person (番禺: a free
    package renews automatically only while it is unchanged)."""
    parts = (
        resident.name,
        resident.sex,
        resident.birth_date.isoformat() if resident.birth_date else None,
        resident.id_number,
        resident.insurance_type,
    )
    return hashlib.sha256("\x1f".join(p or "" for p in parts).encode()).hexdigest()
