"""The foundation over real HTTP: auth, directory, registry submit/read, FHIR, audit."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import Any

import pytest
from fhir.resources.R4B.careteam import CareTeam
from fhir.resources.R4B.organization import Organization
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.practitioner import Practitioner

from hub.registry.idnumber import make
from tests.conftest import Api, LiveServer, create_client_token

ADMIN_SCOPES = ["admin"]
VALID_ID = make("440113", dt.date(1958, 3, 14), 123)  # odd sequence: male
CHILD_ID = make("440113", dt.date(2022, 6, 1), 246)  # even: female

DIRECTORY = """
mutation {
  a: upsertOrganization(input: {code: "T-CHC", name: "市桥街社区卫生服务中心", kind: COMMUNITY_HEALTH_CENTER,
     region: "panyu", regionCode: "440113"}) { organization { id primaryCare } userErrors { code } }
  b: upsertOrganization(input: {code: "T-HOSP", name: "番禺区中心医院", kind: TERTIARY_HOSPITAL,
     region: "panyu", regionCode: "440113"}) { organization { id primaryCare } userErrors { code } }
  c: upsertOrganization(input: {code: "T-CHC2", name: "沙头街社区卫生服务中心", kind: COMMUNITY_HEALTH_CENTER,
     region: "panyu", regionCode: "440113"}) { organization { id } userErrors { code } }
  d: upsertPractitioner(input: {code: "T-GP1", name: "陈建国", sex: "1", role: GP, organizationCode: "T-CHC"})
     { practitioner { id } userErrors { code } }
  e: upsertPractitioner(input: {code: "T-N1", name: "李丽", sex: "2", role: NURSE, organizationCode: "T-CHC"})
     { practitioner { id } userErrors { code } }
}"""

TEAM = """
mutation($org: String!) { upsertTeam(input: {code: "T-TEAM1", name: "市桥第1家庭医生团队", organizationCode: $org,
  leaderCode: "T-GP1", gridArea: "市桥街道东片", capacityHouseholds: 1200,
  members: [{practitionerCode: "T-GP1", role: GP}, {practitionerCode: "T-N1", role: NURSE}]})
  { team { id name members { role practitioner { name } } fhir } userErrors { code field message } } }"""

SUBMIT = """
mutation($input: ResidentRecordInput!) { submitResidentRecord(input: $input) {
  outcome flags resident { id residentId name idNumber categories sourceRecords { source sourceId } }
  userErrors { code field message } } }"""


@pytest.fixture(scope="module")
def admin(live: LiveServer, db_url: str) -> Api:
    return Api(live.url, create_client_token(db_url, "admin-e2e", ADMIN_SCOPES))


@pytest.fixture(scope="module")
def directory(admin: Api) -> dict[str, Any]:
    data = admin(DIRECTORY)
    assert data["a"]["organization"]["primaryCare"] is True
    assert data["b"]["organization"]["primaryCare"] is False
    return data


def test_request_without_token_gets_401(live: LiveServer) -> None:
    response = Api(live.url, None).raw("{ residents(first: 1) { totalCount } }")
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    bad = Api(live.url, "hub_not-a-real-token").raw("{ residents(first: 1) { totalCount } }")
    assert bad.status_code == 401


def test_graphiql_page_opens_in_a_browser(live: LiveServer) -> None:
    import httpx

    page = httpx.get(f"{live.url}/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()


def test_team_must_belong_to_primary_care(admin: Api, directory: dict[str, Any]) -> None:
    bad = admin(TEAM, {"org": "T-HOSP"})["upsertTeam"]
    assert bad["team"] is None
    assert bad["userErrors"][0]["code"] == "INSTITUTION_NOT_PRIMARY_CARE"
    good = admin(TEAM, {"org": "T-CHC"})["upsertTeam"]
    assert good["userErrors"] == []
    assert [m["practitioner"]["name"] for m in good["team"]["members"]] == ["陈建国", "李丽"]
    CareTeam.parse_obj(good["team"]["fhir"])


def test_invalid_id_number_is_refused_and_nothing_stored(
    admin: Api, directory: dict[str, Any]
) -> None:
    wrong = VALID_ID[:-1] + ("0" if VALID_ID[-1] != "0" else "1")
    out = admin(
        SUBMIT,
        {
            "input": {
                "source": "vendor",
                "sourceId": "V-BAD",
                "name": "王建国",
                "sex": "1",
                "idNumber": wrong,
            }
        },
    )["submitResidentRecord"]
    assert out["resident"] is None
    assert out["userErrors"][0]["code"] == "INVALID_ID_NUMBER"
    assert out["userErrors"][0]["field"] == "idNumber"
    # nothing stored, and the hub keeps answering
    again = admin(f"""{{ residentByIdentifier(system: ID_CARD, value: "{VALID_ID}") {{ id }} }}""")
    assert again["residentByIdentifier"] is None


def test_submit_links_by_id_number_and_reads_back(admin: Api, directory: dict[str, Any]) -> None:
    base = {
        "name": "王建国",
        "sex": "1",
        "birthDate": "1958-03-14",
        "phone": "13800138000",
        "address": "广州市番禺区市桥街道光明北路12号3栋201",
        "insuranceType": "URBAN_EMPLOYEE",
        "insuranceCard": "440113001122",
        "categories": ["HYPERTENSION"],
    }
    first = admin(
        SUBMIT,
        {"input": {**base, "source": "vendor", "sourceId": "V-1", "idNumber": VALID_ID.lower()}},
    )["submitResidentRecord"]
    assert first["userErrors"] == [] and first["outcome"] == "NEW"
    second = admin(
        SUBMIT,
        {
            "input": {
                **base,
                "source": "his",
                "sourceId": "H-9",
                "idNumber": VALID_ID[:6] + " " + VALID_ID[6:],
            }
        },
    )["submitResidentRecord"]
    assert second["outcome"] == "LINKED"
    assert second["resident"]["id"] == first["resident"]["id"]
    sources = {(s["source"], s["sourceId"]) for s in second["resident"]["sourceRecords"]}
    assert sources == {("vendor", "V-1"), ("his", "H-9")}
    assert set(second["resident"]["categories"]) == {"HYPERTENSION", "ELDERLY_65"}
    # the same (source, sourceId) again updates that record, no new resident
    third = admin(
        SUBMIT,
        {
            "input": {
                **base,
                "source": "his",
                "sourceId": "H-9",
                "idNumber": VALID_ID,
                "phone": "13900139000",
            }
        },
    )["submitResidentRecord"]
    assert third["resident"]["id"] == first["resident"]["id"]
    assert len(third["resident"]["sourceRecords"]) == 2

    found = admin(
        """query($v: String!) { residentByIdentifier(system: ID_CARD, value: $v) {
        id name sex birthDate age insuranceType fhir provenance { field source } } }""",
        {"v": VALID_ID},
    )["residentByIdentifier"]
    assert found["name"] == "王建国" and found["insuranceType"] == "URBAN_EMPLOYEE"
    patient = Patient.parse_obj(found["fhir"])
    assert patient.gender == "male" and str(patient.birthDate) == "1958-03-14"
    assert any(i.value == VALID_ID for i in patient.identifier)
    by_card = admin(
        """{ residentByIdentifier(system: INSURANCE_CARD, value: "440113001122") { id } }"""
    )
    assert by_card["residentByIdentifier"]["id"] == found["id"]
    node = admin(
        """query($id: ID!) { node(id: $id) { id ... on Resident { name } } }""", {"id": found["id"]}
    )
    assert node["node"]["name"] == "王建国"


def test_contradicting_id_number_is_flagged(admin: Api, directory: dict[str, Any]) -> None:
    out = admin(
        SUBMIT,
        {
            "input": {
                "source": "vendor",
                "sourceId": "V-CHILD",
                "name": "李娜之女",
                "sex": "1",
                "birthDate": "2022-06-01",
                "idNumber": CHILD_ID,
                "guardianName": "李娜",
                "guardianPhone": "13700137000",
            }
        },
    )
    res = out["submitResidentRecord"]
    assert res["userErrors"] == [] and "ID_CONTRADICTS_SEX" in res["flags"]
    assert "CHILD_0_6" in res["resident"]["categories"]


def test_residents_connection_filters_and_pages(admin: Api, directory: dict[str, Any]) -> None:
    page = admin("""{ residents(first: 1, filter: {region: null, category: HYPERTENSION}) {
        totalCount edges { cursor node { name } } pageInfo { hasNextPage endCursor } } }""")[
        "residents"
    ]
    assert page["totalCount"] >= 1 and page["edges"][0]["node"]["name"] == "王建国"
    everyone = admin("{ residents(first: 1) { totalCount pageInfo { hasNextPage endCursor } } }")[
        "residents"
    ]
    assert everyone["totalCount"] >= 2 and everyone["pageInfo"]["hasNextPage"]
    nxt = admin(
        """query($a: String) { residents(first: 1, after: $a) { edges { node { residentId } } } }""",
        {"a": everyone["pageInfo"]["endCursor"]},
    )
    assert nxt["residents"]["edges"]
    resp = admin.raw("{ residents(first: 100000) { totalCount } }").json()
    assert resp["errors"][0]["extensions"]["code"] == "PAGE_SIZE_OUT_OF_RANGE"


def test_fhir_forms_of_directory_validate(admin: Api, directory: dict[str, Any]) -> None:
    data = admin("""{ organizations(filter: {region: "panyu"}, first: 50) { edges { node { code fhir } } }
                      practitioners(first: 50) { edges { node { fhir } } } }""")
    for edge in data["organizations"]["edges"]:
        Organization.parse_obj(edge["node"]["fhir"])
    for edge in data["practitioners"]["edges"]:
        Practitioner.parse_obj(edge["node"]["fhir"])


def test_scopes_and_organization_binding(
    live: LiveServer, db_url: str, admin: Api, directory: dict[str, Any]
) -> None:
    reader = Api(live.url, create_client_token(db_url, "reader", ["residents:read"]))
    denied = reader.raw(SUBMIT, {"input": {"source": "x", "sourceId": "1", "name": "张三"}}).json()
    errors = denied["data"]["submitResidentRecord"]["userErrors"]
    assert errors[0]["code"] == "MISSING_SCOPE" and "residents:write" in errors[0]["message"]
    masked = reader(
        """query($v: String!) { residentByIdentifier(system: ID_CARD, value: $v) { idNumber phones } }""",
        {"v": VALID_ID},
    )["residentByIdentifier"]
    assert masked["idNumber"] != VALID_ID and "*" in masked["idNumber"]

    # bind a resident to T-CHC, then a client bound to T-CHC2 must not see it
    admin(
        SUBMIT,
        {"input": {"source": "vendor", "sourceId": "V-1", "idNumber": VALID_ID, "name": "王建国"}},
    )
    asyncio.run(_assign_org(db_url, VALID_ID, "T-CHC"))
    other = Api(live.url, create_client_token(db_url, "other-chc", ["residents:read"], ["T-CHC2"]))
    own = Api(live.url, create_client_token(db_url, "own-chc", ["residents:read"], ["T-CHC"]))
    q = """query($v: String!) { residentByIdentifier(system: ID_CARD, value: $v) { name } }"""
    assert other(q, {"v": VALID_ID})["residentByIdentifier"] is None
    assert own(q, {"v": VALID_ID})["residentByIdentifier"]["name"] == "王建国"
    assert other("{ residents(first: 5) { totalCount } }")["residents"]["totalCount"] == 0


async def _assign_org(url: str, id_number: str, org: str) -> None:
    from sqlalchemy import select, update

    from hub.db import Database
    from hub.registry.models import Resident, ResidentIdentifier

    db = Database(url)
    async with db.transaction() as s:
        # resident.id_number is encrypted: find the row through the HMAC identifier index
        holders = select(ResidentIdentifier.resident_id).where(
            ResidentIdentifier.system == "ID_CARD", ResidentIdentifier.value == id_number
        )
        await s.execute(
            update(Resident).where(Resident.id.in_(holders)).values(organization_id=org)
        )
    await db.dispose()


def test_reads_and_writes_are_audited(admin: Api, db_url: str, directory: dict[str, Any]) -> None:
    admin(
        """query($v: String!) { residentByIdentifier(system: ID_CARD, value: $v) { name } }""",
        {"v": VALID_ID},
    )

    async def rows() -> list[tuple[str, str, str]]:
        from sqlalchemy import select

        from hub.access.models import AuditEvent
        from hub.db import Database

        db = Database(db_url)
        async with db.reader() as s:
            out = [(a.actor, a.action, a.operation) for a in await s.scalars(select(AuditEvent))]
        await db.dispose()
        return out

    audit = asyncio.run(rows())
    for _ in range(100):  # read audits are written by a background batcher
        if ("admin-e2e", "READ", "residentByIdentifier") in audit:
            break
        time.sleep(0.05)
        audit = asyncio.run(rows())
    assert ("admin-e2e", "READ", "residentByIdentifier") in audit
    assert ("admin-e2e", "WRITE", "submitResidentRecord") in audit


def test_deep_queries_are_refused(admin: Api) -> None:
    deep = (
        "{ residents(first: 1) { edges { node { " + "mergedInto { " * 15 + "name" + " }" * 18 + " }"
    )
    body = admin.raw(deep).json()
    assert body["errors"] and "depth" in body["errors"][0]["message"]
