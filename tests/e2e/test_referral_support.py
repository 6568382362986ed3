"""Shared set-up for the referral, subscription and webhook end-to-end tests.

Two regions: Jilin (reserved shares 2017: 30%/40%, 2020: 50%/60%; long prescriptions up
to 2 months) and Yongkang (no reserved share; long prescriptions up to 12 weeks). Each
region has a community health centre with a team, and hospitals; clients are bound to
one organization each, as a hospital's or a vendor's would be.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
from dataclasses import dataclass, field
from typing import Any

import pytest

from hub.registry.idnumber import make
from tests.conftest import Api, LiveServer, create_client_token

DAY = dt.date(2026, 12, 1)  # Jilin's 2020 shares are in force

ORGS = [
    # code, name, kind, region, GB/T 2260
    ("JL-CHC", "朝阳区南湖街道社区卫生服务中心", "COMMUNITY_HEALTH_CENTER", "jilin", "220104"),
    ("JL-CHC2", "朝阳区清和街道社区卫生服务中心", "COMMUNITY_HEALTH_CENTER", "jilin", "220104"),
    ("JL-H2", "长春市朝阳区医院", "SECONDARY_HOSPITAL", "jilin", "220104"),
    ("JL-H3", "吉林大学第一医院", "TERTIARY_HOSPITAL", "jilin", "220104"),
    ("JL-HX", "长春市中心医院", "SECONDARY_HOSPITAL", "jilin", "220104"),
    ("YK-CHC", "永康市东城街道社区卫生服务中心", "COMMUNITY_HEALTH_CENTER", "yongkang", "330784"),
    ("YK-H2", "永康市第一人民医院", "SECONDARY_HOSPITAL", "yongkang", "330784"),
]

DIRECTORY = """
mutation($code: String!, $name: String!, $kind: OrganizationKind!, $region: String!,
         $rc: String!) {
  upsertOrganization(input: {code: $code, name: $name, kind: $kind, region: $region,
                             regionCode: $rc}) { organization { id } userErrors { code } } }"""

TEAM = """
mutation($code: String!, $org: String!, $gp: String!) {
  upsertPractitioner(input: {code: $gp, name: "赵医生", sex: "1", role: GP,
                             organizationCode: $org}) { userErrors { code } }
  upsertTeam(input: {code: $code, name: "家庭医生团队", organizationCode: $org, leaderCode: $gp,
                     members: [{practitionerCode: $gp, role: GP}]})
    { team { id } userErrors { code } } }"""

SUBMIT = """
mutation($input: ResidentRecordInput!) { submitResidentRecord(input: $input) {
  resident { id residentId } userErrors { code message } } }"""

REFERRAL_FIELDS = """
  id referralId direction status department reason diagnosisCode urgency priorities
  residentSigned nextAction dischargeSummary rehabilitationPlan completionNote
  resident { id name } team { code } hospital { code }
  fromOrganization { code } toOrganization { code }
  booking { kind date department status }
  prescriptions { drug dose duration durationUnit }
  transitions { fromStatus toStatus at actor note }
  documents { title url }
