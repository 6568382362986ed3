"""A signing app logs a resident in with a one-time code and acts for them only: their own
record and their children's, nobody else's; revocation and expiry end it at once."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.access.models import AuditEvent
from hub.access.resident_tokens import ResidentToken, wards
from hub.demo.load import load_demo
from hub.registry.models import Household, Resident
from hub.settings import Settings
from tests.conftest import Api, LiveServer, create_client_token
from tests.e2e.contract_support import run

START = """mutation($i: String!, $n: String!) { startResidentLogin(input: {idNumber: $i, name: $n})
    { loginId userErrors { code field message } } }"""
COMPLETE = """mutation($l: String!, $c: String!) { completeResidentLogin(loginId: $l, code: $c)
    { accessToken expiresAt resident { id } userErrors { code message } } }"""
RESIDENT = "query($id: ID!) { resident(id: $id) { residentId name } }"


@pytest.fixture(scope="module")
def sms(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sms") / "sms.log"


@pytest.fixture(scope="module")
def server(db_url: str, sms: Path) -> Iterator[LiveServer]:
    from hub.app import create_app
    from hub.core import build_hub

    assert asyncio.run(load_demo(db_url, scale=0.02, regions=("panyu",))).startswith("loaded")
    # codes per person unlimited here: these tests log the same resident in many times
    hub = build_hub(Settings(database_url=db_url, sms_sender=f"file:{sms}",
                             resident_codes_per_person=0))  # fmt: skip
    with LiveServer(create_app(hub)) as live:
        yield live


@pytest.fixture(scope="module")
def vendor(db_url: str, server: LiveServer) -> Api:
    scopes = ["residents:delegate", "residents:read", "contracts:read", "contracts:write",
              "referrals:read", "referrals:write"]  # fmt: skip
    return Api(server.url, create_client_token(db_url, "app-580", scopes))


@pytest.fixture(scope="module")
def family(db_url: str, server: LiveServer) -> dict[str, Any]:
    """A household head with a phone, an ID number and a minor child; and a stranger."""

    async def pick(session: AsyncSession) -> dict[str, Any]:
        born = dt.date.today().replace(year=dt.date.today().year - 17)
        heads = await session.scalars(
            select(Resident).join(Household, Household.head_resident_id == Resident.id)
            .where(Resident.id_number.is_not(None), Resident.name.is_not(None))
            .order_by(Resident.id))  # fmt: skip
        for head in heads:
            if not head.phones:
                continue
            child = await session.scalar(select(Resident.id).where(
                Resident.household_id == head.household_id, Resident.birth_date > born))  # fmt: skip
            if child is None:
                continue
            if child not in await wards(session, head.id):
                continue
            other = await session.scalar(select(Resident.id).where(
                Resident.household_id != head.household_id).limit(1))  # fmt: skip
            return {"head": head.id, "id_number": head.id_number, "name": head.name,
                    "child": child, "other": other}  # fmt: skip
        raise AssertionError("no household head with a minor child and a phone in the demo")

    return run(db_url, pick)


def _code(sms: Path, login_id: str) -> str:
    for line in sms.read_text().splitlines():
        lid, _, code = line.partition(" ")
        if lid == login_id:
            return code
    raise AssertionError("no code sent for this login")


def login(vendor: Api, sms: Path, family: dict[str, Any]) -> dict[str, Any]:
    lid = vendor(START, {"i": family["id_number"], "n": family["name"]})["startResidentLogin"]
    assert lid["userErrors"] == [] and lid["loginId"]
    done = vendor(COMPLETE, {"l": lid["loginId"], "c": _code(sms, lid["loginId"])})
    return done["completeResidentLogin"]


def gid(rid: int) -> str:
    import base64

    return base64.b64encode(f"Resident:{rid}".encode()).decode()


def test_login_reads_own_record_and_child_only(
    server: LiveServer, vendor: Api, sms: Path, family: dict[str, Any], db_url: str
) -> None:
    done = login(vendor, sms, family)
    assert done["userErrors"] == [] and done["accessToken"].startswith("hubr_")
    me = Api(server.url, done["accessToken"])
    own = me(RESIDENT, {"id": done["resident"]["id"]})["resident"]
    assert own["residentId"] == family["head"]
    assert me(RESIDENT, {"id": gid(family["child"])})["resident"]["residentId"] == family["child"]
    assert me(RESIDENT, {"id": gid(family["other"])})["resident"] is None
    found = me("{ residents(first: 50) { edges { node { residentId } } } }")["residents"]["edges"]
    assert {e["node"]["residentId"] for e in found} <= {family["head"], family["child"]}
    assert family["head"] in {e["node"]["residentId"] for e in found}
    fhir = httpx.Client(base_url=server.url,
                        headers={"Authorization": f"Bearer {done['accessToken']}"})  # fmt: skip
    assert fhir.get(f"/fhir/Patient/{family['head']}").status_code == 200
    assert fhir.get(f"/fhir/Patient/{family['other']}").status_code == 404

    # every read is audited with both the app and the resident
    async def actors(session: AsyncSession) -> set[str]:
        return set(await session.scalars(select(AuditEvent.actor).where(
            AuditEvent.actor.like("resident:%"))))  # fmt: skip

    for _ in range(50):  # the audit buffer flushes every 50 ms
        if f"resident:app-580#{family['head']}" in run(db_url, actors):
            break
        time.sleep(0.1)
    assert f"resident:app-580#{family['head']}" in run(db_url, actors)


def test_apps_and_revocation_at_once(
    server: LiveServer, vendor: Api, sms: Path, family: dict[str, Any]
) -> None:
    token = login(vendor, sms, family)["accessToken"]
    me = Api(server.url, token)
    apps = me("{ residentApps { clientId name } }")["residentApps"]
    assert "app-580" in {a["name"] for a in apps}
    assert vendor("{ residentApps { name } }")["residentApps"] == []
    out = me("mutation { revokeResidentAccess { revoked userErrors { code } } }")
    assert out["revokeResidentAccess"]["revoked"] >= 1
    assert me.raw(RESIDENT, {"id": gid(family["head"])}).status_code == 401


def test_expired_token_is_refused(
    server: LiveServer, vendor: Api, sms: Path, family: dict[str, Any], db_url: str
) -> None:
    token = login(vendor, sms, family)["accessToken"]
    me = Api(server.url, token)
    assert me(RESIDENT, {"id": gid(family["head"])})["resident"]

    async def expire(session: AsyncSession) -> None:
        from hub.access.resident_tokens import _hash

        await session.execute(update(ResidentToken).where(ResidentToken.token_hash == _hash(token))
                              .values(expires_at=dt.datetime.now(dt.UTC)
                                      - dt.timedelta(seconds=1)))  # fmt: skip

    run(db_url, expire, write=True)
    assert me.raw(RESIDENT, {"id": gid(family["head"])}).status_code == 401


def test_wrong_codes_void_the_login_and_unknown_people_look_the_same(
    vendor: Api, sms: Path, family: dict[str, Any]
) -> None:
    lid = vendor(START, {"i": family["id_number"], "n": family["name"]})["startResidentLogin"]
    right = _code(sms, lid["loginId"])
    wrong = "000000" if right != "000000" else "111111"
    codes = [vendor(COMPLETE, {"l": lid["loginId"], "c": wrong})["completeResidentLogin"]
             ["userErrors"][0]["code"] for _ in range(5)]  # fmt: skip
    assert codes == ["WRONG_CODE"] * 4 + ["LOGIN_VOID"]
    after = vendor(COMPLETE, {"l": lid["loginId"], "c": right})["completeResidentLogin"]
    assert after["accessToken"] is None and after["userErrors"][0]["code"] == "LOGIN_VOID"
    # nobody by that name: the same answer, no code sent, and no code works
    ghost = vendor(START, {"i": family["id_number"], "n": "不存在"})["startResidentLogin"]
    assert ghost["userErrors"] == [] and ghost["loginId"]
    assert ghost["loginId"] not in sms.read_text()
    bad = vendor(START, {"i": "not-a-number", "n": "x"})["startResidentLogin"]
    assert bad["userErrors"] == [] and bad["loginId"]
    res = vendor(COMPLETE, {"l": ghost["loginId"], "c": right})["completeResidentLogin"]
    assert res["userErrors"][0]["code"] == "WRONG_CODE"


def test_only_a_delegate_starts_a_login(
    server: LiveServer, db_url: str, family: dict[str, Any]
) -> None:
    plain = Api(server.url, create_client_token(db_url, "plain-reader", ["residents:read"]))
    out = plain(START, {"i": family["id_number"], "n": family["name"]})["startResidentLogin"]
    assert out["loginId"] is None and out["userErrors"][0]["code"] == "MISSING_SCOPE"


SIGN = """mutation($t: ID!, $r: ID!) { signContract(input: {teamId: $t, residentId: $r,
    packageCodes: ["PY-BASIC-1"]}) { contract { id status } userErrors { code field } } }"""


def test_resident_signs_online_with_a_team_of_their_region(
    server: LiveServer, vendor: Api, sms: Path, family: dict[str, Any], db_url: str
) -> None:
    from hub.directory.models import Organization, Team

    async def team(session: AsyncSession) -> str:
        return str(await session.scalar(select(Team.id).join(
            Organization, Organization.id == Team.organization_id)
            .where(Organization.region_key == "panyu").order_by(Team.id).limit(1)))  # fmt: skip

    import base64

    tid = base64.b64encode(f"Team:{run(db_url, team)}".encode()).decode()
    me = Api(server.url, login(vendor, sms, family)["accessToken"])
    out = me(SIGN, {"t": tid, "r": gid(family["head"])})["signContract"]
    codes = {e["code"] for e in out["userErrors"]}
    assert out["contract"] or codes <= {"ALREADY_SIGNED", "NOT_ELIGIBLE"}, out
    assert "FORBIDDEN" not in codes
    # 续约: the resident renews their own contract (the same packages)
    contracts = me("{ contracts(first: 10) { edges { node { id status } } } }")["contracts"]
    active = [e["node"]["id"] for e in contracts["edges"] if e["node"]["status"] == "ACTIVE"]
    assert active
    renewed = me(
        "mutation($c: ID!) { renewContract(contractId: $c) { contract { id } userErrors { code } } }",
        {"c": active[0]},
    )["renewContract"]
    assert renewed["userErrors"] == [] and renewed["contract"]["id"] == active[0], renewed
    stranger = me(SIGN, {"t": tid, "r": gid(family["other"])})["signContract"]
    assert stranger["contract"] is None and stranger["userErrors"][0]["code"] == "NOT_FOUND"


def test_resident_asks_to_change_team_within_the_institution(
    server: LiveServer, vendor: Api, sms: Path, family: dict[str, Any], db_url: str
) -> None:
    import base64

    from hub.contracts.models import Contract, ContractStatus
    from hub.directory.models import Team

    me = Api(server.url, login(vendor, sms, family)["accessToken"])
    contracts = me("{ contracts(first: 10) { edges { node { id status } } } }")["contracts"]
    active = [e["node"]["id"] for e in contracts["edges"] if e["node"]["status"] == "ACTIVE"]
    if not active:  # sign first (a team of the resident's region)
        test_resident_signs_online_with_a_team_of_their_region(server, vendor, sms, family, db_url)
        contracts = me("{ contracts(first: 10) { edges { node { id status } } } }")["contracts"]
        active = [e["node"]["id"] for e in contracts["edges"] if e["node"]["status"] == "ACTIVE"]

    async def other_team(session: AsyncSession) -> str:
        """A second team of the contract's institution (the small demo has one per clinic)."""
        from hub.directory.models import TeamMember

        (team_id,) = (await session.execute(select(Contract.team_id).where(
            Contract.resident_id == family["head"],
            Contract.status == ContractStatus.ACTIVE))).one()  # fmt: skip
        team = await session.get(Team, team_id)
        assert team is not None
        twin = f"{team.id}-B"
        if await session.get(Team, twin) is None:
            session.add(Team(id=twin, name=team.name + "（二）", organization_id=team.organization_id,
                             leader_id=team.leader_id, grid_area=team.grid_area,
                             capacity_households=team.capacity_households))  # fmt: skip
            await session.flush()
            members = await session.scalars(select(TeamMember).where(TeamMember.team_id == team.id))
            session.add_all([TeamMember(team_id=twin, practitioner_id=m.practitioner_id,
                                        role=m.role) for m in list(members)])  # fmt: skip
        return twin

    target = run(db_url, other_team, write=True)
    change = """mutation($c: ID!, $t: ID!) { changeContractTeam(contractId: $c, teamId: $t,
        reason: "搬家") { contract { id team { id } } userErrors { code field } } }"""
    tid = base64.b64encode(f"Team:{target}".encode()).decode()
    out = me(change, {"c": active[0], "t": tid})["changeContractTeam"]
    assert out["userErrors"] == [] and out["contract"]["team"]["id"] == tid, out
    # another resident's contract is out of reach, as if it did not exist
    other = base64.b64encode(b"Contract:999999").decode()
    gone = me(change, {"c": other, "t": tid})["changeContractTeam"]
    assert gone["contract"] is None and gone["userErrors"][0]["code"] == "NOT_FOUND", gone


