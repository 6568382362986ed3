"""Team size (团队规模) and combination signing (组合签约 "1+1+1" / "1+1+N") as pure checks."""

from __future__ import annotations

from collections.abc import Collection

from hub.contracts.errors import RuleViolation, ViolationCode
from hub.contracts.policy import RegionPolicy
from hub.contracts.terms import InstitutionKind, SigningUnit

V = ViolationCode


def check_team_capacity(
    policy: RegionPolicy, signed_units: int, adding: int = 1
) -> list[RuleViolation]:
    """团队规模: ``signed_units`` counted in the policy's unit (households in Erqi)."""
    cap = policy.team.capacity
    if cap is None or signed_units + adding <= cap.max:
        return []
    unit = cap.unit.value.lower() + "s"
    return [
        RuleViolation(
            V.TEAM_FULL,
            "team",
            f"The team already has {signed_units} {unit}; {policy.name_en} allows at most "
            f"{cap.max}. Choose another team in the same grid.",
        )
    ]


def team_limits(
    policy: RegionPolicy, team_capacity_households: int | None
) -> tuple[int | None, int | None]:
    """(households, persons) a team may hold: its own capacity (团队签约上限, in households)
    and the policy's cap in the policy's unit, whichever is lower; ``None`` is unbounded."""
    households, persons = team_capacity_households, None
    cap = policy.team.capacity
    if cap is not None and cap.unit is SigningUnit.HOUSEHOLD:
        households = cap.max if households is None else min(households, cap.max)
    elif cap is not None:
        persons = cap.max
    return households, persons


def check_team_load(
    policy: RegionPolicy,
    *,
    households: int,
    persons: int,
    adding_households: int,
    adding_persons: int,
    team_capacity_households: int | None = None,
) -> list[RuleViolation]:
    """团队规模 counted both ways: households against the team's capacity and the policy's
    household cap, persons against a per-person cap."""
    max_households, max_persons = team_limits(policy, team_capacity_households)
    out = []
    if (
        max_households is not None
        and adding_households
        and (households + adding_households > max_households)
    ):
        out.append(
            RuleViolation(
                V.TEAM_FULL,
                "teamId",
                f"The team already serves {households} households and may serve at most "
                f"{max_households}; adding {adding_households} would exceed it. Choose another "
                "team of the same institution or grid.",
            )
        )
    if max_persons is not None and persons + adding_persons > max_persons:
        out.append(
            RuleViolation(
                V.TEAM_FULL,
                "teamId",
                f"The team already serves {persons} persons and may serve at most {max_persons} "
                f"in {policy.name_en}; choose another team.",
            )
        )
    return out


HOSPITAL_LEVELS = {
    InstitutionKind.SECONDARY_HOSPITAL: "secondary",
    InstitutionKind.TERTIARY_HOSPITAL: "tertiary",
}


def check_hospitals(
    policy: RegionPolicy, kinds: Collection[InstitutionKind]
) -> list[RuleViolation]:
    """组合签约 hospitals: secondary and tertiary hospitals only, within the policy's 1+1+N."""
    wrong = sorted({k for k in kinds if k not in HOSPITAL_LEVELS})
    if wrong:
        return [
            RuleViolation(
                V.COMBINATION_HOSPITAL_KIND,
                "hospitalIds",
                f"Combination signing adds secondary and tertiary hospitals; {wrong} cannot be "
                "chosen. Leave them out.",
            )
        ]
    levels = [HOSPITAL_LEVELS[k] for k in kinds]
    return check_combination(
        policy, secondary=levels.count("secondary"), tertiary=levels.count("tertiary")
    )


def check_combination(
    policy: RegionPolicy, *, secondary: int, tertiary: int
) -> list[RuleViolation]:
    """组合签约 "1+1+1" / "1+1+N": how many hospitals a resident may add to the team."""
    combo = policy.combination
    if combo is None:
        if secondary or tertiary:
            return [
                RuleViolation(
                    V.COMBINATION_NOT_OFFERED,
                    "combination",
                    f"{policy.name_en} has no combination signing; leave hospitals out.",
                )
            ]
        return []
    too_many = secondary > combo.max_secondary or (
        combo.max_tertiary is not None and tertiary > combo.max_tertiary
    )
    if not too_many:
        return []
    n = "N" if combo.max_tertiary is None else str(combo.max_tertiary)
    return [
        RuleViolation(
            V.COMBINATION_LIMIT,
            "combination",
            f"{policy.name_en} allows 1+{combo.max_secondary}+{n}: at most "
            f"{combo.max_secondary} secondary and {n} tertiary hospital(s).",
        )
    ]
