"""The spec's FHIR GraphQL ($graphql) over real HTTP: each answer equals the same resource
read over REST; the access policy, masking and scopes apply as they do to REST."""

from __future__ import annotations

from typing import Any

import httpx
from fhir.resources.R4B.capabilitystatement import CapabilityStatement

from tests.conftest import LiveServer
from tests.e2e import fhir_support
from tests.e2e.fhir_support import get

# one database, server and demo per engine for all the /fhir modules
fhir_hub, world = fhir_support.fhir_hub, fhir_support.world
live, db_url = fhir_support.live, fhir_support.db_url


def gql(live: LiveServer, token: str, query: str, path: str = "/fhir/$graphql") -> httpx.Response:
    return httpx.post(live.url + path, json={"query": query},
                      headers={"Authorization": f"Bearer {token}"})  # fmt: skip


def data(live: LiveServer, token: str, query: str, path: str = "/fhir/$graphql") -> Any:
    r = gql(live, token, query, path)
    assert r.status_code == 200, r.text
    body = r.json()
    assert not body.get("errors"), body
    return body["data"]


def test_simple_read_equals_rest(live: LiveServer, world: dict[str, Any]) -> None:
    admin = world["admin"]
    rest = get(live, admin, "/fhir/Patient/1").json()
    got = data(
        live,
        admin,
        '{ Patient(id: "1") { id gender birthDate name { text family given }'
        " identifier { system value } telecom { system value } } }",
    )["Patient"]
    assert got["name"] == [{k: rest["name"][0][k] for k in ("text", "family", "given")}]
    assert got["identifier"] == rest["identifier"] and got["birthDate"] == rest["birthDate"]
    instance = data(live, admin, "{ id gender }", "/fhir/Patient/1/$graphql")
    assert instance == {"id": "1", "gender": rest["gender"]}
    masked = data(live, world["masked"], '{ Patient(id: "1") { identifier { value } } }')
    assert "*" in masked["Patient"]["identifier"][0]["value"]


def test_search_connection_reference_and_reverse(live: LiveServer, world: dict[str, Any]) -> None:
    admin = world["admin"]
    listed = data(live, admin, '{ PatientList(family: "谭", _count: 50) { id name { text } } }')
    rest = get(live, admin, "/fhir/Patient?family=谭&_count=50").json()
    assert [p["id"] for p in listed["PatientList"]] == [e["resource"]["id"] for e in rest["entry"]]
    conn = data(
        live,
        admin,
        "{ PatientConnection(_count: 5) { count pagesize next edges { mode resource { id } } } }",
    )["PatientConnection"]
    assert conn["count"] == get(live, admin, "/fhir/Patient?_summary=count").json()["total"]
    assert conn["pagesize"] == 5 and conn["next"] and conn["edges"][0]["mode"] == "match"
    page2 = (
        '{ PatientConnection(_count: 5, _cursor: "'
        + conn["next"]
        + '") { edges { resource { id } } } }'
    )
    after = data(live, admin, page2)["PatientConnection"]
    assert not {e["resource"]["id"] for e in after["edges"]} & {
        e["resource"]["id"] for e in conn["edges"]
    }
    ref = data(
        live,
        admin,
        '{ ContractList(patient: "Patient/1") { id subject { reference '
        "resource { ... on Patient { id birthDate } } } } }",
    )["ContractList"]
    one = get(live, admin, "/fhir/Patient/1").json()
    assert ref[0]["subject"][0]["resource"] == {"id": "1", "birthDate": one["birthDate"]}
    reverse = data(
        live,
        admin,
        '{ Patient(id: "1") { ContractList(_reference: "subject") { id } '
        'ServiceRequestList(_reference: "subject") { id } } }',
    )["Patient"]
    assert reverse["ContractList"] == [{"id": str(world["contract"])}]
    assert reverse["ServiceRequestList"] == [{"id": f"referral-{world['referral']}"}]
    skipped = data(live, admin, '{ Patient(id: "1") { id gender @skip(if: true) } }')
    assert skipped == {"Patient": {"id": "1"}}


def test_policy_and_errors(live: LiveServer, world: dict[str, Any]) -> None:
    bound = world["bound"]
    seen = {
        e["resource"]["id"] for e in get(live, bound, "/fhir/Patient?_count=200").json()["entry"]
    }
    hidden = fhir_support.hidden_patient(live, world, seen)
    assert data(live, bound, '{ Patient(id: "' + hidden + '") { id } }') == {"Patient": None}
    assert gql(live, bound, "{ id }", f"/fhir/Patient/{hidden}/$graphql").status_code == 404
    listed = data(live, bound, "{ PatientList(_count: 200) { id } }")["PatientList"]
    assert {p["id"] for p in listed} == seen
    assert gql(live, world["residents_only"], "{ ContractList { id } }").status_code == 403
    assert gql(live, world["admin"], "{ Patient(id: ").status_code == 400
    assert gql(live, world["admin"], "{ Nope { id } }").json()["errors"]
    deep = (
        '{ Patient(id: "1") { '
        + "link { other { resource { ... on Patient { " * 6
        + "id"
        + " } } } }" * 6
        + " } }"
    )
    assert gql(live, world["admin"], deep).status_code == 400
    assert httpx.get(
        f"{live.url}/fhir/$graphql",
        params={"query": "{ PatientList(_count: 1) { id } }"},
        headers={"Authorization": f"Bearer {world['admin']}"},
    ).json()["data"]["PatientList"]


def test_capability_statement_lists_what_is_served(live: LiveServer, world: dict[str, Any]) -> None:
    cap = get(live, world["admin"], "/fhir/metadata").json()
    CapabilityStatement.parse_obj(cap)
    admin = world["admin"]
    for res in cap["rest"][0]["resource"]:
        for p in res["searchParam"]:
            if p["type"] in ("token", "string"):
                r = get(live, admin, f"/fhir/{res['type']}?{p['name']}=x&_summary=count")
                assert r.status_code in (200, 400), (res["type"], p["name"], r.text)
                if r.status_code == 400:  # a known parameter, a value it refuses
                    assert r.json()["issue"][0]["code"] == "invalid", (res["type"], p["name"])
        assert get(live, admin, f"/fhir/{res['type']}?_count=1").status_code == 200
    patient = next(r for r in cap["rest"][0]["resource"] if r["type"] == "Patient")
    assert {o["name"] for o in patient["operation"]} == {
        "everything",
        "match",
        "graphql",
        "ihe-pix",
    }
    assert "Contract:subject" in patient["searchRevInclude"]


def test_shaping_directives(live: LiveServer, world: dict[str, Any]) -> None:
    admin = world["admin"]
    rest = get(live, admin, "/fhir/Patient/1").json()
    got = data(
        live,
        admin,
        '{ Patient(id: "1") { name @singleton { text } identifier @first { value } '
        'gender @flatten ContractList(_reference: "subject") @first { id } } }',
    )["Patient"]
    assert got["name"] == {"text": rest["name"][0]["text"]}
    assert got["identifier"] == {"value": rest["identifier"][0]["value"]}
    assert got["gender"] == rest["gender"] and got["ContractList"] == {"id": str(world["contract"])}
    flat = data(live, admin, '{ Patient(id: "1") { name @flatten { text family } } }')["Patient"]
    assert flat == {"text": rest["name"][0]["text"], "family": rest["name"][0]["family"]}
    too_many = gql(live, admin, "{ PatientList(_count: 2) @singleton { id } }")
    assert too_many.status_code == 400
