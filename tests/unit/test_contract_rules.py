"""Contract rules on the seed scenarios: eligibility, fees, expiry, fulfilment."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from hub.contracts.policy import get_policy
from hub.contracts.rules import (
    ResidentFacts,
    RuleViolation,
    RuleViolations,
    ViolationCode,
    check_combination,
    check_item_choices,
    check_package_eligibility,
    check_package_set,
    check_prescription,
    check_signing,
    check_signing_party,
    check_team_capacity,
    check_team_change,
    contract_fees,
    contract_items,
    is_long_absence,
    package_fees,
    raise_for,
    reserved_share,
)
from hub.contracts.terms import InstitutionKind as IK
from hub.contracts.terms import InsuranceType as IT
from hub.contracts.terms import Payer
from hub.contracts.terms import PopulationCategory as PC

V = ViolationCode
TODAY = dt.date(2024, 7, 1)
PANYU, YONGKANG, WENZHOU = get_policy("panyu"), get_policy("yongkang"), get_policy("wenzhou")
ERQI, JILIN = get_policy("erqi"), get_policy("jilin")


def adult(insurance: IT = IT.URBAN_EMPLOYEE, *cats: PC, guardian: bool = False) -> ResidentFacts:
    return ResidentFacts(dt.date(1970, 5, 2), insurance, frozenset(cats), guardian)


def codes(violations: list[RuleViolation]) -> list[ViolationCode]:
    return [v.code for v in violations]


# -- fees ----------------------------------------------------------------------------


def test_panyu_basic_1_urban_employee_130_is_30_70_30() -> None:
    f = package_fees(PANYU, "PY-BASIC-1", adult(IT.URBAN_EMPLOYEE))
    assert (f.price, f.public_health_fund, f.insurance_fund, f.personal) == (130, 30, 70, 30)
    assert f.personal_paid_by is Payer.PERSON
    assert f.charge_item_zh == "城镇职工社会医疗保险参保人基本服务包年签约服务费"
    assert all(isinstance(x, Decimal) for x in (f.price, f.personal))


def test_panyu_basic_1_self_pay_personal_100() -> None:
    f = package_fees(PANYU, "PY-BASIC-1", adult(IT.SELF_PAY))
    assert (f.price, f.public_health_fund, f.insurance_fund, f.personal) == (130, 30, 0, 100)


def test_panyu_basic_2_70_is_30_20_20_and_self_pay_40() -> None:
    f = package_fees(PANYU, "PY-BASIC-2", adult(IT.URBAN_RURAL_RESIDENT))
    assert (f.price, f.public_health_fund, f.insurance_fund, f.personal) == (70, 30, 20, 20)
    assert package_fees(PANYU, "PY-BASIC-2", adult(IT.SELF_PAY)).personal == 40
    student = adult(IT.URBAN_RURAL_RESIDENT, PC.COLLEGE_STUDENT_OUTPATIENT_QUOTA)
    assert package_fees(PANYU, "PY-BASIC-2", student).insurance_fund == 0


def test_panyu_free_package_paid_by_public_health() -> None:
    f = package_fees(PANYU, "PY-FREE", adult(IT.SELF_PAY))
    assert (f.price, f.public_health_fund, f.personal) == (30, 30, 0)


def test_basic_1_for_resident_insured_has_no_fee_rule() -> None:
    with pytest.raises(RuleViolation) as err:
        package_fees(PANYU, "PY-BASIC-1", adult(IT.URBAN_RURAL_RESIDENT))
    assert err.value.code is V.NO_FEE_RULE


def test_yongkang_120_is_45_45_30_and_hardship_share_paid_by_civil_affairs() -> None:
    f = package_fees(YONGKANG, "YK-FEE", adult(IT.URBAN_RURAL_RESIDENT))
    assert (f.price, f.insurance_fund, f.public_health_fund, f.personal) == (120, 45, 45, 30)
    assert f.personal_paid_by is Payer.PERSON
    poor = adult(IT.URBAN_RURAL_RESIDENT, PC.SUBSISTENCE_ALLOWANCE)
    assert package_fees(YONGKANG, "YK-FEE", poor).personal_paid_by is Payer.CIVIL_AFFAIRS
    five = adult(IT.URBAN_RURAL_RESIDENT, PC.FIVE_GUARANTEE)
    assert package_fees(YONGKANG, "YK-FEE", five).personal_paid_by is Payer.CIVIL_AFFAIRS
    disabled = adult(IT.URBAN_RURAL_RESIDENT, PC.DISABLED)
    fd = package_fees(YONGKANG, "YK-FEE", disabled)
    assert fd.personal_paid_by is Payer.DISABLED_PERSONS_FEDERATION and fd.personal == 30


def test_wenzhou_low_income_120_per_person_paid_by_county_finance() -> None:
    r = adult(IT.URBAN_RURAL_RESIDENT, PC.RURAL_LOW_INCOME)
    assert check_package_eligibility(WENZHOU, "WZ-LOW-INCOME", r, TODAY) == []
    total = contract_fees(WENZHOU, ["WZ-LOW-INCOME"], r)
    assert total.price == 120 and total.personal == 120
    assert total.personal_by_payer == {Payer.COUNTY_FINANCE: Decimal(120)}


def test_contract_total_adds_packages_and_splits_by_payer() -> None:
    child = ResidentFacts(dt.date(2023, 1, 1), IT.URBAN_RURAL_RESIDENT, frozenset({PC.CHILD_0_6}))
    total = contract_fees(PANYU, ["PY-BASIC-2", "PY-CHILD-CHECK"], child)
    assert total.price == 287 and total.personal == 237
    assert total.public_health_fund == 30 and total.insurance_fund == 20
    assert total.packages["PY-CHILD-CHECK"].personal == 217


def test_jilin_leaves_prices_to_cities() -> None:
    with pytest.raises(RuleViolation) as err:
        package_fees(JILIN, "JL-BASIC", adult())
    assert err.value.code is V.PRICE_NOT_SET and "jilin policy file" in err.value.message


def test_tier_modules_cost_nothing_on_their_own() -> None:
    assert package_fees(YONGKANG, "YK-HYPERTENSION", adult()).price == 0


# -- what may be signed together --------------------------------------------------------


def test_free_xor_basic() -> None:
    assert codes(check_package_set(PANYU, ["PY-FREE", "PY-BASIC-1"])) == [V.EXCLUSIVE_PACKAGES]
    assert check_package_set(PANYU, ["PY-BASIC-2"]) == []
    assert codes(check_package_set(YONGKANG, ["YK-FEE", "YK-NO-FEE"])) == [V.EXCLUSIVE_PACKAGES]


def test_personalised_needs_free_or_basic() -> None:
    alone = check_package_set(PANYU, ["PY-CHILD-CHECK"])
    assert codes(alone) == [V.PREREQUISITE_PACKAGE_MISSING]
    assert "PY-FREE" in alone[0].message
    assert check_package_set(PANYU, ["PY-FREE", "PY-CHILD-CHECK"]) == []
    assert check_package_set(PANYU, ["PY-BASIC-1", "PY-HOME-BED"]) == []


def test_unknown_and_empty_package_sets() -> None:
    with pytest.raises(RuleViolation) as err:
        check_package_set(PANYU, ["PY-GOLD"])
    assert err.value.code is V.PACKAGE_UNKNOWN
    assert codes(check_package_set(PANYU, [])) == [V.NO_PACKAGE]


def test_child_pack_choose_3_of_4_for_217() -> None:
    three = ["JAUNDICE_TEST", "VITAMIN_D_TEST", "BREAST_MILK_ANALYSIS"]
    assert check_item_choices(PANYU, "PY-CHILD-CHECK", three) == []
    assert codes(check_item_choices(PANYU, "PY-CHILD-CHECK", three[:2])) == [V.ITEM_CHOICE_INVALID]
    four = [*three, "TRACE_ELEMENTS_8"]
    assert codes(check_item_choices(PANYU, "PY-CHILD-CHECK", four)) == [V.ITEM_CHOICE_INVALID]
    child = ResidentFacts(dt.date(2023, 1, 1), IT.SELF_PAY, frozenset({PC.CHILD_0_6}))
    assert package_fees(PANYU, "PY-CHILD-CHECK", child).price == Decimal(217)
    items = contract_items(PANYU, ["PY-FREE", "PY-CHILD-CHECK"], child.categories, three)
    assert "TRACE_ELEMENTS_8" not in {i.code for i in items}
    assert {"JAUNDICE_TEST", "CHILD_EXAM"} <= {i.code for i in items}


def test_eligibility_by_insurance_category_and_tier() -> None:
    r = adult(IT.URBAN_RURAL_RESIDENT)
    assert codes(check_package_eligibility(PANYU, "PY-BASIC-1", r, TODAY)) == [
        V.PACKAGE_NOT_ELIGIBLE
    ]
    assert codes(check_package_eligibility(PANYU, "PY-CHILD-CHECK", r, TODAY)) == [
        V.PACKAGE_NOT_ELIGIBLE
    ]
    assert codes(check_package_eligibility(YONGKANG, "YK-FEE", adult(IT.SELF_PAY), TODAY)) == [
        V.PACKAGE_NOT_ELIGIBLE
    ]
    assert codes(check_package_eligibility(YONGKANG, "YK-CHILD", r, TODAY)) == [
        V.PACKAGE_NOT_SIGNABLE
    ]
    seven = ResidentFacts(dt.date(2017, 6, 30), IT.SELF_PAY)
    too_old = check_package_eligibility(PANYU, "PY-CHILD-CHECK", seven, TODAY)
    assert codes(too_old) == [V.PACKAGE_NOT_ELIGIBLE] and "the resident is 7" in too_old[0].message
    six = ResidentFacts(dt.date(2017, 7, 2), IT.SELF_PAY)
    assert check_package_eligibility(PANYU, "PY-CHILD-CHECK", six, TODAY) == []


def test_minor_without_guardian() -> None:
    minor = ResidentFacts(dt.date(2010, 3, 1), IT.URBAN_RURAL_RESIDENT)
    found = check_signing(
        PANYU, minor, ["PY-FREE"], on=TODAY, institution_kind=IK.COMMUNITY_HEALTH_CENTRE
    )
    assert codes(found) == [V.GUARDIAN_REQUIRED]
    with_guardian = ResidentFacts(minor.birth_date, minor.insurance_type, has_guardian=True)
    assert (
        check_signing(
            PANYU, with_guardian, ["PY-FREE"], on=TODAY, institution_kind=IK.COMMUNITY_HEALTH_CENTRE
        )
        == []
    )
    eighteen_today = ResidentFacts(dt.date(2006, 7, 1), IT.URBAN_RURAL_RESIDENT)
    assert (
        check_signing(
            PANYU,
            eighteen_today,
            ["PY-FREE"],
            on=TODAY,
            institution_kind=IK.COMMUNITY_HEALTH_CENTRE,
        )
        == []
    )


def test_wenzhou_guardian_for_mental_illness_and_severe_disability() -> None:
    for cat in (PC.MENTAL_ILLNESS, PC.SEVERE_DISABILITY):
        r = adult(IT.URBAN_RURAL_RESIDENT, cat)
        found = check_signing(
            WENZHOU, r, ["WZ-STANDARD"], on=TODAY, institution_kind=IK.TOWNSHIP_HEALTH_CENTRE
        )
        assert codes(found) == [V.GUARDIAN_REQUIRED]


def test_check_signing_collects_every_problem_and_raise_for() -> None:
    minor = ResidentFacts(dt.date(2015, 1, 1), IT.URBAN_RURAL_RESIDENT)
    found = check_signing(
        PANYU, minor, ["PY-FREE", "PY-BASIC-1"], on=TODAY, institution_kind=IK.TERTIARY_HOSPITAL
    )
    assert set(codes(found)) == {
        V.EXCLUSIVE_PACKAGES,
        V.PACKAGE_NOT_ELIGIBLE,
        V.GUARDIAN_REQUIRED,
        V.INSTITUTION_NOT_PRIMARY_CARE,
    }
    with pytest.raises(RuleViolations) as err:
        raise_for(found)
    assert V.GUARDIAN_REQUIRED in err.value.codes
    with pytest.raises(RuleViolation):
        raise_for(found[:1])
    raise_for([])


# -- teams, institutions, combinations, prescriptions --------------------------------------


def test_erqi_team_capacity_1500_households() -> None:
    assert check_team_capacity(ERQI, 1499) == []
    full = check_team_capacity(ERQI, 1500)
    assert codes(full) == [V.TEAM_FULL] and "1500" in full[0].message
    assert "households" in full[0].message
    assert check_team_capacity(PANYU, 10_000) == []  # no cap in Panyu's seed


def test_signing_party_primary_care_only() -> None:
    assert check_signing_party(JILIN, IK.VILLAGE_CLINIC) == []
    assert codes(check_signing_party(JILIN, IK.SECONDARY_HOSPITAL)) == [
        V.INSTITUTION_NOT_PRIMARY_CARE
    ]
    assert codes(check_signing_party(JILIN, IK.PRIVATE_CLINIC)) == [V.INSTITUTION_NOT_PRIMARY_CARE]
    assert check_signing_party(JILIN, IK.PRIVATE_CLINIC, area_has_primary_care=False) == []
    found = check_signing_party(
        JILIN, IK.COMMUNITY_HEALTH_CENTRE, in_personal_name=True, doctor_from_hospital_directly=True
    )
    assert codes(found) == [V.HOSPITAL_DOCTOR_SIGNING, V.PERSONAL_NAME_CONTRACT]


def test_change_team_same_institution_only() -> None:
    assert check_team_change(PANYU, from_institution="A", to_institution="A") == []
    found = check_team_change(PANYU, from_institution="A", to_institution="B")
    assert codes(found) == [V.CROSS_INSTITUTION_CHANGE]


def test_combination_signing() -> None:
    assert check_combination(PANYU, secondary=1, tertiary=3) == []  # 1+1+N
    assert codes(check_combination(JILIN, secondary=1, tertiary=2)) == [V.COMBINATION_LIMIT]
    assert codes(check_combination(ERQI, secondary=1, tertiary=0)) == [V.COMBINATION_NOT_OFFERED]


def test_yongkang_long_prescription_12_weeks_max() -> None:
    assert check_prescription(YONGKANG, prescribed_on=TODAY, days_supply=84) == []
    found = check_prescription(YONGKANG, prescribed_on=TODAY, days_supply=16 * 7)
    assert codes(found) == [V.PRESCRIPTION_TOO_LONG] and "12 weeks" in found[0].message


def test_panyu_long_prescription_two_calendar_months() -> None:
    assert check_prescription(PANYU, prescribed_on=dt.date(2024, 7, 1), days_supply=62) == []
    assert check_prescription(PANYU, prescribed_on=dt.date(2024, 7, 1), days_supply=63)
    assert check_prescription(WENZHOU, prescribed_on=TODAY, days_supply=365) == []  # not regulated


def test_jilin_reserved_shares_by_date() -> None:
    assert reserved_share(JILIN, IK.TERTIARY_HOSPITAL, dt.date(2016, 12, 31)) is None
    assert reserved_share(JILIN, IK.TERTIARY_HOSPITAL, dt.date(2018, 6, 1)) == Decimal("0.30")
    assert reserved_share(JILIN, IK.SECONDARY_HOSPITAL, dt.date(2018, 6, 1)) == Decimal("0.40")
    assert reserved_share(JILIN, IK.TERTIARY_HOSPITAL, dt.date(2020, 1, 1)) == Decimal("0.50")
    assert reserved_share(JILIN, IK.SECONDARY_HOSPITAL, dt.date(2021, 1, 1)) == Decimal("0.60")


def test_wenzhou_long_absence_over_three_months() -> None:
    assert not is_long_absence(WENZHOU, dt.date(2024, 1, 15), dt.date(2024, 4, 15))
    assert is_long_absence(WENZHOU, dt.date(2024, 1, 15), dt.date(2024, 4, 16))
    assert not is_long_absence(PANYU, dt.date(2020, 1, 1), TODAY)
