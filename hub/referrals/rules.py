"""Referral rules read from the regional policy: reserved shares and the long-prescription cap.

Pure functions over ``hub.contracts.policy.RegionPolicy``; the service feeds them rows.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from decimal import Decimal

from hub.contracts.policy import LongPrescription, PolicyError, RegionPolicy, get_policy
from hub.contracts.terms import Duration, DurationUnit
from hub.errors import DomainError

RESOURCES = ("expert_slots", "beds")  # the names policies use in ReservedShare.resources


def policy_of(region_key: str | None) -> RegionPolicy | None:
    """The region's policy, or None for an organization without a known region."""
    if not region_key:
        return None
    try:
        return get_policy(region_key)
    except PolicyError:
        return None


def reserved_share(
    policy: RegionPolicy | None, hospital_kind: str, day: dt.date, resource: str
) -> Decimal | None:
    """The share of ``resource`` a hospital of ``hospital_kind`` reserves on ``day``.

    A ReservedShare row ``from_level → to_level`` is what a hospital of ``from_level``
    holds back for referrals from the level below it. Family doctor teams are primary
    care, below every hospital level, so a team's up-referral may use the share of
    whichever hospital it goes to (a tertiary hospital's "for secondary" share included).
    The newest row in force on ``day`` wins (Jilin: 2017 targets, raised from 2020).
    None when the policy reserves nothing for that kind, day and resource.
    """
    if policy is None:
        return None
    rows = [
        r
        for r in policy.reserved_shares
        if r.from_level.value == hospital_kind and r.effective_from <= day
    ]
    if not rows:
        return None
    newest = max(rows, key=lambda r: r.effective_from)
    return newest.share if resource in newest.resources else None


def policy_minimum(total: int, share: Decimal) -> int:
    """Units a share of ``total`` amounts to. The policy sets a floor ("reserve 30%"), so a
    fraction rounds up: rounding down would reserve less than the policy asks."""
    return math.ceil(Decimal(total) * share)


def reserved_units(total: int, share: Decimal | None, declared: int | None, *, field: str) -> int:
    """How many of ``total`` units are reserved for referrals.

    With a policy share: at least the share (the hospital may declare more). Without one
    the region imposes no split, so what the hospital declares is reserved and, when it
    declares nothing, everything it publishes to the hub is open to referrals.
    """
    if total < 0:
        raise DomainError(f"{field} cannot be negative.", field=field, code="INVALID_CAPACITY")
    floor = policy_minimum(total, share) if share is not None else None
    if declared is None:
        return floor if floor is not None else total
    if declared < 0 or declared > total:
        raise DomainError(
            f"The reserved part must be between 0 and the {total} published.",
            field=f"reserved{field[0].upper()}{field[1:]}",
            code="INVALID_CAPACITY",
        )
    if floor is not None and declared < floor:
        raise DomainError(
            f"The regional policy reserves {share:%} of {field} for referrals from primary "
            f"care: at least {floor} of {total}.",
            field=f"reserved{field[0].upper()}{field[1:]}",
            code="RESERVED_BELOW_POLICY",
        )
    return declared


# ---- continuing prescriptions (长处方) ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PrescriptionItem:
    drug: str
    dose: str
    duration: Duration
    frequency: str | None = None


class PrescriptionTooLong(DomainError):
    code = "PRESCRIPTION_TOO_LONG"


# Registry category names that differ from the policy vocabulary.
_CATEGORY_ALIASES = {"DIABETES_T2": "TYPE2_DIABETES"}


def check_prescriptions(
    items: list[PrescriptionItem],
    rule: LongPrescription | None,
    *,
    start: dt.date,
    categories: set[str],
    field: str = "prescriptions",
    region: str | None = None,
) -> None:
    """Refuse a supply longer than the region's long-prescription maximum.

    Durations are calendar lengths (12 weeks, 2 months), compared by the day they run to
    from ``start``. Where the policy names which populations may have long prescriptions
    and the ordinary limit above which a supply is "long", a longer supply for anyone
    else is refused too. A region without a rule caps nothing here.
    """
    for n, item in enumerate(items):
        at = f"{field}[{n}]"
        if item.duration.amount <= 0:
            raise DomainError(
                "A prescription must last at least one day.",
                field=f"{at}.duration",
                code="INVALID_DURATION",
            )
        if not item.drug.strip() or not item.dose.strip():
            raise DomainError(
                "Give the drug and its dose.", field=f"{at}.drug", code="INVALID_PRESCRIPTION"
            )
        if rule is None:
            continue
        ends = item.duration.add_to(start)
        if ends > rule.max.add_to(start):
            raise PrescriptionTooLong(
                f"{item.drug}: {item.duration} is longer than the {rule.max} a continuing "
                f"prescription may cover{f' in {region}' if region else ''}; shorten it.",
                field=f"{at}.duration",
            )
        if (
            rule.ordinary_max is not None
            and rule.eligible_categories
            and ends > rule.ordinary_max.add_to(start)
        ):
            mine = {_CATEGORY_ALIASES.get(c, c) for c in categories}
            if not mine & {c.value for c in rule.eligible_categories}:
                raise PrescriptionTooLong(
                    f"{item.drug}: only residents in "
                    f"{', '.join(c.value for c in rule.eligible_categories)} may have more than "
                    f"{rule.ordinary_max}.",
                    field=f"{at}.duration",
                )


UNITS = {"DAY": DurationUnit.DAY, "WEEK": DurationUnit.WEEK, "MONTH": DurationUnit.MONTH}


def duration(amount: int, unit: str) -> Duration:
    return Duration(amount, UNITS[unit])
