"""Synthetic households (户) and their members, with relations to the head and guardians.

Household shapes follow the usual Chinese census mix: nuclear families, empty-nest
elderly, three generations under one roof, single adults. Children carry the father's
surname, spouses keep their own. A migrant household's ID numbers all come from the
same home county. Population categories are assigned in `hub.demo.categories`.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass

from hub.demo import categories
from hub.demo.districts import DistrictSpec
from hub.demo.model import Household, HouseholdMember, Resident
from hub.demo.people import FEMALE, MALE, PersonFactory, age_on, migrant_origins

FAMILY_PLANNING_SPECIAL = 0.03  # of childless households whose head is 49+

# (shape, share of households); tuned so about 14% of residents are 65+ and the
# average household has about 2.9 people.
SHAPES: tuple[tuple[str, float], ...] = (
    ("single_elderly", 0.06),
    ("elderly_couple", 0.08),
    ("single_adult", 0.14),
    ("couple", 0.13),
    ("nuclear", 0.34),
    ("three_gen_up", 0.10),  # head with children and own parents
    ("three_gen_down", 0.07),  # elderly head with a married son and grandchildren
    ("single_parent", 0.05),
    ("shared", 0.03),  # unrelated adults sharing a flat (migrant workers)
)


@dataclass(frozen=True, slots=True)
class GridCell:
    """A community/village of a street and the team whose grid covers it."""

    street: str
    community: str
    community_no: int  # 1-based within the street; goes into health record numbers
    team_id: str


@dataclass(slots=True)
class _Planned:
    """A member before the person is drawn."""

    relation: str
    sex: str
    age: int
    surname: str
    parent_slots: tuple[int, ...] = ()  # positions of the parents within the household
    married: bool = False  # spouse lives in the same household


def _other(sex: str) -> str:
    return FEMALE if sex == MALE else MALE


def _spouse_age(rng: random.Random, head_age: int) -> int:
    return max(20, head_age + rng.randint(-6, 3))


def _children(rng: random.Random, plan: list[_Planned], father: int, mother: int) -> None:
    """1–3 children of the couple at `father`/`mother`, born when the mother was 22–40."""
    mother_age = plan[mother].age
    count = rng.choices((1, 2, 3), (0.58, 0.36, 0.06))[0]
    surname = plan[father].surname if rng.random() < 0.95 else plan[mother].surname
    relation = "CHILD" if plan[father].relation in ("SELF", "SPOUSE") else "GRANDCHILD"
    for _ in range(count):
        oldest = min(mother_age - 22, 26)
        if oldest < 0:
            break
        age = rng.randint(max(0, mother_age - 40), oldest)
        plan.append(_Planned(relation, rng.choice((MALE, FEMALE)), age, surname, (father, mother)))


def _plan(rng: random.Random, factory: PersonFactory, shape: str) -> list[_Planned]:
    """Who lives in a household of the given shape (head first)."""
    sex = MALE if rng.random() < 0.85 else FEMALE  # heads are mostly men
    surname = factory.surname()
    head = _Planned("SELF", sex, 0, surname)
    plan = [head]
    if shape == "single_elderly":
        head.sex = FEMALE if rng.random() < 0.6 else MALE  # widows outnumber widowers
        head.age = rng.randint(65, 96)
    elif shape == "elderly_couple":
        head.age = rng.randint(65, 90)
    elif shape in ("single_adult", "shared"):
        head.age = rng.randint(20, 64) if shape == "single_adult" else rng.randint(20, 45)
        head.sex = rng.choice((MALE, FEMALE))
    elif shape == "couple":
        head.age = rng.choice((rng.randint(22, 32), rng.randint(48, 64)))  # before/after kids
    elif shape in ("nuclear", "three_gen_up"):
        head.age = rng.randint(29, 57)
    elif shape == "three_gen_down":
        head.age = rng.randint(58, 82)
    elif shape == "single_parent":
        head.age = rng.randint(28, 52)
        head.sex = FEMALE if rng.random() < 0.7 else MALE
    couple = shape in ("elderly_couple", "couple", "nuclear", "three_gen_up", "three_gen_down")
    if couple:
        spouse_age = _spouse_age(rng, head.age)
        plan.append(_Planned("SPOUSE", _other(head.sex), spouse_age, factory.surname(), (), True))
        head.married = True
    father, mother = (0, 1) if head.sex == MALE else (1, 0)
    if shape in ("nuclear", "three_gen_up"):
        _children(rng, plan, father, mother)
    if shape == "single_parent":
        # The absent parent is represented by the head's own slot for both roles.
        _children(rng, plan, 0, 0)
    if shape == "three_gen_up":
        # The head's own parents; the head carries the father's surname.
        base = head.age + rng.randint(24, 32)
        if base <= 98:
            plan.append(_Planned("PARENT", MALE, base + rng.randint(0, 3), surname))
        if rng.random() < 0.8 and base <= 98:
            plan.append(_Planned("PARENT", FEMALE, base, factory.surname()))
            if plan[-2].relation == "PARENT":
                plan[-2].married = plan[-1].married = True
    if shape == "three_gen_down":
        son_age = max(26, head.age - rng.randint(24, 32))
        line = plan[father].surname
        plan.append(_Planned("CHILD", MALE, son_age, line, (father, mother), True))
        in_law = _Planned("OTHER", FEMALE, _spouse_age(rng, son_age), factory.surname())
        in_law.married = True
        plan.append(in_law)
        _children(rng, plan, len(plan) - 2, len(plan) - 1)
    if shape == "shared":
        for _ in range(rng.randint(1, 2)):
            age = rng.randint(20, 45)
            plan.append(_Planned("OTHER", rng.choice((MALE, FEMALE)), age, factory.surname()))
    return plan


def _guardian(
    plan: list[_Planned], slot: int, ages: Sequence[int]
) -> tuple[int | None, str | None]:
    """A minor's guardian is a parent in the household, else the grandparent head."""
    for parent in plan[slot].parent_slots:
        if parent != slot and ages[parent] >= 18:
            return parent, "PARENT"
    if plan[slot].relation == "GRANDCHILD" and ages[0] >= 18:
        return 0, "GRANDPARENT"
    adult = next((i for i, a in enumerate(ages) if a >= 18 and i != slot), None)
    return adult, "OTHER" if adult is not None else None


