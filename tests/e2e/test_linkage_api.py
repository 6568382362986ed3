"""Record linkage over real HTTP on the demo data, both engines: matchResident ($match,
writing nothing), the merge/unmerge round trip, duplicate reviews, discrepancies, scopes."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from fhir.resources.R4B.patient import Patient

from hub.demo.load import load_demo
from hub.registry.idnumber import make
from tests.conftest import Api, LiveServer, create_client_token

LINKAGE = ["residents:read", "residents:pii", "residents:write", "linkage:admin"]

RESIDENT = """
query($id: ID!) { resident(id: $id) { id residentId active name idNumber phones
  mergedInto { residentId } sourceRecords { source sourceId } fhir } }"""

MATCH = """
query($input: ResidentRecordInput!, $count: Int) { matchResident(input: $input, count: $count) {
  score grade reason resident { residentId name } } }"""

SUBMIT = """
mutation($input: ResidentRecordInput!) { submitResidentRecord(input: $input) {
  outcome resident { id residentId } userErrors { code } } }"""

MERGE = """
mutation($s: ID!, $m: ID!, $r: String!) { mergeResidents(survivorId: $s, mergedId: $m, reason: $r) {
  resident { residentId active sourceRecords { source sourceId } }
  merged { residentId active mergedInto { residentId } }
  userErrors { code field message } } }"""

UNMERGE = """
mutation($src: String!, $sid: String!, $r: String!) {
  unmergeRecord(source: $src, sourceId: $sid, reason: $r) {
    resident { residentId active idNumber sourceRecords { sourceId } }
    previous { residentId sourceRecords { sourceId } }
    userErrors { code field message } } }"""


@pytest.fixture(scope="module")
def admin(live: LiveServer, db_url: str) -> Api:
    asyncio.run(load_demo(db_url, scale=0.02, regions=("panyu",)))
    return Api(live.url, create_client_token(
        db_url, "linkage-e2e", LINKAGE, sources=["his", "vendor", "maternal"]))


@pytest.fixture(scope="module")
def reader(live: LiveServer, db_url: str) -> Api:
    return Api(live.url, create_client_token(db_url, "reader-e2e", ["residents:read"]))


def _a_demo_resident(admin: Api, n: int = 0, *, three: bool = False) -> dict[str, Any]:
    """An adult demo resident with a phone and an address (the n-th such one); with `three`,
    one with a three-character name."""
    data = admin("""{ residents(first: 60, filter: {region: "panyu"}) { edges { node {
        residentId name sex birthDate idNumber phones address { text } } } } }""")
    people = [e["node"] for e in data["residents"]["edges"]
              if e["node"]["phones"] and e["node"]["address"]["text"]
              and e["node"]["birthDate"] < "2000-01-01"
              and (not three or len(e["node"]["name"]) == 3)]  # fmt: skip
    return people[n]


def test_match_resident_finds_the_person_and_writes_nothing(admin: Api) -> None:
    person = _a_demo_resident(admin)
    before = admin("{ residents { totalCount } }")["residents"]["totalCount"]
    exact = {
        "source": "vendor-x",
        "sourceId": "M-1",
        "name": person["name"],
        "sex": person["sex"],
        "birthDate": person["birthDate"],
        "idNumber": person["idNumber"],
    }
    found = admin(MATCH, {"input": exact})["matchResident"]
    assert found[0]["resident"]["residentId"] == person["residentId"]
    assert found[0]["grade"] == "CERTAIN" and found[0]["score"] == 1.0
    # No ID number, the name in traditional characters, the phone: still found.
    loose = {
        "source": "vendor-x",
        "sourceId": "M-2",
        "name": person["name"] + " ",
        "sex": person["sex"],
        "birthDate": person["birthDate"],
        "phone": person["phones"][0],
        "address": person["address"]["text"],
    }
    found = admin(MATCH, {"input": loose, "count": 3})["matchResident"]
    assert found and found[0]["resident"]["residentId"] == person["residentId"]
    assert found[0]["grade"] in ("CERTAIN", "PROBABLE") and 0 < found[0]["score"] <= 1
    assert len(found) <= 3
    after = admin("{ residents { totalCount } }")["residents"]["totalCount"]
    assert after == before  # $match stores nothing


def test_merge_and_unmerge_round_trip(admin: Api, reader: Api) -> None:
    born = dt.date(1971, 5, 9)
    number = make("440113", born, 357)
    a = admin(SUBMIT, {"input": {"source": "his", "sourceId": "E2E-A", "name": "欧阳建伟",
                                 "sex": "1", "birthDate": born.isoformat(), "idNumber": number,
                                 "phone": "13912345678"}})["submitResidentRecord"]  # fmt: skip
    b = admin(SUBMIT, {"input": {"source": "vendor", "sourceId": "E2E-B", "name": "歐陽建偉",
                                 "sex": "1", "birthDate": "1971-09-05", "phone": "020-31234567",
                                 "address": "广州市番禺区市桥街道清河路9号"}})["submitResidentRecord"]  # fmt: skip
    assert a["outcome"] == "NEW"
    survivor, merged = a["resident"], b["resident"]
    assert survivor["residentId"] != merged["residentId"]  # not enough to link on its own
    denied = reader.raw(MERGE, {"s": survivor["id"], "m": merged["id"], "r": "same"}).json()
    assert denied.get("errors") or denied["data"]["mergeResidents"]["userErrors"]

    done = admin(MERGE, {"s": survivor["id"], "m": merged["id"], "r": "same person, checked "
                         "by phone"})["mergeResidents"]  # fmt: skip
    assert done["userErrors"] == []
    assert {r["sourceId"] for r in done["resident"]["sourceRecords"]} == {"E2E-A", "E2E-B"}
    assert done["merged"]["active"] is False
    assert done["merged"]["mergedInto"]["residentId"] == survivor["residentId"]
    # The merged-away id keeps resolving, inactive, replaced-by the survivor (FHIR link).
    old = admin(RESIDENT, {"id": merged["id"]})["resident"]
    assert old["active"] is False and old["mergedInto"]["residentId"] == survivor["residentId"]
    fhir = Patient.model_validate(old["fhir"])
    assert fhir.link[0].type == "replaced-by"
    assert fhir.link[0].other.reference == f"Patient/{survivor['residentId']}"
    kept = Patient.model_validate(admin(RESIDENT, {"id": survivor["id"]})["resident"]["fhir"])
    assert kept.link is not None and kept.link[0].type == "replaces"
    assert kept.link[0].other.reference == f"Patient/{merged['residentId']}"
    again = admin(MERGE, {"s": survivor["id"], "m": merged["id"], "r": "twice"})["mergeResidents"]
    assert again["userErrors"][0]["code"] == "ALREADY_MERGED"

    split = admin(UNMERGE, {"src": "vendor", "sid": "E2E-B", "r": "different people: "
                            "confirmed by phone"})["unmergeRecord"]  # fmt: skip
    assert split["userErrors"] == []
    assert split["resident"]["residentId"] == merged["residentId"]  # its former resident
    assert split["resident"]["active"] is True
    assert [r["sourceId"] for r in split["previous"]["sourceRecords"]] == ["E2E-A"]
    back = admin(RESIDENT, {"id": survivor["id"]})["resident"]
    assert back["idNumber"] == number and back["active"] is True
    # The separated record sent again stays where the person put it.
    resent = admin(SUBMIT, {"input": {"source": "vendor", "sourceId": "E2E-B", "name": "欧阳建伟",
                                      "sex": "1", "birthDate": born.isoformat(),
                                      "phone": "13912345678"}})["submitResidentRecord"]  # fmt: skip
    assert resent["resident"]["residentId"] == merged["residentId"]


def test_a_probable_duplicate_goes_to_review_and_a_person_decides(admin: Api) -> None:
    person = _a_demo_resident(admin, 1, three=True)
    # Same birth date and sex, one character of the name off, nothing else: possible only.
    other = "鑫" if person["name"][-1] != "鑫" else "淼"
    twin_like = {
        "source": "maternal",
        "sourceId": "E2E-R1",
        "name": person["name"][:2] + other,
        "sex": person["sex"],
        "birthDate": person["birthDate"],
    }
    out = admin(SUBMIT, {"input": twin_like})["submitResidentRecord"]
    reviews = admin("""{ duplicateReviews(first: 50) { totalCount edges { node {
        id status resident { residentId } sourceRecord { sourceId }
        candidates { score grade resident { residentId } } } } } }""")["duplicateReviews"]
    mine = [
        e["node"]
        for e in reviews["edges"]
        if e["node"]["sourceRecord"] and e["node"]["sourceRecord"]["sourceId"] == "E2E-R1"
    ]
    assert out["outcome"] == "REVIEW"
    assert len(mine) == 1 and mine[0]["status"] == "OPEN"
    assert mine[0]["candidates"][0]["resident"]["residentId"] == person["residentId"]
    resolve = """mutation($id: ID!, $d: ReviewDecision!) { resolveDuplicateReview(id: $id, decision: $d) {
        review { status } resident { residentId } userErrors { code } } }"""
    done = admin(resolve, {"id": mine[0]["id"], "d": "DIFFERENT_PEOPLE"})["resolveDuplicateReview"]
    assert done["review"]["status"] == "DIFFERENT_PEOPLE"
    twice = admin(resolve, {"id": mine[0]["id"], "d": "SAME_PERSON"})["resolveDuplicateReview"]
    assert twice["userErrors"][0]["code"] == "REVIEW_CLOSED"


def test_discrepancies_between_sources(admin: Api, reader: Api) -> None:
    person = _a_demo_resident(admin, 2)
    record = {"source": "his", "sourceId": "E2E-D1", "name": person["name"], "sex": person["sex"],
              "birthDate": person["birthDate"], "idNumber": person["idNumber"],
              "phone": "13700001111", "address": "广州市番禺区沙头街道银平路1号"}  # fmt: skip
    linked = admin(SUBMIT, {"input": record})["submitResidentRecord"]
    assert linked["outcome"] == "LINKED"
    query = """query($id: ID) { residentDiscrepancies(residentId: $id) { edges { node {
        resident { residentId } fields { field chosen values { source sourceId value } } } } } }"""
    one = admin(query, {"id": linked["resident"]["id"]})["residentDiscrepancies"]["edges"][0][
        "node"
    ]
    fields = {f["field"]: f for f in one["fields"]}
    assert "address_text" in fields
    assert {v["source"] for v in fields["address_text"]["values"]} == {"his", "demo"}
    paged = admin("""{ residentDiscrepancies(first: 5) { edges { node { resident { residentId } } }
                      pageInfo { hasNextPage endCursor } } }""")["residentDiscrepancies"]
    assert (
        any(
            e["node"]["resident"]["residentId"] == one["resident"]["residentId"]
            for e in paged["edges"]
        )
        or paged["pageInfo"]["hasNextPage"]
    )
    masked = reader(query, {"id": linked["resident"]["id"]})["residentDiscrepancies"]
    values = masked["edges"][0]["node"]["fields"]
    assert all(v["value"] == "****" for f in values if f["field"] == "address_text"
               for v in f["values"])  # fmt: skip
