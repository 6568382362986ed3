"""The one place registry/directory codes become policy codes; team size and hospitals;
the service a sender names instead of an item code; the roll job's clock."""

from __future__ import annotations

import datetime as dt

from hub.contracts import facts
from hub.contracts.jobs import seconds_until
from hub.contracts.policy import get_policy
from hub.contracts.rules import (
    check_hospitals,
    check_team_load,
    service_item,
    team_limits,
)
from hub.contracts.terms import InstitutionKind as IK
from hub.contracts.terms import InsuranceType
from hub.contracts.terms import PopulationCategory as PC
from hub.directory.models import OrganizationKind
from hub.registry.models import PopulationCategory as RegistryCategory
from hub.registry.models import Resident

PANYU, ERQI, YONGKANG, JILIN = (get_policy(k) for k in ("panyu", "erqi", "yongkang", "jilin"))


def test_every_registry_category_and_organization_kind_has_a_policy_word() -> None:
    for c in RegistryCategory:
        assert c.value in facts.CATEGORY_FROM_REGISTRY, c
    for k in OrganizationKind:
        assert facts.institution_kind(k.value) in IK
    assert facts.policy_categories(["DIABETES_T2", "LOW_INCOME_HOUSEHOLD", "NOT_A_CODE"]) == {
        PC.TYPE2_DIABETES,
        PC.RURAL_LOW_INCOME,
    }
    assert facts.CATEGORY_TO_REGISTRY[PC.TYPE2_DIABETES] == "DIABETES_T2"
    assert facts.institution_kind("COMMUNITY_HEALTH_CENTER") is IK.COMMUNITY_HEALTH_CENTRE


def test_resident_facts_on_the_day_of_the_decision() -> None:
    r = Resident(birth_date=dt.date(1959, 6, 1), insurance_type=None, name="王建国")
    on_64 = facts.resident_facts(r, ["HYPERTENSION"], dt.date(2024, 5, 31))
    on_65 = facts.resident_facts(r, ["HYPERTENSION"], dt.date(2024, 6, 1))
    assert on_64.categories == {PC.HYPERTENSION}
    assert on_65.categories == {PC.HYPERTENSION, PC.ELDERLY_65}
    assert on_65.insurance_type is InsuranceType.SELF_PAY  # nothing on record
    child = Resident(birth_date=dt.date(2020, 1, 1), insurance_type="URBAN_RURAL_RESIDENT")
    assert PC.CHILD_0_6 in facts.resident_facts(child, [], dt.date(2024, 1, 1)).categories
    before = facts.personal_digest(r)
    r.insurance_type = "URBAN_EMPLOYEE"
    assert facts.personal_digest(r) != before


def test_team_limits_take_the_lower_of_team_and_policy() -> None:
    assert team_limits(ERQI, 1200) == (1200, None)
    assert team_limits(ERQI, 2000) == (1500, None)
    assert team_limits(ERQI, None) == (1500, None)
    assert team_limits(PANYU, 1200) == (1200, None)
    assert team_limits(PANYU, None) == (None, None)


def test_team_load_counts_households_not_people() -> None:
    ok = check_team_load(
        ERQI,
        households=1499,
        persons=4000,
        adding_households=1,
        adding_persons=5,
        team_capacity_households=1500,
    )
    assert ok == []
    full = check_team_load(
        ERQI,
        households=1500,
        persons=4000,
        adding_households=1,
        adding_persons=3,
        team_capacity_households=1500,
    )
    assert [v.code for v in full] == ["TEAM_FULL"] and full[0].field == "teamId"
    # a member joining a household the team already serves adds no household
    assert (
        check_team_load(
            ERQI,
            households=1500,
            persons=4000,
            adding_households=0,
            adding_persons=1,
            team_capacity_households=1500,
        )
        == []
    )


def test_combination_hospitals() -> None:
    assert (
        check_hospitals(PANYU, [IK.SECONDARY_HOSPITAL, IK.TERTIARY_HOSPITAL, IK.TERTIARY_HOSPITAL])
        == []
    )  # 1+1+N
    assert [v.code for v in check_hospitals(JILIN, [IK.TERTIARY_HOSPITAL] * 2)] == [
        "COMBINATION_LIMIT"
    ]  # 1+1+1
    assert [v.code for v in check_hospitals(PANYU, [IK.COMMUNITY_HEALTH_CENTRE])] == [
        "COMBINATION_HOSPITAL_KIND"
    ]
    assert [v.code for v in check_hospitals(ERQI, [IK.SECONDARY_HOSPITAL])] == [
        "COMBINATION_NOT_OFFERED"
    ]


def test_service_item_finds_the_follow_up_the_policy_measures() -> None:
    panyu = service_item(
        PANYU, ["PY-FREE"], {PC.HYPERTENSION}, service="follow_up", category=PC.HYPERTENSION
    )
    assert panyu is not None and panyu.code == "CHRONIC_FOLLOW_UP"
    yongkang = service_item(
        YONGKANG,
        ["YK-NO-FEE"],
        {PC.TYPE2_DIABETES, PC.HYPERTENSION},
        service="follow_up",
        category=PC.TYPE2_DIABETES,
    )
    assert yongkang is not None and yongkang.code == "DM_FOLLOW_UP"
    # not hypertensive on record: no follow-up is owed for it
    assert (
        service_item(PANYU, ["PY-FREE"], set(), service="follow_up", category=PC.HYPERTENSION)
        is None
    )
    general = service_item(
        JILIN, ["JL-BASIC"], {PC.HYPERTENSION}, service="follow_up", category=PC.HYPERTENSION
    )
    assert general is not None and general.code == "FACE_TO_FACE_FOLLOW_UP"


def test_roll_job_waits_for_the_next_run() -> None:
    at = dt.time(0, 10)
    assert seconds_until(at, dt.datetime(2024, 1, 1, 0, 0)) == 600
    assert seconds_until(at, dt.datetime(2024, 1, 1, 0, 10)) == 24 * 3600
    assert seconds_until(at, dt.datetime(2024, 1, 1, 23, 10)) == 3600