"""

CREATE = """
mutation($input: CreateReferralInput!) { createReferral(input: $input) {
  referral { FIELDS } userErrors { code field message } } }""".replace("FIELDS", REFERRAL_FIELDS)

ACTIONS = {
    "receive": "receiveReferral(id: $id)",
    "arrive": "markArrived(id: $id)",
}


def act(api: Api, name: str, rid: str) -> dict[str, Any]:
    """receiveReferral / markArrived: returns the payload (asserts no GraphQL errors)."""
    query = "mutation($id: ID!) { out: %s { referral { %s } userErrors { code field message } } }"
    return api(query % (ACTIONS[name], REFERRAL_FIELDS), {"id": rid})["out"]


def accept(api: Api, rid: str, booking: dict[str, Any] | None) -> dict[str, Any]:
    query = """mutation($id: ID!, $b: BookingInput) { acceptReferral(id: $id, booking: $b) {
      referral { FIELDS } userErrors { code field message } } }""".replace(
        "FIELDS", REFERRAL_FIELDS
    )
    return api(query, {"id": rid, "b": booking})["acceptReferral"]


def reject(api: Api, rid: str, reason: str) -> dict[str, Any]:
    query = """mutation($id: ID!, $r: String!) { rejectReferral(id: $id, reason: $r) {
      referral { FIELDS } userErrors { code field message } } }""".replace(
        "FIELDS", REFERRAL_FIELDS
    )
    return api(query, {"id": rid, "r": reason})["rejectReferral"]


def cancel(api: Api, rid: str, reason: str = "resident declined") -> dict[str, Any]:
    query = """mutation($id: ID!, $r: String) { cancelReferral(id: $id, reason: $r) {
      referral { FIELDS } userErrors { code field message } } }""".replace(
        "FIELDS", REFERRAL_FIELDS
    )
    return api(query, {"id": rid, "r": reason})["cancelReferral"]


def complete(
    api: Api,
    rid: str,
    summary: str | None = None,
    prescriptions: list[dict[str, Any]] | None = None,
    plan: str | None = None,
) -> dict[str, Any]:
    query = """mutation($id: ID!, $s: String, $p: [PrescriptionInput!], $plan: String) {
      completeReferral(id: $id, summary: $s, prescriptions: $p, rehabilitationPlan: $plan) {
        referral { FIELDS } downReferral { FIELDS } userErrors { code field message } } }""".replace(
        "FIELDS", REFERRAL_FIELDS
    )
    return api(query, {"id": rid, "s": summary, "p": prescriptions, "plan": plan})[
        "completeReferral"
    ]


def publish(
    api: Api, org: str, day: dt.date, department: str, slots: int, beds: int, **extra: Any
) -> dict[str, Any]:
    query = """mutation($input: PublishCapacityInput!) { publishCapacity(input: $input) {
      capacity { date department expertSlots beds reservedExpertSlots reservedBeds
                 bookedExpertSlots bookedBeds freeReservedExpertSlots freeReservedBeds
                 policyShareExpertSlots policyShareBeds }
      userErrors { code field message } } }"""
    return api(
        query,
        {
            "input": {
                "organizationId": org,
                "date": day.isoformat(),
                "department": department,
                "expertSlots": slots,
                "beds": beds,
                **extra,
            }
        },
    )["publishCapacity"]


_ids = itertools.count(1)


@dataclass
class World:
    """The directory, residents and clients of one live server."""

    live: LiveServer
    db_url: str
    admin: Api
    residents: dict[str, str] = field(default_factory=dict)  # key -> Resident global id
    resident_ids: dict[str, int] = field(default_factory=dict)
    clients: dict[str, Api] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def client(self, name: str, scopes: list[str], orgs: list[str]) -> Api:
        if name not in self.clients:
            token = create_client_token(self.db_url, f"{name}-{next(_ids)}", scopes, orgs)
            self.tokens[name] = token
            self.clients[name] = Api(self.live.url, token)
        return self.clients[name]

    def hospital(self, org: str) -> Api:
        return self.client(
            f"hospital-{org}", ["referrals:read", "referrals:write", "residents:read"], [org]
        )

    def team_client(self, org: str) -> Api:
        return self.client(
            f"team-{org}", ["referrals:read", "referrals:write", "residents:read"], [org]
        )

    def resident(
        self, key: str, region: str = "220104", org: str = "JL-CHC", team: str = "JL-TEAM"
    ) -> str:
        """A resident managed by ``org``/``team`` (created once per key)."""
        if key not in self.residents:
            n = next(_ids)
            number = make(region, dt.date(1950 + n % 40, 1 + n % 12, 1 + n % 28), 100 + n)
            out = self.admin(
                SUBMIT,
                {
                    "input": {
                        "source": "vendor",
                        "sourceId": f"{key}-{n}",
                        "name": f"居民{key}",
                        "sex": "1" if n % 2 else "2",
                        "idNumber": number,
                        "categories": ["HYPERTENSION"],
                    }
                },
            )["submitResidentRecord"]
            assert out["userErrors"] == [], out
            self.residents[key] = out["resident"]["id"]
            self.resident_ids[key] = out["resident"]["residentId"]
            asyncio.run(_manage(self.db_url, out["resident"]["residentId"], org, team))
        return self.residents[key]

    def refer(
        self,
        api: Api,
        key: str,
        *,
        to: str = "JL-H2",
        team: str = "JL-TEAM",
        department: str | None = "心内科",
        priorities: tuple[str, ...] = ("EXPERT_APPOINTMENT", "ADMISSION"),
        **extra: Any,
    ) -> dict[str, Any]:
        region, org = ("330784", "YK-CHC") if team.startswith("YK") else ("220104", "JL-CHC")
        payload = {
            "residentId": self.resident(key, region, org, team),
            "fromTeamId": team,
            "toOrganizationId": to,
            "direction": "UP",
            "reason": "血压控制不佳，需专科评估",
            "diagnosisCode": "I10",
            "diagnosisText": "原发性高血压",
            "priorities": list(priorities),
            "department": department,
            **extra,
        }
        return api(CREATE, {"input": payload})["createReferral"]

    def received(self, api_team: Api, api_hospital: Api, key: str, **kw: Any) -> str:
        """An up-referral created and received; returns its id."""
        made = self.refer(api_team, key, **kw)
        assert made["userErrors"] == [], made
        rid = made["referral"]["id"]
        assert act(api_hospital, "receive", rid)["userErrors"] == []
        return rid


async def _manage(url: str, resident_id: int, org: str, team: str) -> None:
    from sqlalchemy import update

    from hub.db import Database
    from hub.registry.models import Resident

    db = Database(url)
    try:
        async with db.transaction() as s:
            await s.execute(
                update(Resident)
                .where(Resident.id == resident_id)
                .values(organization_id=org, team_id=team)
            )
    finally:
        await db.dispose()


def build_world(live: LiveServer, db_url: str) -> World:
    admin = Api(live.url, create_client_token(db_url, f"admin-{next(_ids)}", ["admin"]))
    for code, name, kind, region, rc in ORGS:
        out = admin(
            DIRECTORY, {"code": code, "name": name, "kind": kind, "region": region, "rc": rc}
        )
        assert out["upsertOrganization"]["userErrors"] == []
    for team, org in (("JL-TEAM", "JL-CHC"), ("JL-TEAM2", "JL-CHC2"), ("YK-TEAM", "YK-CHC")):
        out = admin(TEAM, {"code": team, "org": org, "gp": f"{team}-GP"})
        assert out["upsertTeam"]["userErrors"] == []
    return World(live=live, db_url=db_url, admin=admin)


@pytest.fixture(scope="module")
def world(live: LiveServer, db_url: str) -> World:
    return build_world(live, db_url)


def test_the_directory_is_set_up(world: World) -> None:
    orgs = world.admin("{ organizations(first: 50) { edges { node { code region } } } }")
    codes = {e["node"]["code"]: e["node"]["region"] for e in orgs["organizations"]["edges"]}
    assert codes["JL-H2"] == "jilin" and codes["YK-H2"] == "yongkang"
