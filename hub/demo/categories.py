"""Population categories (人群类型) for synthetic residents, in plausible proportions.

Age-defined categories (0–6 children, 65+ elderly, students) follow strictly from the
birth date on the reference day. Chronic conditions use rough Chinese prevalence among
people under management: hypertension about a quarter of the elderly and a tenth of
35–64 year olds, type 2 diabetes about 8% of adults 35+ (more often with hypertension).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

# Probabilities by age: (youngest, oldest, probability). Ages are inclusive.
HYPERTENSION = ((35, 64, 0.10), (65, 200, 0.25))
DIABETES = ((35, 64, 0.055), (65, 200, 0.11))
DISABLED = ((0, 17, 0.008), (18, 64, 0.02), (65, 200, 0.06))
DIABETES_WITH_HYPERTENSION = 1.8  # the two often come together (metabolic syndrome)
TUBERCULOSIS = 0.0007  # active TB under management, age 15+
SEVERE_MENTAL_DISORDER = 0.005  # registered, age 18+
PREGNANT_MARRIED = 0.07  # women 20–42 living with a spouse
PREGNANT_OTHER = 0.005
HOME_BED_75 = 0.03  # bedridden elderly with a home bed (家庭病床)
HOME_BED_DISABLED_65 = 0.15
UNIVERSITY_STUDENT = 0.45  # share of 18–22 year olds still in school


def _by_age(table: Sequence[tuple[int, int, float]], age: int) -> float:
    return next((p for lo, hi, p in table if lo <= age <= hi), 0.0)


def assign(
    rng: random.Random,
    sex: str,
    age: int,
    *,
    married: bool,
    flags: Sequence[str] = (),
) -> tuple[str, ...]:
    """The categories of one resident; `flags` are household-level categories (低保,
    低收入农户, 计划生育特殊家庭, ...) that every member carries.
    Returns ("GENERAL",) when none apply."""
    found: list[str] = []
    if age <= 6:
        found.append("CHILD_0_6")
    if 7 <= age <= 17 or (18 <= age <= 22 and rng.random() < UNIVERSITY_STUDENT):
        found.append("STUDENT")
    if age >= 65:
        found.append("ELDERLY_65")
    if sex == "2" and 20 <= age <= 42:
        if rng.random() < (PREGNANT_MARRIED if married else PREGNANT_OTHER):
            found.append("PREGNANT_POSTPARTUM")
    hypertensive = rng.random() < _by_age(HYPERTENSION, age)
    if hypertensive:
        found.append("HYPERTENSION")
    diabetes = _by_age(DIABETES, age) * (DIABETES_WITH_HYPERTENSION if hypertensive else 1.0)
    if rng.random() < diabetes:
        found.append("DIABETES_T2")
    if age >= 15 and rng.random() < TUBERCULOSIS:
        found.append("TUBERCULOSIS")
    if age >= 18 and rng.random() < SEVERE_MENTAL_DISORDER:
        found.append("SEVERE_MENTAL_DISORDER")
    disabled = rng.random() < _by_age(DISABLED, age)
    if disabled:
        found.append("DISABLED")
    home_bed = (age >= 75 and rng.random() < HOME_BED_75) or (
        disabled and age >= 65 and rng.random() < HOME_BED_DISABLED_65
    )
    if home_bed:
        found.append("HOME_BED")
    found.extend(flags)
    return tuple(found) or ("GENERAL",)