def test_resident_books_a_slot_for_self_and_child_only(
    server: LiveServer, vendor: Api, sms: Path, family: dict[str, Any], db_url: str
) -> None:
    import base64
    from zoneinfo import ZoneInfo

    from hub.directory.models import Organization, Team

    async def team(session: AsyncSession) -> str:
        return str(await session.scalar(select(Team.id).join(
            Organization, Organization.id == Team.organization_id)
            .where(Organization.region_key == "panyu").order_by(Team.id).limit(1)))  # fmt: skip

    tid = base64.b64encode(f"Team:{run(db_url, team)}".encode()).decode()
    desk = Api(server.url, create_client_token(db_url, "booking-desk",
                                               ["contracts:read", "contracts:write"]))  # fmt: skip
    day = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date() + dt.timedelta(days=1)
    slots = desk(
        """mutation($t: ID!, $d: Date!) { publishClinicSession(input: {teamId: $t,
        date: $d, start: "10:00", end: "10:40", slotMinutes: 10, serviceKind: CHILD_CARE})
        { slots { id } userErrors { code } } }""",
        {"t": tid, "d": day.isoformat()},
    )
    slots = slots["publishClinicSession"]["slots"]
    me = Api(server.url, login(vendor, sms, family)["accessToken"])
    book = """mutation($s: ID!, $r: ID!) { bookAppointment(slotId: $s, residentId: $r,
        serviceKind: CHILD_CARE) { appointment { id residentId } userErrors { code } } }"""
    free = me("""query($t: ID!, $d: Date!) { freeSlots(teamId: $t, date: $d) { id } }""",
              {"t": tid, "d": day.isoformat()})["freeSlots"]  # fmt: skip
    assert {s["id"] for s in slots} <= {s["id"] for s in free}
    child = me(book, {"s": slots[0]["id"], "r": gid(family["child"])})["bookAppointment"]
    assert child["userErrors"] == [] and child["appointment"]["residentId"] == family["child"]
    other = me(book, {"s": slots[1]["id"], "r": gid(family["other"])})["bookAppointment"]
    assert other["appointment"] is None and other["userErrors"][0]["code"] == "NOT_FOUND"
    mine = me("query($r: ID!) { appointments(residentId: $r) { id status } }",
              {"r": gid(family["child"])})["appointments"]  # fmt: skip
    assert [a["id"] for a in mine] == [child["appointment"]["id"]]
    assert me("query($r: ID!) { appointments(residentId: $r) { id } }",
              {"r": gid(family["other"])})["appointments"] == []  # fmt: skip
    mark = me(
        """mutation($a: ID!) { markAppointment(appointmentId: $a, outcome: ARRIVED)
        { userErrors { code } } }""",
        {"a": child["appointment"]["id"]},
    )["markAppointment"]
    assert mark["userErrors"][0]["code"] == "NOT_FOUND"  # the team records arrival, not the app
    gone = me("""mutation($a: ID!) { cancelAppointment(appointmentId: $a)
        { appointment { status } userErrors { code } } }""",
              {"a": child["appointment"]["id"]})["cancelAppointment"]  # fmt: skip
    assert gone["appointment"]["status"] == "CANCELLED"
    session = me.raw(
        """mutation($t: ID!, $d: Date!) { publishClinicSession(input: {teamId: $t,
        date: $d, start: "10:00", end: "10:40", slotMinutes: 10, serviceKind: GENERAL})
        { userErrors { code } } }""",
        {"t": tid, "d": day.isoformat()},
    ).json()
    assert session["data"]["publishClinicSession"]["userErrors"][0]["code"] == "NOT_FOUND"