def _adult_guardian(
    plan: list[_Planned], slot: int, ages: Sequence[int]
) -> tuple[int | None, str | None]:
    """Guardian of an adult with a severe mental disorder: spouse, adult child, parent."""
    me = plan[slot].relation
    spouse = {"SELF": "SPOUSE", "SPOUSE": "SELF"}.get(me)
    order = (
        [(i, "SPOUSE") for i, p in enumerate(plan) if spouse and p.relation == spouse]
        + [(i, "CHILD") for i, p in enumerate(plan) if slot in p.parent_slots]
        + [(i, "PARENT") for i in plan[slot].parent_slots]
        + [(i, "OTHER") for i in range(len(plan))]
    )
    for i, relation in order:
        if i != slot and ages[i] >= 18:
            return i, relation
    return None, None


def generate_households(
    spec: DistrictSpec,
    factory: PersonFactory,
    rng: random.Random,
    grid: Sequence[GridCell],
    target: int,
    reference_date: dt.date,
) -> tuple[list[Household], list[Resident]]:
    """Households until at least `target` residents live in them."""
    shapes = [s for s, _ in SHAPES]
    shape_weights = [w for _, w in SHAPES]
    weight_by_street = {s.name: s.weight for s in spec.streets}
    cell_weights = [weight_by_street[c.street] for c in grid]
    households: list[Household] = []
    residents: list[Resident] = []
    while len(residents) < target:
        shape = rng.choices(shapes, shape_weights)[0]
        plan = _plan(rng, factory, shape)
        cell = rng.choices(grid, cell_weights)[0]
        village = cell.community if cell.community.endswith("村") else None
        address = factory.address(cell.street, village=village)
        # Migrant workers come as young families; their ID numbers, children's included
        # (hukou follows the parents), are issued at home.
        migrant = plan[0].age < 60 and rng.random() < spec.migrant_share * 1.4
        born = reference_date.year - plan[0].age
        origins = migrant_origins(born) if migrant else ()
        origin = rng.choice(origins) if origins else spec.region_code
        household_id = f"{spec.key}-hh-{len(households) + 1:05d}"
        flags = tuple(c for c, share in spec.household_categories.items() if rng.random() < share)
        # 计划生育特殊家庭: parents 49+ whose only child died or is disabled, so no child
        # lives with them.
        childless = shape in ("single_elderly", "elderly_couple", "couple")
        if childless and plan[0].age >= 49 and rng.random() < FAMILY_PLANNING_SPECIAL:
            flags += ("FAMILY_PLANNING_SPECIAL",)
        first = len(residents)
        people = [
            factory.person(
                sex=p.sex,
                birth_date=factory.birth_date((p.age, p.age)),
                surname=p.surname,
                address=address,
                street=cell.street,
                community=cell.community_no,
                id_region=origin,
            )
            for p in plan
        ]
        ages = [age_on(person.birth_date, reference_date) for person in people]
        for slot, (p, person) in enumerate(zip(plan, people, strict=True)):
            cats = categories.assign(rng, person.sex, ages[slot], married=p.married, flags=flags)
            guardian, relation = None, None
            if ages[slot] < 18:
                guardian, relation = _guardian(plan, slot, ages)
            elif "SEVERE_MENTAL_DISORDER" in cats:
                guardian, relation = _adult_guardian(plan, slot, ages)
            residents.append(
                Resident(
                    index=first + slot,
                    id=f"{spec.key}-res-{first + slot + 1:06d}",
                    person=person,
                    household_id=household_id,
                    relation=p.relation,
                    categories=cats,
                    guardian_index=None if guardian is None else first + guardian,
                    guardian_relation=relation if guardian is not None else None,
                )
            )
        households.append(
            Household(
                id=household_id,
                address=address,
                street=cell.street,
                community=cell.community,
                team_id=cell.team_id,
                head_index=first,
                members=tuple(
                    HouseholdMember(first + slot, p.relation) for slot, p in enumerate(plan)
                ),
                categories=flags,
            )
        )
    return households, residents
