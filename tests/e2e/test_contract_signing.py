"""Signing over GraphQL on the demo districts: fees by fund, households, capacity, guardians,
package rules, combination hospitals, FHIR."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from fhir.resources.R4B.contract import Contract as FhirContract

from hub.contracts import repository
from hub.registry.idnumber import make
from tests.conftest import Api
from tests.e2e import contract_support
from tests.e2e.contract_support import (
    TODAY,
    add_synthetic_households,
    codes,
    events,
    households,
    pick_residents,
    run,
    sign,
    teams_of_region,
)

# The module's fixtures: demo districts loaded, then the server, and an admin client.
demo = contract_support.demo
api = contract_support.api


def _fees(c: dict[str, Any]) -> tuple[str, str, str, str, str | None]:
    f = c["fees"]
    return f["price"], f["publicHealthFund"], f["insuranceFund"], f["personal"], f["personalPaidBy"]


def test_service_packages_of_every_region(api: Api) -> None:
    q = """query($r: String!) { servicePackages(region: $r) { code name nameEn kind price
        eligibility { insuranceTypes categories ageMax } fees { insuranceTypes publicHealthFund
        insuranceFund personal } items { code name frequency { kind count } service } } }"""
    for region in ("panyu", "wenzhou", "jilin", "yongkang", "erqi"):
        assert api(q, {"r": region})["servicePackages"], region
    panyu = {p["code"]: p for p in api(q, {"r": "panyu"})["servicePackages"]}
    basic = panyu["PY-BASIC-1"]
    assert (basic["kind"], basic["price"], basic["name"]) == ("BASIC", "130.00", "基本服务包1")
    assert basic["fees"][0] == {
        "insuranceTypes": ["URBAN_EMPLOYEE"],
        "publicHealthFund": "30.00",
        "insuranceFund": "70.00",
        "personal": "30.00",
    }
    follow_up = next(i for i in basic["items"] if i["code"] == "CHRONIC_FOLLOW_UP")
    assert follow_up["frequency"] == {"kind": "PER_YEAR", "count": 4}
    assert panyu["PY-CHILD-CHECK"]["eligibility"]["ageMax"] == 6
    unknown = api.raw('{ servicePackages(region: "atlantis") { code } }').json()
    assert unknown["errors"][0]["extensions"]["code"] == "REGION_UNKNOWN"


def test_panyu_basic_1_for_an_urban_employee_is_30_70_30(api: Api, demo: str) -> None:
    (r,) = pick_residents(demo, "panyu", insurance="URBAN_EMPLOYEE")
    out = sign(api, residentId=str(r.id), teamId=r.team_id, packageCodes=["PY-BASIC-1"])
    assert out["userErrors"] == []
    c = out["contract"]
    assert _fees(c) == ("130.00", "30.00", "70.00", "30.00", "PERSON")
    assert re.fullmatch(r"440113-\d{4}-\d{6}", c["number"])
    assert (c["status"], c["startsOn"], c["region"]) == ("ACTIVE", TODAY.isoformat(), "panyu")
    assert c["resident"]["signed"] is True and c["team"]["code"] == r.team_id
    fhir = FhirContract.parse_obj(c["fhir"])
    assert fhir.identifier[0].value == c["number"] and fhir.status == "executed"
    episode = fhir.contained[0]
    assert episode.get_resource_type() == "EpisodeOfCare" and episode.team[0].reference.startswith(
        "CareTeam/"
    )
    signed = api("""{ residents(first: 100, filter: {region: "panyu", signed: true}) {
        edges { node { residentId } } } }""")["residents"]["edges"]
    assert r.id in {e["node"]["residentId"] for e in signed}
    unsigned = api("""{ residents(first: 100, filter: {region: "panyu", signed: false}) {
        edges { node { residentId } } } }""")["residents"]["edges"]
    assert r.id not in {e["node"]["residentId"] for e in unsigned}
    (event,) = events(demo, "contract.signed", c["contractId"])
    assert event.organization_ids == [c["organization"]["code"]]


def test_panyu_basic_1_self_pay_pays_100(api: Api, demo: str) -> None:
    (r,) = pick_residents(demo, "panyu", insurance="SELF_PAY")
    out = sign(api, residentId=str(r.id), teamId=r.team_id, packageCodes=["PY-BASIC-1"])
    assert out["userErrors"] == []
    assert _fees(out["contract"]) == ("130.00", "30.00", "0.00", "100.00", "PERSON")


def test_a_second_contract_is_already_signed(api: Api, demo: str) -> None:
    (r,) = pick_residents(demo, "panyu", insurance="URBAN_RURAL_RESIDENT")
    first = sign(api, residentId=str(r.id), teamId=r.team_id, packageCodes=["PY-FREE"])
    assert first["userErrors"] == []
    assert _fees(first["contract"]) == ("30.00", "30.00", "0.00", "0.00", "PERSON")
    again = sign(api, residentId=str(r.id), teamId=r.team_id, packageCodes=["PY-BASIC-2"])
    assert again["contract"] is None and codes(again) == ["ALREADY_SIGNED"]
    assert first["contract"]["number"] in again["userErrors"][0]["message"]


def test_yongkang_120_is_45_45_30_and_civil_affairs_pays_for_hardship(api: Api, demo: str) -> None:
    team = teams_of_region(demo, "yongkang")[0]
    submitted = api(
        """mutation($i: ResidentRecordInput!) { submitResidentRecord(input: $i) {
            resident { residentId } userErrors { code } } }""",
        {
            "i": {
                "source": "vendor",
                "sourceId": "YK-HARDSHIP-1",
                "name": "胡志强",
                "sex": "1",
                "birthDate": "1968-05-02",
                "idNumber": make("330784", dt.date(1968, 5, 2), 517),
                "insuranceType": "URBAN_RURAL_RESIDENT",
                "categories": ["HARDSHIP"],
            }
        },
    )["submitResidentRecord"]
    rid = submitted["resident"]["residentId"]
    out = sign(api, residentId=str(rid), teamId=team.id, packageCodes=["YK-FEE"])
    assert out["userErrors"] == []
    c = out["contract"]
    assert _fees(c) == ("120.00", "45.00", "45.00", "30.00", "CIVIL_AFFAIRS")
    assert c["fees"]["personalByPayer"] == [{"payer": "CIVIL_AFFAIRS", "amount": "30.00"}]
    items = api(
        "query($id: ID!) { contract(id: $id) { fulfilment { itemCode } } }", {"id": c["id"]}
    )["contract"]["fulfilment"]
    assert {"HARDSHIP_RECORD", "BASE_KNOWLEDGE_PUSH"} <= {i["itemCode"] for i in items}
    (other,) = pick_residents(demo, "yongkang", insurance="URBAN_EMPLOYEE")
    plain = sign(api, residentId=str(other.id), teamId=other.team_id, packageCodes=["YK-FEE"])
    assert _fees(plain["contract"]) == ("120.00", "45.00", "45.00", "30.00", "PERSON")


def test_wenzhou_low_income_household_120_per_person_paid_by_county_finance(
    api: Api, demo: str
) -> None:
    from sqlalchemy import select

    from hub.registry.models import ResidentCategory

    async def low_income(s: Any) -> set[int]:
        rows = await s.scalars(
            select(ResidentCategory.resident_id).where(
                ResidentCategory.category == "LOW_INCOME_HOUSEHOLD"
            )
        )
        return set(rows)

    poor = run(demo, low_income)
    household, members = next(
        (h, ms)
        for h, ms in households(demo, "wenzhou")
        if any(m.id in poor and m.insurance_type == "URBAN_RURAL_RESIDENT" for m in ms)
    )
    eligible = [m for m in members if m.id in poor and m.insurance_type == "URBAN_RURAL_RESIDENT"]
    head = next(m for m in members if m.id == household.head_resident_id)
    out = sign(
        api,
        householdId=f"{household.id}",
        memberIds=[str(m.id) for m in eligible],
        teamId=head.team_id,
        packageCodes=["WZ-LOW-INCOME"],
    )
    assert out["userErrors"] == []
    assert len(out["contracts"]) == len(eligible)
    for c in out["contracts"]:
        assert _fees(c) == ("120.00", "0.00", "0.00", "120.00", "COUNTY_FINANCE")


def test_minor_signs_through_a_guardian(api: Api, demo: str) -> None:
    (child,) = pick_residents(demo, "panyu", adult=False)
    refused = sign(api, residentId=str(child.id), teamId=child.team_id, packageCodes=["PY-FREE"])
    assert (
        codes(refused) == ["GUARDIAN_REQUIRED"] and refused["userErrors"][0]["field"] == "guardian"
    )
    ok = sign(
        api,
        residentId=str(child.id),
        teamId=child.team_id,
        packageCodes=["PY-FREE"],
        guardian={"name": "陈丽华", "relation": "MOTHER", "phone": "13800138123"},
    )
    assert ok["userErrors"] == [] and ok["contract"]["guardian"]["name"] == "陈丽华"


def test_package_rules_reach_user_errors_one_per_violation(api: Api, demo: str) -> None:
    (r,) = pick_residents(demo, "panyu", insurance="URBAN_RURAL_RESIDENT")
    both = sign(api, residentId=str(r.id), teamId=r.team_id, packageCodes=["PY-FREE", "PY-BASIC-2"])
    assert codes(both) == ["EXCLUSIVE_PACKAGES"]
    addon = sign(api, residentId=str(r.id), teamId=r.team_id, packageCodes=["PY-HOME-BED"])
    assert set(codes(addon)) == {"PREREQUISITE_PACKAGE_MISSING", "PACKAGE_NOT_ELIGIBLE"}
    wrong_insurance = sign(api, residentId=str(r.id), teamId=r.team_id, packageCodes=["PY-BASIC-1"])
    assert "PACKAGE_NOT_ELIGIBLE" in codes(wrong_insurance)
    unknown = sign(api, residentId=str(r.id), teamId=r.team_id, packageCodes=["PY-GOLD"])
    assert codes(unknown) == ["PACKAGE_UNKNOWN"]


def test_only_primary_care_institutions_of_the_policy_sign(api: Api, demo: str) -> None:
    api("""mutation { a: upsertOrganization(input: {code: "PY-VC-1", name: "番禺区南村镇坑头村卫生室",
          kind: VILLAGE_CLINIC, region: "panyu", regionCode: "440113"}) { userErrors { code } }
        b: upsertPractitioner(input: {code: "PY-VD-1", name: "何志明", sex: "1",
          role: VILLAGE_DOCTOR, organizationCode: "PY-VC-1"}) { userErrors { code } }
        c: upsertTeam(input: {code: "PY-VC-TEAM", name: "坑头村卫生室签约团队",
          organizationCode: "PY-VC-1", leaderCode: "PY-VD-1", members: []}) { userErrors { code } } }""")
    (r,) = pick_residents(demo, "panyu", insurance="URBAN_RURAL_RESIDENT")
    out = sign(api, residentId=str(r.id), teamId="PY-VC-TEAM", packageCodes=["PY-FREE"])
    assert codes(out) == ["INSTITUTION_NOT_PRIMARY_CARE"]


def test_combination_hospitals_follow_the_policy(api: Api, demo: str) -> None:
    q = """{ organizations(first: 50, filter: {region: "panyu"}) { edges { node { code kind } } } }"""
    orgs = [e["node"] for e in api(q)["organizations"]["edges"]]
    secondary = [o["code"] for o in orgs if o["kind"] == "SECONDARY_HOSPITAL"]
    tertiary = [o["code"] for o in orgs if o["kind"] == "TERTIARY_HOSPITAL"]
    centre = next(o["code"] for o in orgs if o["kind"] == "COMMUNITY_HEALTH_CENTER")
    r1, r2 = pick_residents(demo, "panyu", insurance="URBAN_RURAL_RESIDENT", limit=2)
    too_many = sign(
        api,
        residentId=str(r1.id),
        teamId=r1.team_id,
        packageCodes=["PY-FREE"],
        hospitalIds=secondary[:2],
    )
    assert codes(too_many) == ["COMBINATION_LIMIT"]
    not_hospital = sign(
        api,
        residentId=str(r1.id),
        teamId=r1.team_id,
        packageCodes=["PY-FREE"],
        hospitalIds=[centre],
    )
    assert codes(not_hospital) == ["COMBINATION_HOSPITAL_KIND"]
    ok = sign(
        api,
        residentId=str(r2.id),
        teamId=r2.team_id,
        packageCodes=["PY-FREE"],
        hospitalIds=[secondary[0], *tertiary],
    )  # 1+1+N
    assert ok["userErrors"] == []
    got = api(
        "query($id: ID!) { contract(id: $id) { hospitals { code } fhir } }",
        {"id": ok["contract"]["id"]},
    )["contract"]
    assert [h["code"] for h in got["hospitals"]] == [secondary[0], *tertiary]
    FhirContract.parse_obj(got["fhir"])


def test_the_1501st_household_of_an_erqi_team_is_refused(api: Api, demo: str) -> None:
    load_q = (
        "query($id: ID!) { team(id: $id) { load { households persons capacityHouseholds full } } }"
    )
    (h1, m1), (h2, m2), (h3, m3) = households(demo, "erqi")[-3:]
    team = m1[0].team_id
    before = api(load_q, {"id": team})["team"]["load"]
    assert before["capacityHouseholds"] == 1500 and not before["full"]
    fill = 1500 - 1 - before["households"]

    async def fill_team(s: Any) -> int:
        from hub.directory.models import Team

        t = await s.get(Team, team)
        pairs = await add_synthetic_households(s, "erqi", fill, f"fill-{team}")
        return await repository.bulk_insert(
            s,
            [
                repository.NewContract(
                    resident_id=rid,
                    household_id=hid,
                    team_id=team,
                    organization_id=t.organization_id,
                    region_key="erqi",
                    region_code="410103",
                    starts_on=dt.date(2025, 1, 1),
                    ends_on=dt.date(2027, 12, 31),
                    packages=[
                        dict(
                            code="EQ-BASIC",
                            kind="FREE",
                            price=0,
                            public_health_fund=0,
                            insurance_fund=0,
                            personal=0,
                            personal_paid_by="PERSON",
                        )
                    ],
                )
                for hid, rid in pairs
            ],
        )

    assert run(demo, fill_team, write=True) == fill
    assert api(load_q, {"id": team})["team"]["load"]["households"] == 1499
    last = sign(api, householdId=str(h1.id), teamId=team, packageCodes=["EQ-BASIC"])
    assert last["userErrors"] == [] and len(last["contracts"]) == len(m1)  # the 1,500th
    full = api(load_q, {"id": team})["team"]["load"]
    assert full["households"] == 1500 and full["full"] is True
    refused = sign(api, householdId=str(h2.id), teamId=team, packageCodes=["EQ-BASIC"])
    assert codes(refused) == ["TEAM_FULL"] and refused["userErrors"][0]["field"] == "teamId"
    adult = next(m for m in m3 if m.birth_date and m.birth_date.year < TODAY.year - 18)
    single = sign(api, residentId=str(adult.id), teamId=team, packageCodes=["EQ-BASIC"])
    assert codes(single) == ["TEAM_FULL"]