def test_resident_cancels_own_pending_referral_only(
    server: LiveServer, vendor: Api, sms: Path, family: dict[str, Any], db_url: str
) -> None:
    from hub.directory.models import Organization, Team

    async def pick(session: AsyncSession) -> tuple[str, str]:
        team = await session.scalar(select(Team.id).join(
            Organization, Organization.id == Team.organization_id)
            .where(Organization.region_key == "panyu").order_by(Team.id).limit(1))  # fmt: skip
        hospital = await session.scalar(select(Organization.id).where(
            Organization.primary_care.is_(False)).order_by(Organization.id).limit(1))  # fmt: skip
        return str(team), str(hospital)

    team, hospital = run(db_url, pick)
    admin = Api(server.url, create_client_token(db_url, "referral-admin", ["admin"]))
    create = """mutation($i: CreateReferralInput!) { createReferral(input: $i)
        { referral { id status } userErrors { code message } } }"""
    made = [
        admin(
            create,
            {
                "i": {
                    "residentId": gid(who),
                    "fromTeamId": team,
                    "toOrganizationId": hospital,
                    "direction": "UP",
                    "reason": "血压控制不佳",
                    "diagnosisCode": "I10",
                    "department": "心内科",
                }
            },
        )["createReferral"]
        for who in (family["head"], family["other"])
    ]
    assert all(m["userErrors"] == [] for m in made), made
    me = Api(server.url, login(vendor, sms, family)["accessToken"])
    cancel = """mutation($id: ID!) { cancelReferral(id: $id, reason: "不去了")
        { referral { status } userErrors { code } } }"""
    other = me(cancel, {"id": made[1]["referral"]["id"]})["cancelReferral"]
    assert other["referral"] is None and other["userErrors"][0]["code"] == "NOT_FOUND"
    own = me(cancel, {"id": made[0]["referral"]["id"]})["cancelReferral"]
    assert own["userErrors"] == [] and own["referral"]["status"] == "CANCELLED"
    receive = me("""mutation($id: ID!) { receiveReferral(id: $id) { userErrors { code } } }""",
                 {"id": made[0]["referral"]["id"]})["receiveReferral"]  # fmt: skip
    assert receive["userErrors"]


def test_an_expired_code_is_refused(
    vendor: Api, sms: Path, family: dict[str, Any], db_url: str
) -> None:
    from hub.access.resident_tokens import ResidentLogin

    lid = vendor(START, {"i": family["id_number"], "n": family["name"]})["startResidentLogin"]

    async def expire(session: AsyncSession) -> None:
        await session.execute(update(ResidentLogin).where(ResidentLogin.id == lid["loginId"])
                              .values(expires_at=dt.datetime.now(dt.UTC)
                                      - dt.timedelta(seconds=1)))  # fmt: skip

    run(db_url, expire, write=True)
    out = vendor(COMPLETE, {"l": lid["loginId"], "c": _code(sms, lid["loginId"])})
    assert out["completeResidentLogin"]["userErrors"][0]["code"] == "CODE_EXPIRED"
    assert out["completeResidentLogin"]["accessToken"] is None
