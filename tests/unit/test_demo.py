"""Synthetic demo data: deterministic, internally consistent, plausible in size and mix."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections import Counter

import pytest

from hub.demo import districts
from hub.demo.generate import District, generate, generate_all
from hub.demo.model import CATEGORIES, FAMILY_DOCTOR_ROLES, ORGANIZATION_KINDS, RELATIONS
from hub.demo.people import REFERENCE_DATE, PersonFactory, SyntheticPerson, age_on
from hub.registry.idnumber import contradictions, parse

MOBILE = re.compile(r"1[3-9]\d{9}")
LANDLINE = re.compile(r"0\d{2,3}-[2-8]\d{7}")


@pytest.fixture(scope="module")
def all_districts() -> dict[str, District]:
    return generate_all()


@pytest.fixture(scope="module")
def panyu(all_districts: dict[str, District]) -> District:
    return all_districts["panyu"]


def _factory(seed: int = 7) -> PersonFactory:
    return PersonFactory(seed, "440113", ["市桥街道", "沙头街道", "南村镇"], migrant_share=0.3)


# -- people ----------------------------------------------------------------------------


def _people(factory: PersonFactory, n: int) -> list[SyntheticPerson]:
    return [factory.person() for _ in range(n)]


def test_factory_is_deterministic() -> None:
    assert _people(_factory(), 300) == _people(_factory(), 300)
    assert _people(_factory(8), 50) != _people(_factory(7), 50)


def test_factory_ids_are_valid_unique_and_agree_with_the_person() -> None:
    people = _people(_factory(), 5_000)
    for p in people:
        number = parse(p.id_number)
        assert number.valid, p
        assert contradictions(number, birth_date=p.birth_date, sex=p.sex) == []
        assert p.health_record_no.startswith("440113") and len(p.health_record_no) == 17
        assert p.phone is None or MOBILE.fullmatch(p.phone) or LANDLINE.fullmatch(p.phone)
        assert (p.insurance_card is None) == (p.insurance_type == "SELF_PAY")
    assert len({p.id_number for p in people}) == len(people)
    assert len({p.health_record_no for p in people}) == len(people)
    # Residents born before 番禺区 existed (2000) carry the older county codes.
    assert {p.id_number[:6] for p in people} >= {"440113", "440126", "440181"}


def test_factory_keeps_what_it_is_told() -> None:
    factory = _factory()
    p = factory.person(
        sex="2", age_range=(65, 70), surname="区", address="番禺区南村镇坑头村3巷1号"
    )
    assert p.sex == "2" and p.name.startswith("区") and 65 <= p.age() <= 70
    assert p.address == "番禺区南村镇坑头村3巷1号"
    assert p.health_record_no[6:9] == "003"  # the street is read from the address
    born = dt.date(2020, 2, 29)
    child = factory.person(birth_date=born, sex="1")
    assert child.birth_date == born and child.id_number[6:14] == "20200229"
    assert child.phone is None and child.insurance_type != "URBAN_EMPLOYEE"


def test_surnames_follow_frequencies() -> None:
    counts = Counter(p.name[0] for p in _people(_factory(), 5_000))
    top = [s for s, _ in counts.most_common(6)]
    assert "陈" in top and ("李" in top or "黄" in top)  # Guangdong: 陈 and 黄 lead
    names = {p.name for p in _people(_factory(3), 20_000)}
    assert any(n[0] in "曾单解仇区" for n in names)
    assert all(2 <= len(n) <= 4 for n in names)


# -- districts -------------------------------------------------------------------------


def test_generation_is_deterministic() -> None:
    assert generate("erqi", seed=3) == generate("erqi", seed=3)
    assert generate("erqi", seed=3).residents != generate("erqi", seed=4).residents


def test_generation_is_fast() -> None:
    started = time.perf_counter()
    generate_all(seed=1)
    # The target is < 3 s; the bound leaves room for a loaded CI machine.
    assert time.perf_counter() - started < 6


def test_panyu_is_the_big_district(panyu: District) -> None:
    assert len(panyu.residents) >= 20_000
    assert 55 <= len(panyu.teams) <= 65
    assert 18 <= len(panyu.organizations) <= 30
    kinds = Counter(o.kind for o in panyu.organizations)
    for kind in ("TERTIARY_HOSPITAL", "SECONDARY_HOSPITAL", "MATERNAL_CHILD_HOSPITAL"):
        assert kinds[kind] >= 1
    assert kinds["COMMUNITY_HEALTH_CENTER"] >= 8 and kinds["TOWNSHIP_HEALTH_CENTER"] >= 1
    assert kinds["COMMUNITY_HEALTH_STATION"] >= 1
    streets = {o.street for o in panyu.organizations}
    assert {"市桥街道", "小谷围街道", "南村镇", "沙湾镇"} <= streets


@pytest.mark.parametrize("key", ["wenzhou", "jilin", "yongkang", "erqi"])
def test_small_districts(all_districts: dict[str, District], key: str) -> None:
    d = all_districts[key]
    assert 1_000 <= len(d.residents) <= 2_200
    assert 3 <= len(d.teams) <= 6
    assert 3 <= len(d.organizations) <= 12
    assert d.region_code == districts.get(key).region_code


def test_scale_changes_residents_only() -> None:
    small = generate("panyu", scale=0.05)
    assert 1_000 <= len(small.residents) <= 1_100
    assert len(small.teams) == 60


def test_ids_are_valid_and_unique_across_districts(all_districts: dict[str, District]) -> None:
    seen: set[str] = set()
    for d in all_districts.values():
        for r in d.residents:
            p = r.person
            number = parse(p.id_number)
            assert number.valid, p
            assert contradictions(number, birth_date=p.birth_date, sex=p.sex) == []
            assert p.id_number not in seen
            seen.add(p.id_number)
            assert p.region_code == d.region_code
            assert p.health_record_no.startswith(d.region_code)
        for pr in d.practitioners:
            assert parse(pr.id_number).valid and pr.id_number not in seen
            seen.add(pr.id_number)


def test_households_and_residents_agree(all_districts: dict[str, District]) -> None:
    for d in all_districts.values():
        team_grids = {t.id: t.grid for t in d.teams}
        assigned: Counter[int] = Counter()
        for h in d.households:
            head = d.residents[h.head_index]
            assert h.members[0].resident_index == h.head_index and head.relation == "SELF"
            assert sum(m.relation == "SELF" for m in h.members) == 1
            grid = team_grids[h.team_id]
            assert grid.street == h.street and h.community in grid.communities
            for m in h.members:
                r = d.residents[m.resident_index]
                assert r.household_id == h.id and r.relation == m.relation in RELATIONS
                assert r.person.address == h.address
                assigned[m.resident_index] += 1
        assert all(r.index == i for i, r in enumerate(d.residents))
        assert set(assigned) == set(range(len(d.residents)))
        assert set(assigned.values()) == {1}


def test_categories_agree_with_age_and_sex(all_districts: dict[str, District]) -> None:
    for d in all_districts.values():
        for r in d.residents:
            age = age_on(r.person.birth_date, REFERENCE_DATE)
            cats = set(r.categories)
            assert cats <= set(CATEGORIES) and len(cats) == len(r.categories)
            assert ("CHILD_0_6" in cats) == (age <= 6)
            assert ("ELDERLY_65" in cats) == (age >= 65)
            assert ("GENERAL" in cats) == (cats == {"GENERAL"})
            if "PREGNANT_POSTPARTUM" in cats:
                assert r.person.sex == "2" and 20 <= age <= 42
            if "STUDENT" in cats:
                assert 7 <= age <= 22
            if age < 18:
                assert r.person.insurance_type != "URBAN_EMPLOYEE"


def test_guardians(all_districts: dict[str, District]) -> None:
    for d in all_districts.values():
        for r in d.residents:
            if r.person.age() < 18 or "SEVERE_MENTAL_DISORDER" in r.categories:
                if r.person.age() < 18:
                    assert r.guardian_index is not None, r
                if r.guardian_index is None:
                    continue
                guardian = d.residents[r.guardian_index]
                assert guardian.household_id == r.household_id
                assert guardian.person.age() >= 18 and guardian.index != r.index
                assert r.guardian_relation is not None
            else:
                assert r.guardian_index is None


def test_proportions_are_plausible(panyu: District, all_districts: dict[str, District]) -> None:
    n = len(panyu.residents)
    ages = [r.person.age() for r in panyu.residents]
    assert 0.11 <= sum(a >= 65 for a in ages) / n <= 0.18
    assert 0.05 <= sum(a <= 6 for a in ages) / n <= 0.11
    elderly = [r for r in panyu.residents if "ELDERLY_65" in r.categories]
    assert 0.20 <= sum("HYPERTENSION" in r.categories for r in elderly) / len(elderly) <= 0.30
    over35 = [r for r in panyu.residents if r.person.age() >= 35]
    assert 0.05 <= sum("DIABETES_T2" in r.categories for r in over35) / len(over35) <= 0.11
    insurance = Counter(r.person.insurance_type for r in panyu.residents)
    assert 0.40 <= insurance["URBAN_EMPLOYEE"] / n <= 0.50
    assert 0.45 <= insurance["URBAN_RURAL_RESIDENT"] / n <= 0.55
    assert 0.02 <= insurance["SELF_PAY"] / n <= 0.08
    wenzhou = all_districts["wenzhou"]
    resident = sum(r.person.insurance_type == "URBAN_RURAL_RESIDENT" for r in wenzhou.residents)
    assert resident / len(wenzhou.residents) > 0.75
    low_income = sum("LOW_INCOME_HOUSEHOLD" in h.categories for h in wenzhou.households)
    assert 0.15 <= low_income / len(wenzhou.households) <= 0.45


def test_teams_and_institutions(all_districts: dict[str, District]) -> None:
    for d in all_districts.values():
        orgs = {o.id: o for o in d.organizations}
        staff = {p.id: p for p in d.practitioners}
        assert len(orgs) == len(d.organizations) and len(staff) == len(d.practitioners)
        for o in d.organizations:
            assert o.kind in ORGANIZATION_KINDS and o.region_code == d.region_code
            assert (o.parent_id is not None) == (
                o.kind in ("COMMUNITY_HEALTH_STATION", "VILLAGE_CLINIC")
            )
            assert LANDLINE.fullmatch(o.phone)
        for t in d.teams:
            assert orgs[t.organization_id].primary_care
            assert t.leader_id in {m.practitioner_id for m in t.members}
            assert staff[t.leader_id].role in FAMILY_DOCTOR_ROLES
            assert all(staff[m.practitioner_id].role == m.role for m in t.members)
            assert 1_000 <= t.capacity_households <= 1_500
        assert len({t.name for t in d.teams}) == len(d.teams)
    assert all(t.capacity_households == 1_500 for t in all_districts["erqi"].teams)
    assert all_districts["panyu"].teams[2].name == "市桥街道第3家庭医生团队"
