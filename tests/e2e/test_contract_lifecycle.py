"""A signed contract over time, over GraphQL on the demo districts: the expiry roll
(`hub contracts roll`, run twice), renewal, team change, termination, long absence,
fulfilment, and who may see what."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hub.access.principal import system
from hub.contracts import delivery
from tests.conftest import Api, LiveServer, create_client_token
from tests.e2e import contract_support
from tests.e2e.contract_support import (
    CONTRACT,
    TODAY,
    codes,
    events,
    households,
    pick_residents,
    roll_cli,
    run,
    sign,
    teams_of_region,
)

# The module's fixtures: demo districts loaded, then the server, and an admin client.
demo = contract_support.demo
api = contract_support.api


def _get(api: Api, contract: dict[str, Any]) -> dict[str, Any]:
    return api(CONTRACT, {"id": contract["id"]})["contract"]


def _package_codes(c: dict[str, Any]) -> list[str]:
    return [p["code"] for p in c["packages"]]


def test_panyu_basic_package_becomes_free_the_day_after_expiry(api: Api, demo: str) -> None:
    (r,) = pick_residents(demo, "panyu", insurance="URBAN_EMPLOYEE")
    signed = sign(
        api,
        residentId=str(r.id),
        teamId=r.team_id,
        packageCodes=["PY-BASIC-1"],
        signedOn="2024-07-01",
    )["contract"]
    assert (signed["startsOn"], signed["endsOn"]) == ("2024-07-01", "2025-06-30")
    roll_cli(demo, "2025-06-30")  # the last day: still basic
    assert _package_codes(_get(api, signed)) == ["PY-BASIC-1"]
    roll_cli(demo, "2025-07-01")
    roll_cli(demo, "2025-07-01")  # idempotent
    c = _get(api, signed)
    assert c["status"] == "ACTIVE" and _package_codes(c) == ["PY-FREE"]
    assert (c["startsOn"], c["endsOn"], c["periodNo"]) == ("2025-07-01", "2026-06-30", 2)
    f = c["fees"]
    assert (f["price"], f["publicHealthFund"], f["insuranceFund"], f["personal"]) == (
        "30.00",
        "30.00",
        "0.00",
        "0.00",
    )
    assert [p["origin"] for p in c["periods"]] == ["SIGNED", "FALLEN_BACK"]
    assert len(events(demo, "contract.converted", c["contractId"])) == 1


def test_erqi_household_contract_renews_itself_every_three_years(api: Api, demo: str) -> None:
    household, members = next((h, ms) for h, ms in households(demo, "erqi") if len(ms) >= 2)
    team = members[0].team_id
    before = api("query($id: ID!) { team(id: $id) { load { households persons } } }", {"id": team})[
        "team"
    ]["load"]
    out = sign(
        api,
        householdId=str(household.id),
        teamId=team,
        packageCodes=["EQ-BASIC"],
        signedOn="2020-03-01",
    )
    assert out["userErrors"] == [] and len(out["contracts"]) == len(members)
    assert {c["endsOn"] for c in out["contracts"]} == {"2023-02-28"}
    after = api("query($id: ID!) { team(id: $id) { load { households persons } } }", {"id": team})[
        "team"
    ]["load"]
    assert after == {
        "households": before["households"] + 1,
        "persons": before["persons"] + len(members),
    }
    roll_cli(demo, "2023-03-01")
    roll_cli(demo, "2023-03-01")
    for signed in out["contracts"]:
        c = _get(api, signed)
        assert (c["status"], c["startsOn"], c["endsOn"]) == ("ACTIVE", "2023-03-01", "2026-02-28")
        assert [p["origin"] for p in c["periods"]] == ["SIGNED", "RENEWED"]
        assert len(events(demo, "contract.renewed", c["contractId"])) == 1


def test_paid_renewal_keeps_the_basic_package(api: Api, demo: str) -> None:
    (r,) = pick_residents(demo, "panyu", insurance="URBAN_EMPLOYEE")
    signed = sign(
        api,
        residentId=str(r.id),
        teamId=r.team_id,
        packageCodes=["PY-BASIC-1"],
        signedOn="2023-09-01",
    )["contract"]
    renewed = api(
        """mutation($id: ID!) { renewContract(contractId: $id, packageCodes: ["PY-BASIC-1"],
        paidOn: "2024-08-15") { contract { renewal { packageCodes paidOn startsOn } }
        userErrors { code } } }""",
        {"id": signed["id"]},
    )["renewContract"]
    assert renewed["userErrors"] == []
    assert renewed["contract"]["renewal"] == {
        "packageCodes": ["PY-BASIC-1"],
        "paidOn": "2024-08-15",
        "startsOn": "2024-09-01",
    }
    roll_cli(demo, "2024-09-01")
    c = _get(api, signed)
    assert _package_codes(c) == ["PY-BASIC-1"] and c["renewal"] is None
    assert (c["startsOn"], c["endsOn"], c["fees"]["price"]) == (
        "2024-09-01",
        "2025-08-31",
        "130.00",
    )
    assert [p["origin"] for p in c["periods"]] == ["SIGNED", "RENEWED"]


def test_yongkang_unpaid_fee_signing_converts_to_no_fee(api: Api, demo: str) -> None:
    (r,) = pick_residents(demo, "yongkang", insurance="URBAN_RURAL_RESIDENT")
    signed = sign(
        api, residentId=str(r.id), teamId=r.team_id, packageCodes=["YK-FEE"], signedOn="2022-05-10"
    )["contract"]
    early = api(
        """mutation($id: ID!) { renewContract(contractId: $id, paidOn: "2023-01-05") {
        userErrors { code } } }""",
        {"id": signed["id"]},
    )["renewContract"]
    assert codes(early) == ["RENEWAL_PAYMENT_OUTSIDE_WINDOW"]  # more than a month early
    roll_cli(demo, "2023-05-10")
    c = _get(api, signed)
    assert _package_codes(c) == ["YK-NO-FEE"] and c["fees"]["price"] == "0.00"
    assert [p["origin"] for p in c["periods"]] == ["SIGNED", "CONVERTED"]


def test_team_changes_only_within_the_institution(api: Api, demo: str) -> None:
    teams = teams_of_region(demo, "panyu")
    by_org: dict[str, list[str]] = {}
    for t in teams:
        by_org.setdefault(t.organization_id, []).append(t.id)
    org, (t1, t2, *_) = next((o, ts) for o, ts in by_org.items() if len(ts) >= 2)
    elsewhere = next(t.id for t in teams if t.organization_id != org)
    (r,) = pick_residents(demo, "panyu", insurance="URBAN_RURAL_RESIDENT")
    c = sign(api, residentId=str(r.id), teamId=t1, packageCodes=["PY-BASIC-2"])["contract"]
    change = """mutation($c: ID!, $t: ID!) { changeContractTeam(contractId: $c, teamId: $t,
        reason: "dissatisfied") { contract { team { code } fees { price } } userErrors { code field } } }"""
    moved = api(change, {"c": c["id"], "t": elsewhere})["changeContractTeam"]
    assert moved["contract"] is None
    assert moved["userErrors"] == [{"code": "CROSS_INSTITUTION_CHANGE", "field": "teamId"}]
    ok = api(change, {"c": c["id"], "t": t2})["changeContractTeam"]
    assert ok["userErrors"] == [] and ok["contract"]["team"]["code"] == t2
    assert ok["contract"]["fees"]["price"] == "70.00"  # no new fee
    (event,) = events(demo, "contract.team_changed", c["contractId"])
    assert event.data["from_team_id"] == t1 and event.data["to_team_id"] == t2


def test_terminate_and_long_absence(api: Api, demo: str) -> None:
    r1, r2 = pick_residents(demo, "wenzhou", limit=2)
    c1 = sign(api, residentId=str(r1.id), teamId=r1.team_id, packageCodes=["WZ-STANDARD"])[
        "contract"
    ]
    absent = """mutation($c: ID!, $d: AbsenceDecision!) { recordLongAbsence(contractId: $c,
        since: "2026-01-10", decision: $d) { contract { status longAbsence { since decision long }
        termination { reason } } userErrors { code } } }"""
    kept = api(absent, {"c": c1["id"], "d": "KEEP"})["recordLongAbsence"]["contract"]
    assert kept["status"] == "ACTIVE"
    assert kept["longAbsence"]["decision"] == "KEEP"
    assert kept["longAbsence"]["long"] is (TODAY > dt.date(2026, 4, 10))
    gone = api(absent, {"c": c1["id"], "d": "MOVE_RECORD"})["recordLongAbsence"]["contract"]
    assert gone["status"] == "TERMINATED" and gone["termination"]["reason"] == "MOVED_AWAY"

    c2 = sign(api, residentId=str(r2.id), teamId=r2.team_id, packageCodes=["WZ-STANDARD"])[
        "contract"
    ]
    ended = api(
        """mutation($c: ID!) { terminateContract(contractId: $c, reason: VOLUNTARY,
        note: "moves to the city") { contract { status endedOn termination { reason note }
        resident { signed } } userErrors { code } } }""",
        {"c": c2["id"]},
    )["terminateContract"]
    assert ended["contract"]["status"] == "TERMINATED"
    assert ended["contract"]["termination"] == {"reason": "VOLUNTARY", "note": "moves to the city"}
    assert ended["contract"]["resident"]["signed"] is False
    twice = api(
        """mutation($c: ID!) { terminateContract(contractId: $c, reason: OTHER) {
        userErrors { code } } }""",
        {"c": c2["id"]},
    )["terminateContract"]
    assert codes(twice) == ["CONTRACT_NOT_ACTIVE"]
    again = sign(api, residentId=str(r2.id), teamId=r2.team_id, packageCodes=["WZ-STANDARD"])
    assert again["userErrors"] == []  # a terminated contract does not block a new one


def test_hypertension_with_three_follow_ups_shows_the_fourth_due(api: Api, demo: str) -> None:
    (r,) = pick_residents(demo, "panyu", category="HYPERTENSION")
    start = TODAY - dt.timedelta(days=100)
    c = sign(
        api,
        residentId=str(r.id),
        teamId=r.team_id,
        packageCodes=["PY-FREE"],
        signedOn=start.isoformat(),
    )["contract"]
    leader = api("query($id: ID!) { team(id: $id) { leader { id } } }", {"id": r.team_id})["team"][
        "leader"
    ]["id"]
    record = """mutation($c: ID!, $item: String!, $on: Date!, $by: ID) { recordServiceDelivery(
        contractId: $c, itemCode: $item, performedOn: $on, performerId: $by) {
        delivery { itemCode performedOn } userErrors { code field } } }"""
    for days in (90, 60, 30):
        on = (TODAY - dt.timedelta(days=days)).isoformat()
        out = api(record, {"c": c["id"], "item": "CHRONIC_FOLLOW_UP", "on": on, "by": leader})
        assert out["recordServiceDelivery"]["userErrors"] == []
    not_owed = api(record, {"c": c["id"], "item": "FASTING_GLUCOSE", "on": TODAY.isoformat()})
    future = api(
        record,
        {
            "c": c["id"],
            "item": "CHRONIC_FOLLOW_UP",
            "on": (TODAY + dt.timedelta(days=1)).isoformat(),
        },
    )
    assert codes(not_owed["recordServiceDelivery"]) == ["ITEM_NOT_IN_CONTRACT"]
    assert codes(future["recordServiceDelivery"]) == ["DELIVERY_DATE_INVALID"]

    q = """query($id: ID!) { contract(id: $id) { fulfilment { itemCode windowStart windowEnd
        required done remaining status } } }"""

    def follow_up() -> dict[str, Any]:
        rows = api(q, {"id": c["id"]})["contract"]["fulfilment"]
        return next(x for x in rows if x["itemCode"] == "CHRONIC_FOLLOW_UP")

    row = follow_up()
    assert (row["required"], row["done"], row["remaining"], row["status"]) == (4, 3, 1, "DUE")
    assert row["windowStart"] == start.isoformat()

    async def from_his(s: Any) -> Any:  # what an adapter does for a HIS follow-up visit
        return await delivery.record_delivery(
            s,
            system("adapter:his"),
            resident_id=r.id,
            category="HYPERTENSION",
            performed_on=TODAY,
            source="his",
            source_ref="ENC-0001",
        )

    assert run(demo, from_his, write=True).item_code == "CHRONIC_FOLLOW_UP"
    run(demo, from_his, write=True)  # a retried message is recorded once
    assert (follow_up()["done"], follow_up()["status"]) == (4, "MET")

    (other,) = pick_residents(demo, "jilin")

    async def unsigned(s: Any) -> Any:
        return await delivery.record_delivery(
            s,
            system("adapter:his"),
            resident_id=other.id,
            category="HYPERTENSION",
            performed_on=TODAY,
            source="his",
        )

    assert run(demo, unsigned, write=True) is None


def test_a_bound_client_sees_residents_signed_with_its_institution(
    api: Api, demo: str, live: LiveServer
) -> None:
    teams = teams_of_region(demo, "panyu")
    (r,) = pick_residents(demo, "panyu", insurance="URBAN_RURAL_RESIDENT")
    home = next(t for t in teams if t.id == r.team_id).organization_id
    other_team = next(t for t in teams if t.organization_id != home)
    third_org = next(
        t.organization_id
        for t in teams
        if t.organization_id not in (home, other_team.organization_id)
    )
    c = sign(api, residentId=str(r.id), teamId=other_team.id, packageCodes=["PY-FREE"])["contract"]
    scopes = ["residents:read", "contracts:read"]
    mine = Api(
        live.url, create_client_token(demo, "vendor-b", scopes, [other_team.organization_id])
    )
    stranger = Api(live.url, create_client_token(demo, "vendor-c", scopes, [third_org]))
    q = """query($r: ID!, $c: ID!) { resident(id: $r) { residentId contracts { number } }
        contract(id: $c) { number } }"""
    seen = mine(q, {"r": c["resident"]["id"], "c": c["id"]})
    assert seen["resident"]["contracts"][0]["number"] == c["number"]
    assert seen["contract"]["number"] == c["number"]
    assert stranger(q, {"r": c["resident"]["id"], "c": c["id"]}) == {
        "resident": None,
        "contract": None,
    }
    listed = mine("""{ residents(first: 100, filter: {signed: true}) { edges { node { residentId } } }
        contracts(first: 100) { totalCount } }""")
    assert r.id in {e["node"]["residentId"] for e in listed["residents"]["edges"]}
    no_scope = Api(live.url, create_client_token(demo, "reader-only", ["residents:read"]))
    denied = no_scope.raw("query($c: ID!) { contract(id: $c) { number } }", {"c": c["id"]}).json()
    assert denied["errors"][0]["extensions"]["code"] == "MISSING_SCOPE"
    refused = Api(
        live.url,
        create_client_token(demo, "writer-b", ["contracts:write"], [other_team.organization_id]),
    )
    (r2,) = pick_residents(demo, "panyu", insurance="URBAN_RURAL_RESIDENT")
    not_theirs = next(t.id for t in teams if t.organization_id != other_team.organization_id)
    foreign = sign(refused, residentId=str(r2.id), teamId=not_theirs, packageCodes=["PY-FREE"])
    assert codes(foreign) == ["FORBIDDEN"]  # a vendor signs only for its own institutions


def test_contracts_connection_node_and_number(api: Api, demo: str) -> None:
    page = api("""{ contracts(first: 2, filter: {region: "panyu", status: ACTIVE}) { totalCount
        edges { node { id number } } pageInfo { hasNextPage endCursor } } }""")["contracts"]
    assert page["totalCount"] >= 2 and len(page["edges"]) == 2
    first = page["edges"][0]["node"]
    node = api(
        "query($id: ID!) { node(id: $id) { ... on Contract { number } } }", {"id": first["id"]}
    )
    assert node["node"]["number"] == first["number"]
    by_number = api(
        "query($n: String!) { contractByNumber(number: $n) { id } }", {"n": first["number"]}
    )["contractByNumber"]
    assert by_number["id"] == first["id"]
    nxt = api(
        """query($a: String) { contracts(first: 2, after: $a, filter: {region: "panyu"}) {
        edges { node { id } } } }""",
        {"a": page["pageInfo"]["endCursor"]},
    )["contracts"]["edges"]
    assert first["id"] not in {e["node"]["id"] for e in nxt}
