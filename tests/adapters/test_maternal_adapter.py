"""The maternal-child adapter on hand-written records, through the real runtime, database
(SQLite and PostgreSQL) and GraphQL over HTTP: mothers linked to the registry, twins as two
residents with their mother, the child's later ID number, PREGNANT_POSTPARTUM ending 42
days after delivery, fulfilment of a signed Yongkang contract, the work list, the signing
status pushed once to the simulator (whose endpoint fails twice first), and FHIR forms."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import func, select

from hub.demo.load import load_demo
from hub.registry.idnumber import make
from hub.registry.models import Resident, ResidentIdentifier
from tests.adapters import maternal_support as M
from tests.conftest import Api, LiveServer, create_client_token
from tests.e2e.contract_support import run, sign, unsigned

QUERY = """query($id: ID!) { resident(id: $id) { residentId categories idNumber
  pregnancies { handbookNumber lmp edd riskColour highRisk status
    delivery { deliveredOn dischargedOn mode babies }
    visits { kind visitOn gestationalWeek riskColour systolic fhir } fhir }
  childHealthExams { kind examOn fhir }
  mother { residentId } children { residentId name idNumber birthDate household { id } fhir }
  motherRelatedPerson household { id }
  contracts { number fulfilment { itemCode done status trigger windowStart windowEnd } } } }"""


@dataclass
class World:
    db: str
    api: Api
    sim: str
    mothers: dict[str, Any] = field(default_factory=dict)  # role -> Resident row
    contracts: dict[str, str] = field(default_factory=dict)  # role -> contract number
    receipts: list[Any] = field(default_factory=list)


def _gid(kind: str, i: int) -> str:
    from schema.relay import to_global_id

    return to_global_id(kind, i)


def _women(db: str, n: int) -> list[Any]:
    today = dt.date.today()

    async def q(s: Any) -> list[Any]:
        stmt = (
            select(Resident)
            .where(
                Resident.region_key == "yongkang",
                Resident.sex == "2",
                Resident.team_id.is_not(None),
                Resident.id_number.is_not(None),
                unsigned(),
                Resident.birth_date.between(
                    today.replace(year=today.year - 40), today.replace(year=today.year - 20)
                ),
            )
            .order_by(Resident.id)
            .limit(n)
        )
        return list((await s.scalars(stmt)).all())

    found = run(db, q)
    assert len(found) == n, "too few Yongkang women of 20-40 in the demo data"
    return found


@pytest.fixture(scope="module")
def world(db_url: str) -> Iterator[World]:
    asyncio.run(load_demo(db_url, scale=0.05, regions=["yongkang"]))
    from hub.app import build_hub, create_app

    with (
        M.simulator("--mothers", "1", "--demo-scale", "0.05", "--faults", "push") as sim,
        LiveServer(create_app(build_hub(database_url=db_url))) as live,
    ):
        api = Api(live.url, create_client_token(db_url, "maternal-admin", ["admin"]))
        w = World(db_url, api, sim)
        roles = ("twins", "pregnant", "day43", "day41", "unsigned", "discharged")
        w.mothers = dict(zip(roles, _women(db_url, len(roles)), strict=True))
        m = w.mothers
        twin_id = make("330784", M.days(10), 124)  # a girl's sequence number (even)
        records = [
            # a visit that arrives before its registration waits for it (parked, woken)
            M.prenatal("HB-PREG", M.TODAY, 24, "橙"),
            M.registration("HB-TWINS", m["twins"], lmp=M.days(290)),
            M.prenatal("HB-TWINS", M.days(120), 24),
            M.delivery("HB-TWINS", M.days(10), discharged=M.days(9), babies=2),
            M.birth(
                "HB-TWINS",
                "CERT-T1",
                m["twins"],
                M.days(10),
                order=1,
                name=f"{m['twins'].name}之女",
            ),
            M.birth(
                "HB-TWINS",
                "CERT-T2",
                m["twins"],
                M.days(10),
                order=2,
                name=f"{m['twins'].name}之女",
            ),
            M.registration("HB-PREG", m["pregnant"], lmp=M.days(170)),
            M.registration("HB-43", m["day43"], lmp=M.days(330)),
            M.delivery("HB-43", M.days(43), discharged=M.days(40)),
            M.registration("HB-41", m["day41"], lmp=M.days(330)),
            M.delivery("HB-41", M.days(41), discharged=M.days(38)),
            M.registration("HB-UNSIGNED", m["unsigned"], lmp=M.days(100)),
            M.registration("HB-DIS", m["discharged"], lmp=M.days(275)),
        ]

        async def go() -> None:
            hub = build_hub(database_url=db_url)
            try:
                w.receipts += await M.feed(hub, records)
                await _settle(hub)
            finally:
                await hub.db.dispose()

        asyncio.run(go())
        for role in ("twins", "pregnant", "discharged"):
            r = m[role]
            out = sign(api, residentId=str(r.id), teamId=r.team_id, packageCodes=["YK-NO-FEE"])
            assert out["userErrors"] == [], out
            w.contracts[role] = out["contract"]["number"]
        later = [
            M.delivery("HB-DIS", M.TODAY, discharged=M.TODAY),
            M.record(
                "postpartum_visit",
                {
                    "handbook_no": "HB-DIS",
                    "visit_date": M.TODAY.isoformat(),
                    "institution": "YKJNSQ",
                    "systolic": 120,
                    "diastolic": 80,
                },
            ),
            M.prenatal("HB-PREG", M.TODAY, 28, "红"),  # after signing: counts as PRENATAL_CARE
            # a record with twin 2's ID number: it lands on twin 2, not a new person
            M.record(
                "newborn_visit",
                {
                    "handbook_no": "HB-TWINS",
                    "certificate_no": "CERT-T2",
                    "visit_date": M.TODAY.isoformat(),
                    "child_id_number": twin_id,
                    "institution": "YKJNSQ",
                    "weight_kg": 3.1,
                    "jaundice": False,
                },
            ),
        ]

        async def go2() -> None:
            from adapters.maternal.adapter import MaternalRunner

            hub = build_hub(database_url=db_url)
            runner = MaternalRunner(hub, M.fast_settings(sim))
            try:
                w.receipts += await M.feed(hub, later)
                await runner.until_idle()  # pushes the signing statuses (retries on 503)
            finally:
                await runner.stop()
                await hub.db.dispose()

        asyncio.run(go2())
        w.twin_id = twin_id  # type: ignore[attr-defined]
        yield w


async def _settle(hub: Any) -> None:
    from adapters.maternal.adapter import build_adapter
    from adapters.runtime.types import Backoff
    from adapters.runtime.worker import retry_step

    step = retry_step(hub.db, build_adapter(hub), Backoff(0.01, 0.1, 3))
    for _ in range(20):
        if not await step():
            await asyncio.sleep(0.05)
            if not await step():
                return


def resident(w: World, rid: int) -> dict[str, Any]:
    out: dict[str, Any] = w.api(QUERY, {"id": _gid("Resident", rid)})["resident"]
    return out


def test_every_record_applied_once_the_early_visit_waited(world: World) -> None:
    async def q(s: Any) -> dict[str, int]:
        from adapters.runtime.models import InboundMessage

        rows = await s.execute(
            select(InboundMessage.status, func.count())
            .where(InboundMessage.adapter == "maternal", InboundMessage.control_id.like("T%"))
            .group_by(InboundMessage.status)
        )
        return dict(rows.all())

    assert run(world.db, q) == {"APPLIED": 17}
    assert world.receipts[0].status == "PARKED"  # the visit came before its registration


def test_mother_linked_with_pregnancy_visits_delivery_and_category(world: World) -> None:
    m = world.mothers["twins"]
    r = resident(world, m.id)
    assert r["residentId"] == m.id  # linked to the registry's resident, not a new one
    assert "PREGNANT_POSTPARTUM" in r["categories"]
    (p,) = r["pregnancies"]
    assert p["status"] == "POSTPARTUM" and p["delivery"]["babies"] == 2
    assert p["delivery"]["deliveredOn"] == M.days(10).isoformat()
    assert p["delivery"]["dischargedOn"] == M.days(9).isoformat()
    assert [v["gestationalWeek"] for v in p["visits"]] == [24]
    assert p["handbookNumber"] == "HB-TWINS"  # admin sees PII


def test_high_risk_colour_is_visible(world: World) -> None:
    (p,) = resident(world, world.mothers["pregnant"].id)["pregnancies"]
    assert p["riskColour"] == "RED" and p["highRisk"] is True  # the latest assessment
    assert p["status"] == "PREGNANT"


def test_twins_are_two_residents_with_their_mother_in_her_household(world: World) -> None:
    m = world.mothers["twins"]
    r = resident(world, m.id)
    kids = r["children"]
    assert len(kids) == 2 and kids[0]["residentId"] != kids[1]["residentId"]
    assert {k["birthDate"] for k in kids} == {M.days(10).isoformat()}
    for k in kids:
        child = resident(world, k["residentId"])
        assert child["mother"] == {"residentId": m.id}
        assert "CHILD_0_6" in child["categories"]
        assert child["household"] == r["household"] and r["household"] is not None
        rp = child["motherRelatedPerson"]
        assert rp["relationship"][0]["coding"][0]["code"] == "MTH"


def test_later_id_number_lands_on_that_twin(world: World) -> None:
    kids = resident(world, world.mothers["twins"].id)["children"]
    numbers = {k["idNumber"] for k in kids}
    assert numbers == {None, world.twin_id}  # type: ignore[attr-defined]

    async def q(s: Any) -> int:
        return int(
            await s.scalar(
                select(func.count())
                .select_from(ResidentIdentifier)  # the HMAC index: id_number is encrypted
                .where(
                    ResidentIdentifier.system == "ID_CARD",
                    ResidentIdentifier.value == world.twin_id,  # type: ignore[attr-defined]
                )
            )
        )  # type: ignore[attr-defined]

    assert run(world.db, q) == 1
    twin2 = next(k for k in kids if k["idNumber"])
    exams = resident(world, twin2["residentId"])["childHealthExams"]
    assert [e["kind"] for e in exams] == ["NEWBORN_VISIT"]


def test_postpartum_category_ends_by_itself_after_42_days(world: World) -> None:
    r43 = resident(world, world.mothers["day43"].id)
    r41 = resident(world, world.mothers["day41"].id)
    assert "PREGNANT_POSTPARTUM" not in r43["categories"]
    assert r43["pregnancies"][0]["status"] == "CLOSED"
    assert "PREGNANT_POSTPARTUM" in r41["categories"]
    assert r41["pregnancies"][0]["status"] == "POSTPARTUM"


def test_signed_mothers_prenatal_visits_count_in_fulfilment(world: World) -> None:
    (c,) = resident(world, world.mothers["pregnant"].id)["contracts"]
    done = {f["itemCode"]: f["done"] for f in c["fulfilment"]}
    assert done.get("PRENATAL_CARE") == 1  # the visit after signing; earlier ones predate it


def test_postpartum_visit_within_168_hours_of_the_reported_discharge(world: World) -> None:
    (c,) = resident(world, world.mothers["discharged"].id)["contracts"]
    lines = [f for f in c["fulfilment"] if f["itemCode"] == "POSTPARTUM_VISIT"]
    assert [(f["trigger"], f["done"], f["status"]) for f in lines] == [
        ("DELIVERY_DISCHARGE", 1, "MET")
    ]
    assert lines[0]["windowStart"] == M.TODAY.isoformat()
    assert lines[0]["windowEnd"] == (M.TODAY + dt.timedelta(days=7)).isoformat()


def test_work_list_shows_the_missing_postpartum_visit_overdue(world: World) -> None:
    m = world.mothers["twins"]
    q = """query($t: ID!) { teamWorkList(teamId: $t) { kind status source dueOn dueBy
      resident { residentId } detail } }"""
    items = world.api(q, {"t": _gid("Team", 0) if False else m.team_id})["teamWorkList"]
    mine = {(i["kind"], i["resident"]["residentId"]): i for i in items if i["source"] == "maternal"}
    pp = mine[("POSTPARTUM_VISIT_DUE", m.id)]
    assert pp["status"] == "OVERDUE"  # discharged 9 days ago, no postpartum visit
    assert pp["dueOn"] == M.days(9).isoformat() and pp["dueBy"] == M.days(2).isoformat()
    assert ("POSTPARTUM_42_DAY_DUE", m.id) not in mine  # opens in 32 days: not yet listed
    m43 = world.mothers["day43"]
    other = world.api(q, {"t": m43.team_id})["teamWorkList"]
    by_kind = {i["kind"]: i for i in other if i["resident"]["residentId"] == m43.id}
    assert by_kind["POSTPARTUM_42_DAY_DUE"]["status"] == "DUE"  # day 43: the window is open
    assert by_kind["POSTPARTUM_VISIT_DUE"]["status"] == "OVERDUE"  # day 43 of 42-55
    kids = {k["residentId"] for k in resident(world, m.id)["children"]}
    newborn = {rid for (kind, rid) in mine if kind == "NEWBORN_VISIT_DUE"}
    assert len(kids & newborn) == 1  # twin 2 had hers; twin 1 is overdue
    assert all(mine[("NEWBORN_VISIT_DUE", k)]["status"] == "OVERDUE" for k in kids & newborn)


def test_signing_pushed_exactly_once_despite_two_failures(world: World) -> None:
    got = M.pushes(world.sim)
    numbers = sorted(p["contract_no"] for p in got)
    assert numbers == sorted(world.contracts.values())
    assert {p["status"] for p in got} == {"SIGNED"}
    twins = next(p for p in got if p["contract_no"] == world.contracts["twins"])
    assert twins["handbook_no"] == "HB-TWINS" and twins["team_id"] == world.mothers["twins"].team_id
    assert not {"name", "mother_name", "id_number", "phone"} & set(twins)  # no personal data
    s = M.stats(world.sim)
    assert s["signingStatuses"] == 3 and s["pushRequests"] == 9  # two 503s, then accepted


def test_fhir_forms_validate_with_r4b(world: World) -> None:
    from fhir.resources.R4B.bundle import Bundle
    from fhir.resources.R4B.episodeofcare import EpisodeOfCare
    from fhir.resources.R4B.patient import Patient
    from fhir.resources.R4B.relatedperson import RelatedPerson

    r = resident(world, world.mothers["twins"].id)
    (p,) = r["pregnancies"]
    EpisodeOfCare.parse_obj(p["fhir"])
    assert p["fhir"]["type"][0]["coding"][0]["code"] == "77386006"
    for v in p["visits"]:
        bundle = Bundle.parse_obj(v["fhir"])
        kinds = [e.resource.get_resource_type() for e in bundle.entry]
        assert kinds[0] == "Encounter" and "Observation" in kinds
    for k in r["children"]:
        Patient.parse_obj(k["fhir"])
        child = resident(world, k["residentId"])
        RelatedPerson.parse_obj(child["motherRelatedPerson"])
        for e in child["childHealthExams"]:
            Bundle.parse_obj(e["fhir"])


def test_without_pii_scope_handbook_number_is_masked(world: World) -> None:
    token = create_client_token(
        world.db, "maternal-reader", ["residents:read"], [world.mothers["twins"].organization_id]
    )
    api = Api(world.api.http.base_url.__str__(), token)
    out = api(
        QUERY.replace(
            "contracts { number fulfilment { itemCode done status trigger windowStart windowEnd } }",
            "",
        ),
        {"id": _gid("Resident", world.mothers["twins"].id)},
    )["resident"]
    assert out["pregnancies"][0]["handbookNumber"] != "HB-TWINS"


def test_residents_filter_by_pregnant_postpartum_follows_the_data(world: World) -> None:
    q = """{ residents(first: 100, filter: {category: PREGNANT_POSTPARTUM, region: "yongkang"})
      { edges { node { residentId } } } }"""
    ids = {e["node"]["residentId"] for e in world.api(q)["residents"]["edges"]}
    m = world.mothers
    assert {m["twins"].id, m["pregnant"].id, m["day41"].id, m["unsigned"].id} <= ids
    assert m["day43"].id not in ids
