"""Referrals over real HTTP, on SQLite and PostgreSQL: the workflow, reserved capacity,
down-referral prescriptions, who sees what, and FHIR."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import httpx
import pytest
from fhir.resources.R4B.servicerequest import ServiceRequest

from tests.conftest import LiveServer
from tests.e2e.test_referral_support import (
    CREATE,
    DAY,
    World,
    accept,
    act,
    build_world,
    cancel,
    complete,
    publish,
    reject,
)


@pytest.fixture(scope="module")
def world(live: LiveServer, db_url: str) -> World:
    return build_world(live, db_url)


SLOT = {"kind": "EXPERT_SLOT", "date": DAY.isoformat(), "department": "心内科"}


def test_capacity_reserves_the_policy_share(world: World) -> None:
    h2 = world.hospital("JL-H2")
    # Jilin 2020: a secondary hospital reserves 60% for primary care; 2.4 beds round up to 3
    out = publish(h2, "JL-H2", DAY, "心内科", 10, 4)
    assert out["userErrors"] == []
    cap = out["capacity"]
    assert (cap["reservedExpertSlots"], cap["reservedBeds"]) == (6, 3)
    assert cap["policyShareExpertSlots"] == "0.60"
    # before 2020 the 2017 share (40%) applies
    old = publish(h2, "JL-H2", dt.date(2019, 6, 3), "心内科", 10, 4)["capacity"]
    assert (old["reservedExpertSlots"], old["reservedBeds"]) == (4, 2)
    # a tertiary hospital's share is the one it holds for the level below (2020: 50%)
    h3 = publish(world.hospital("JL-H3"), "JL-H3", DAY, "心内科", 9, 0)["capacity"]
    assert h3["reservedExpertSlots"] == 5
    # a hospital may reserve more than the policy asks, never less
    less = publish(h2, "JL-H2", DAY, "骨科", 10, 0, reservedExpertSlots=5)
    assert less["userErrors"][0]["code"] == "RESERVED_BELOW_POLICY"
    more = publish(h2, "JL-H2", DAY, "骨科", 10, 0, reservedExpertSlots=8)
    assert more["capacity"]["reservedExpertSlots"] == 8
    # Yongkang's policy sets no share: what the hospital publishes is open to referrals
    yk = publish(world.hospital("YK-H2"), "YK-H2", DAY, "心内科", 3, 2)["capacity"]
    assert (yk["reservedExpertSlots"], yk["reservedBeds"], yk["policyShareBeds"]) == (3, 2, None)
    # only the hospital itself publishes, and only hospitals do
    other = publish(world.hospital("JL-HX"), "JL-H2", DAY, "心内科", 10, 4)
    assert other["userErrors"][0]["code"] == "FORBIDDEN"
    chc = publish(world.admin, "JL-CHC", DAY, "全科", 10, 4)
    assert chc["userErrors"][0]["code"] == "NOT_A_HOSPITAL"


def test_up_referral_is_accepted_into_a_reserved_slot(world: World) -> None:
    team, h2 = world.team_client("JL-CHC"), world.hospital("JL-H2")
    publish(h2, "JL-H2", DAY, "心内科", 10, 4)
    made = world.refer(
        team,
        "up-1",
        documents=[
            {
                "title": "转诊单",
                "url": "https://his.example.cn/docs/1",
                "contentType": "application/pdf",
            }
        ],
    )
    assert made["userErrors"] == []
    ref = made["referral"]
    assert (ref["status"], ref["direction"], ref["nextAction"]) == ("REQUESTED", "UP", "RECEIVE")
    assert ref["fromOrganization"]["code"] == "JL-CHC" and ref["toOrganization"]["code"] == "JL-H2"
    assert ref["resident"]["name"] == "居民up-1"
    received = act(h2, "receive", ref["id"])
    assert received["referral"]["status"] == "RECEIVED"
    done = accept(h2, ref["id"], SLOT)
    assert done["userErrors"] == []
    assert done["referral"]["status"] == "ACCEPTED"
    assert done["referral"]["booking"] == {
        "kind": "EXPERT_SLOT",
        "date": DAY.isoformat(),
        "department": "心内科",
        "status": "BOOKED",
    }
    steps = [(t["fromStatus"], t["toStatus"]) for t in done["referral"]["transitions"]]
    assert steps == [(None, "REQUESTED"), ("REQUESTED", "RECEIVED"), ("RECEIVED", "ACCEPTED")]
    actors = [t["actor"] for t in done["referral"]["transitions"]]
    assert actors[0].startswith("team-JL-CHC") and actors[2].startswith("hospital-JL-H2")
    cap = world.admin(
        f"""{{ hospitalCapacity(organizationId: "JL-H2", start: "{DAY}", end: "{DAY}") {{
        department bookedExpertSlots freeReservedExpertSlots }} }}"""
    )
    cardio = next(c for c in cap["hospitalCapacity"] if c["department"] == "心内科")
    assert cardio["bookedExpertSlots"] >= 1

    fhir = world.admin("""query($id: ID!) { referral(id: $id) { fhir } }""", {"id": ref["id"]})[
        "referral"
    ]["fhir"]
    sr = ServiceRequest.parse_obj(fhir)
    assert sr.status == "active" and sr.subject.reference.startswith("Patient/")
    assert sr.reasonCode[0].coding[0].code == "I10"
    kinds = {c.get_resource_type(): c for c in sr.contained}
    assert kinds["Task"].status == "accepted"
    assert kinds["Appointment"].status == "booked"
    assert sr.supportingInfo[0].reference == "https://his.example.cn/docs/1"


def test_invalid_transitions_and_wrong_side_get_stable_codes(world: World) -> None:
    team, h2 = world.team_client("JL-CHC"), world.hospital("JL-H2")
    made = world.refer(team, "wrong-1")["referral"]
    # accepting before receiving, arriving before accepting
    assert accept(h2, made["id"], SLOT)["userErrors"][0]["code"] == "INVALID_TRANSITION"
    assert act(h2, "arrive", made["id"])["userErrors"][0]["code"] == "INVALID_TRANSITION"
    # the sending team cannot receive its own referral; the hospital cannot cancel it
    assert act(team, "receive", made["id"])["userErrors"][0]["code"] == "FORBIDDEN"
    assert cancel(h2, made["id"])["userErrors"][0]["code"] == "FORBIDDEN"
    act(h2, "receive", made["id"])
    assert accept(h2, made["id"], None)["userErrors"][0]["code"] == "BOOKING_REQUIRED"
    assert reject(h2, made["id"], " ")["userErrors"][0]["code"] == "REASON_REQUIRED"
    rejected = reject(h2, made["id"], "本院心内科暂停门诊")
    assert rejected["referral"]["status"] == "REJECTED"
    assert rejected["referral"]["transitions"][-1]["note"] == "本院心内科暂停门诊"
    again = accept(h2, made["id"], SLOT)["userErrors"][0]
    assert again["code"] == "INVALID_TRANSITION" and "REJECTED" in again["message"]
    bad = world.refer(team, "wrong-2", diagnosisCode="hypertension")
    assert bad["userErrors"][0] == {
        "code": "INVALID_DIAGNOSIS_CODE",
        "field": "diagnosisCode",
        "message": bad["userErrors"][0]["message"],
    }
    to_chc = world.refer(team, "wrong-3", to="JL-CHC2")
    assert to_chc["userErrors"][0]["code"] == "NOT_A_HOSPITAL"


def test_accept_is_refused_when_the_reserved_share_is_used_up(world: World) -> None:
    team, h2 = world.team_client("JL-CHC"), world.hospital("JL-H2")
    day = DAY + dt.timedelta(days=1)
    # 5 beds: 60% reserved = 3 (rounded up)
    assert publish(h2, "JL-H2", day, "神经内科", 5, 5)["capacity"]["reservedBeds"] == 3
    bed = {"kind": "BED", "date": day.isoformat(), "department": "神经内科"}
    ids = [world.received(team, h2, f"full-{n}", department="神经内科") for n in range(4)]
    for rid in ids[:3]:
        assert accept(h2, rid, bed)["userErrors"] == []
    refused = accept(h2, ids[3], bed)
    assert refused["referral"] is None
    assert refused["userErrors"][0]["code"] == "NO_RESERVED_CAPACITY"
    assert "3" in refused["userErrors"][0]["message"]
    # nothing of the refused accept was kept: still RECEIVED, no booking
    state = world.admin(
        """query($id: ID!) { referral(id: $id) { status booking { kind } } }""", {"id": ids[3]}
    )["referral"]
    assert state == {"status": "RECEIVED", "booking": None}
    # the sender cancels an accepted referral: its bed goes back to the reserved pool
    assert cancel(team, ids[0])["referral"]["booking"]["status"] == "RELEASED"
    assert accept(h2, ids[3], bed)["userErrors"] == []
    # and the hospital cannot shrink the reserved part below what is booked
    shrink = publish(h2, "JL-H2", day, "神经内科", 5, 2, reservedBeds=2)
    assert shrink["userErrors"][0]["code"] in ("CAPACITY_BELOW_BOOKED", "RESERVED_BELOW_POLICY")


def test_signed_residents_come_first(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from hub.referrals import signing

    team, h2 = world.team_client("JL-CHC"), world.hospital("JL-H2")
    day = DAY + dt.timedelta(days=2)
    publish(h2, "JL-H2", day, "内分泌科", 3, 0)  # 60% of 3 → 2 reserved
    world.resident("signed-1")
    signed_ids = {world.resident_ids["signed-1"]}

    async def is_signed(session: Any, resident_id: int) -> bool:
        return resident_id in signed_ids

    monkeypatch.setattr(signing, "is_signed", is_signed)
    slot = {"kind": "EXPERT_SLOT", "date": day.isoformat(), "department": "内分泌科"}
    signed = world.received(team, h2, "signed-1", department="内分泌科")
    unsigned = [world.received(team, h2, f"unsigned-{n}", department="内分泌科") for n in range(2)]
    # one signed referral waits: an unsigned resident may take a slot while one stays free
    assert accept(h2, unsigned[0], slot)["userErrors"] == []
    held = accept(h2, unsigned[1], slot)["userErrors"][0]
    assert held["code"] == "RESERVED_FOR_SIGNED_RESIDENTS"
    ok = accept(h2, signed, slot)
    assert ok["userErrors"] == [] and ok["referral"]["residentSigned"] is True
    assert accept(h2, unsigned[1], slot)["userErrors"][0]["code"] == "NO_RESERVED_CAPACITY"


def test_two_accepts_cannot_overbook_the_last_units(world: World) -> None:
    team, h2 = world.team_client("JL-CHC"), world.hospital("JL-H2")
    day = DAY + dt.timedelta(days=3)
    publish(h2, "JL-H2", day, "呼吸科", 5, 0)  # 3 reserved slots
    ids = [world.received(team, h2, f"race-{n}", department="呼吸科") for n in range(8)]
    slot = {"kind": "EXPERT_SLOT", "date": day.isoformat(), "department": "呼吸科"}
    query = """mutation($id: ID!, $b: BookingInput) { acceptReferral(id: $id, booking: $b) {
        referral { status } userErrors { code } } }"""

    async def race() -> list[dict[str, Any]]:
        headers = {"Authorization": h2.http.headers["Authorization"]}
        async with httpx.AsyncClient(base_url=world.live.url, headers=headers, timeout=60) as http:
            responses = await asyncio.gather(
                *(
                    http.post("/graphql", json={"query": query, "variables": {"id": i, "b": slot}})
                    for i in ids
                )
            )
        return [r.json()["data"]["acceptReferral"] for r in responses]

    results = asyncio.run(race())
    accepted = [r for r in results if r["userErrors"] == []]
    refused = [r["userErrors"][0]["code"] for r in results if r["userErrors"]]
    assert len(accepted) == 3
    assert refused == ["NO_RESERVED_CAPACITY"] * 5
    cap = world.admin(
        f"""{{ hospitalCapacity(organizationId: "JL-H2", start: "{day}", end: "{day}") {{
        bookedExpertSlots reservedExpertSlots }} }}"""
    )["hospitalCapacity"][0]
    assert cap["bookedExpertSlots"] == cap["reservedExpertSlots"] == 3


def test_up_then_down_referral_lands_in_the_team_work_list(world: World) -> None:
    team, h2 = world.team_client("JL-CHC"), world.hospital("JL-H2")
    publish(h2, "JL-H2", DAY, "心内科", 10, 4)
    rid = world.received(team, h2, "roundtrip")
    accept(h2, rid, {"kind": "BED", "date": DAY.isoformat()})  # department from the referral
    act(h2, "arrive", rid)
    done = complete(
        h2,
        rid,
        "住院7天，血压控制平稳",
        [
            {
                "drug": "苯磺酸氨氯地平片",
                "dose": "5mg",
                "frequency": "qd",
                "duration": 2,
                "durationUnit": "MONTH",
            }
        ],
        plan="低盐饮食，每周测血压",
    )
    assert done["userErrors"] == []
    assert done["referral"]["status"] == "COMPLETED"
    assert done["referral"]["dischargeSummary"] == "住院7天，血压控制平稳"
    down = done["downReferral"]
    assert (down["direction"], down["status"]) == ("DOWN", "REQUESTED")
    assert down["fromOrganization"]["code"] == "JL-H2" and down["team"]["code"] == "JL-TEAM"
    assert down["prescriptions"] == [
        {"drug": "苯磺酸氨氯地平片", "dose": "5mg", "duration": 2, "durationUnit": "month"}
    ]
    work = """query { teamWorkList(teamId: "JL-TEAM") { nextAction referral { id } } }"""
    items = team(work)["teamWorkList"]
    assert {"nextAction": "RECEIVE", "referral": {"id": down["id"]}} in items
    # the team works the item: receive, accept (no booking), arrived, completed
    assert act(team, "receive", down["id"])["userErrors"] == []
    assert accept(team, down["id"], None)["userErrors"] == []
    assert act(team, "arrive", down["id"])["userErrors"] == []
    closed = complete(team, down["id"], "已纳入慢病随访")
    assert closed["referral"]["completionNote"] == "已纳入慢病随访"
    assert closed["downReferral"] is None
    assert down["id"] not in {i["referral"]["id"] for i in team(work)["teamWorkList"]}
    fhir = world.admin(
        """query($id: ID!) { referral(id: $id) { fhir parent { id referralId } } }""",
        {"id": down["id"]},
    )["referral"]
    assert fhir["parent"]["id"] == rid
    sr = ServiceRequest.parse_obj(fhir["fhir"])
    assert sr.status == "completed"
    assert sr.basedOn[0].reference == f"ServiceRequest/referral-{fhir['parent']['referralId']}"
    kinds = [c.get_resource_type() for c in sr.contained]
    assert kinds == ["Task", "MedicationRequest"]


def test_down_referral_prescriptions_are_capped_in_yongkang(world: World) -> None:
    h2, team = world.hospital("YK-H2"), world.team_client("YK-CHC")
    world.resident("yk-1", "330784", "YK-CHC", "YK-TEAM")
    base_down = {
        "residentId": world.residents["yk-1"], "fromOrganizationId": "YK-H2",
        "toTeamId": "YK-TEAM", "direction": "DOWN", "reason": "病情稳定，回社区康复",
        "diagnosisCode": "I10", "dischargeSummary": "出院小结", "priorities": [],
    }  # fmt: skip
    # A hospital refers down only a patient it knows through the hub: before any referral
    # to it, the team's resident is not found, exactly as a nonexistent one.
    unknown = h2(CREATE, {"input": base_down})["createReferral"]["userErrors"]
    assert [(e["code"], e["field"]) for e in unknown] == [("NOT_FOUND", "residentId")]
    made = world.refer(team, "yk-1", to="YK-H2", team="YK-TEAM", priorities=())
    assert made["userErrors"] == [], made
    base = {
        "residentId": world.residents["yk-1"],
        "fromOrganizationId": "YK-H2",
        "toTeamId": "YK-TEAM",
        "direction": "DOWN",
        "reason": "病情稳定，回社区康复",
        "diagnosisCode": "I10",
        "dischargeSummary": "出院小结",
        "priorities": [],
    }
    rx = {"drug": "缬沙坦胶囊", "dose": "80mg", "frequency": "qd", "durationUnit": "WEEK"}
    ok = h2(CREATE, {"input": {**base, "prescriptions": [{**rx, "duration": 12}]}})
    assert ok["createReferral"]["userErrors"] == []
    assert ok["createReferral"]["referral"]["prescriptions"][0]["duration"] == 12
    too_long = h2(
        CREATE,
        {
            "input": {
                **base,
                "prescriptions": [
                    rx | {"duration": 4, "durationUnit": "WEEK"},
                    {**rx, "duration": 16},
                ],
            }
        },
    )
    error = too_long["createReferral"]["userErrors"][0]
    assert (
        error["code"] == "PRESCRIPTION_TOO_LONG" and error["field"] == "prescriptions[1].duration"
    )
    assert "12 weeks" in error["message"]
    # the same cap when the team completes the down-referral and continues the prescription
    rid = ok["createReferral"]["referral"]["id"]
    act(team, "receive", rid)
    accept(team, rid, None)
    act(team, "arrive", rid)
    refused = complete(team, rid, "随访", [{**rx, "duration": 16}])
    assert refused["userErrors"][0]["code"] == "PRESCRIPTION_TOO_LONG"
    kept = complete(team, rid, "随访", [{**rx, "duration": 12}])
    assert kept["userErrors"] == [] and kept["referral"]["status"] == "COMPLETED"
    # a down-referral books nothing
    other = h2(CREATE, {"input": base})["createReferral"]["referral"]
    act(team, "receive", other["id"])
    assert accept(team, other["id"], SLOT)["userErrors"][0]["code"] == "BOOKING_NOT_APPLICABLE"


def test_a_hospital_sees_only_its_own_referrals(world: World) -> None:
    team, h2 = world.team_client("JL-CHC"), world.hospital("JL-H2")
    rid = world.refer(team, "private-1")["referral"]["id"]
    other = world.hospital("JL-HX")
    assert (
        other("""query($id: ID!) { referral(id: $id) { id } }""", {"id": rid})["referral"] is None
    )
    assert other("""query($id: ID!) { node(id: $id) { id } }""", {"id": rid})["node"] is None
    assert other("{ referrals(first: 50) { totalCount } }")["referrals"]["totalCount"] == 0
    # nor act on it
    assert act(other, "receive", rid)["userErrors"][0]["code"] == "NOT_FOUND"
    assert (
        h2("""query($id: ID!) { referral(id: $id) { id } }""", {"id": rid})["referral"]["id"] == rid
    )
    seen = {
        e["node"]["id"]
        for e in h2("{ referrals(first: 100) { edges { node { id } } } }")["referrals"]["edges"]
    }
    assert rid in seen
    # a vendor bound to the team's institution sees it; one bound to another does not
    vendor = world.client("vendor-chc", ["referrals:read", "residents:read"], ["JL-CHC"])
    stranger = world.client("vendor-chc2", ["referrals:read", "residents:read"], ["JL-CHC2"])
    q = """query($id: ID!) { referral(id: $id) { id } }"""
    assert vendor(q, {"id": rid})["referral"]["id"] == rid
    assert stranger(q, {"id": rid})["referral"] is None
    # Resident.referrals follows the same rule
    rq = """query($id: ID!) { resident(id: $id) { referrals { id } } }"""
    res = world.residents["private-1"]
    assert rid in {r["id"] for r in world.admin(rq, {"id": res})["resident"]["referrals"]}
    # no referrals:read, no referrals
    reader = world.client("no-referrals", ["residents:read"], [])
    denied = reader.raw(q, {"id": rid}).json()
    assert denied["errors"][0]["extensions"]["code"] == "MISSING_SCOPE"
