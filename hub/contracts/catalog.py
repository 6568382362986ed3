"""Which regional policy applies: by region key, or by an institution's region.

Policies are the shipped presets, or the files in ``HUB_POLICY_DIR`` when it is set
(a deployment's local variants), loaded and validated once per process.
"""

from __future__ import annotations

import functools

from hub.contracts.policy import (
    Package,
    RegionPolicy,
    get_policy,
    load_policies,
    policy_for_region_code,
)
from hub.directory.models import Organization
from hub.errors import DomainError


class RegionUnknown(DomainError):
    code = "REGION_UNKNOWN"


@functools.cache
def _policies(folder: str | None) -> dict[str, RegionPolicy]:
    return load_policies(folder)


def policies() -> dict[str, RegionPolicy]:
    from hub.settings import get_settings

    folder = get_settings().policy_dir
    return _policies(str(folder) if folder else None)


def policy(region_key: str) -> RegionPolicy:
    found = policies().get(region_key)
    if found is None:
        known = ", ".join(sorted(policies()))
        raise RegionUnknown(
            f"No signing policy for region '{region_key}'; known regions: {known}.",
            field="region",
        )
    return found


def policy_for_organization(org: Organization) -> RegionPolicy:
    """The policy of the institution's region key, else the one covering its GB/T 2260 code."""
    if org.region_key and org.region_key in policies():
        return policies()[org.region_key]
    by_code = policy_for_region_code(org.region_code)
    if by_code is None:
        raise RegionUnknown(
            f"No signing policy covers {org.name} (region {org.region_key or '-'}, code "
            f"{org.region_code}); add a policy file for its region.",
            field="teamId",
        )
    return by_code


def packages(region_key: str) -> tuple[Package, ...]:
    """The region's package catalog (签约服务包), in policy order."""
    return policy(region_key).packages


__all__ = ["RegionUnknown", "get_policy", "packages", "policies", "policy",
           "policy_for_organization"]  # fmt: skip
