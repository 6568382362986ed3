"""Time-slot appointments (分时段预约) over HTTP on the Panyu demo: publishing a session,
atomic booking, signed residents first, cancel / reschedule / arrive, the work list, FHIR
forms and events."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from fhir.resources.R4B.appointment import Appointment as FhirAppointment
from fhir.resources.R4B.schedule import Schedule as FhirSchedule
from fhir.resources.R4B.slot import Slot as FhirSlot
from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.contracts.models import Contract, ContractStatus
from hub.demo.load import load_demo
from hub.directory.models import Organization, Team
from hub.events.models import Event
from hub.registry.models import Resident
from tests.conftest import Api, LiveServer, create_client_token
from tests.e2e.contract_support import run

TODAY = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()
PUBLISH = """mutation($i: PublishClinicSessionInput!) { publishClinicSession(input: $i) {
    slots { id start end } schedule userErrors { code field } } }"""
BOOK = """mutation($s: ID!, $r: ID!, $k: ServiceKind!) { bookAppointment(slotId: $s,
    residentId: $r, serviceKind: $k) { appointment { id status slotId fhir }
    userErrors { code field message } } }"""


def gid(kind: str, key: int | str) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{key}".encode()).decode().rstrip("=")


@pytest.fixture(scope="module")
def world(db_url: str) -> dict[str, Any]:
    assert asyncio.run(load_demo(db_url, scale=0.02, regions=("panyu",))).startswith("loaded")

    async def pick(session: AsyncSession) -> dict[str, Any]:
        team = await session.scalar(
            select(Team).join(Organization, Organization.id == Team.organization_id)
            .where(Organization.region_key == "panyu").order_by(Team.id).limit(1))  # fmt: skip
        assert team is not None
        any_active = exists().where(Contract.resident_id == Resident.id,
                                    Contract.status == ContractStatus.ACTIVE)  # fmt: skip
        unsigned = list(await session.scalars(
            select(Resident.id).where(~any_active, Resident.region_key == "panyu")
            .order_by(Resident.id).limit(80)))  # fmt: skip
        assert len(unsigned) >= 60
        return {"team": team.id, "org": team.organization_id, "unsigned": unsigned}

    return run(db_url, pick)


@pytest.fixture(scope="module")
def live_server(db_url: str, world: dict[str, Any]) -> Iterator[LiveServer]:
    from hub.app import build_hub, create_app

    with LiveServer(create_app(build_hub(database_url=db_url))) as server:
        yield server


@pytest.fixture(scope="module")
def signed(db_url: str, live_server: LiveServer, world: dict[str, Any]) -> int:
    """A resident signed with the team (the first the team may sign), taken off `unsigned`."""
    admin = Api(live_server.url, create_client_token(db_url, "appointments-admin", ["admin"]))
    for rid in list(reversed(world["unsigned"]))[:20]:
        out = admin("""mutation($t: ID!, $r: ID!) { signContract(input: {teamId: $t,
            residentId: $r, packageCodes: ["PY-BASIC-1"]}) { contract { id } } }""",
                    {"t": gid("Team", world["team"]), "r": gid("Resident", rid)})  # fmt: skip
        if out["signContract"]["contract"]:
            world["unsigned"].remove(rid)
            world["signed"] = rid
            return rid
    raise AssertionError("no demo resident could be signed with PY-BASIC-1")


@pytest.fixture(scope="module")
def team_api(db_url: str, live_server: LiveServer, world: dict[str, Any], signed: int) -> Api:
    # district-wide (unbound): it sees every Panyu resident, as a district booking desk would
    scopes = ["residents:read", "contracts:read", "contracts:write"]
    return Api(live_server.url, create_client_token(db_url, "clinic-app", scopes))


def publish(
    api: Api,
    world: dict[str, Any],
    day: dt.date,
    start: str,
    end: str,
    minutes: int = 10,
    kind: str = "GENERAL",
    off_hours: bool = False,
) -> dict[str, Any]:
    out = api(PUBLISH, {"i": {"teamId": gid("Team", world["team"]), "date": day.isoformat(),
                              "start": start, "end": end, "slotMinutes": minutes,
                              "serviceKind": kind, "offHours": off_hours}})  # fmt: skip
    return out["publishClinicSession"]


def book(api: Api, slot: str, resident: int, kind: str = "GENERAL") -> dict[str, Any]:
    return api(BOOK, {"s": slot, "r": gid("Resident", resident), "k": kind})["bookAppointment"]


def test_publish_a_session_as_fhir_schedule_and_slots(team_api: Api, world: dict[str, Any]) -> None:
    out = publish(team_api, world, TODAY + dt.timedelta(days=1), "09:00", "11:30", 15,
                  "CHILD_CARE", off_hours=True)  # fmt: skip
    assert out["userErrors"] == [] and len(out["slots"]) == 10
    first = dt.datetime.fromisoformat(out["slots"][0]["start"])
    assert first.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%H:%M") == "09:00"
    FhirSchedule.parse_obj(out["schedule"])
    free = team_api("""query($t: ID!, $d: Date!) { freeSlots(teamId: $t, date: $d)
        { id serviceKind free fhir } }""",
                    {"t": gid("Team", world["team"]),
                     "d": (TODAY + dt.timedelta(days=1)).isoformat()})["freeSlots"]  # fmt: skip
    assert {s["id"] for s in out["slots"]} <= {s["id"] for s in free}
    slot = FhirSlot.parse_obj(free[0]["fhir"])
    assert slot.status == "free"
    bad = publish(team_api, world, TODAY + dt.timedelta(days=1), "11:00", "09:00")
    assert [e["code"] for e in bad["userErrors"]] == ["INVALID_SESSION"]
    short = publish(team_api, world, TODAY + dt.timedelta(days=1), "09:00", "10:00", 2)
    assert [e["code"] for e in short["userErrors"]] == ["SLOT_TOO_SHORT"]
    clock = publish(team_api, world, TODAY + dt.timedelta(days=1), "9am", "10:00")
    assert [e["code"] for e in clock["userErrors"]] == ["INVALID_TIME"]
    past = publish(team_api, world, TODAY - dt.timedelta(days=1), "09:00", "10:00")
    assert [e["code"] for e in past["userErrors"]] == ["DATE_IN_PAST"]


def test_signed_residents_book_inside_the_priority_window(
    team_api: Api, world: dict[str, Any]
) -> None:
    # Panyu: signed residents 14 days ahead, others 7 (appointments.signed_priority_days 7)
    far = publish(team_api, world, TODAY + dt.timedelta(days=10), "14:00", "14:30")["slots"]
    refused = book(team_api, far[0]["id"], world["unsigned"][0])
    assert refused["appointment"] is None
    assert refused["userErrors"][0]["code"] == "SIGNED_PRIORITY_WINDOW"
    assert (TODAY + dt.timedelta(days=3)).isoformat() in refused["userErrors"][0]["message"]
    ok = book(team_api, far[0]["id"], world["signed"])
    assert ok["userErrors"] == [] and ok["appointment"]["status"] == "BOOKED"
    FhirAppointment.parse_obj(ok["appointment"]["fhir"])
    near = publish(team_api, world, TODAY + dt.timedelta(days=3), "14:00", "14:30")["slots"]
    assert book(team_api, near[0]["id"], world["unsigned"][0])["userErrors"] == []
    too_far = publish(team_api, world, TODAY + dt.timedelta(days=20), "14:00", "14:30")["slots"]
    assert book(team_api, too_far[0]["id"], world["signed"])["userErrors"][0]["code"] == \
        "OUTSIDE_BOOKING_WINDOW"  # fmt: skip
    wrong = book(team_api, near[1]["id"], world["signed"], "VACCINATION")
    assert wrong["userErrors"][0]["code"] == "SERVICE_KIND_MISMATCH"


def test_fifty_concurrent_bookings_of_the_last_slot_one_wins(
    team_api: Api, world: dict[str, Any], live_server: LiveServer
) -> None:
    slot = publish(team_api, world, TODAY + dt.timedelta(days=2), "16:00", "16:10")["slots"]
    assert len(slot) == 1
    token = team_api.http.headers["Authorization"]

    async def storm() -> list[dict[str, Any]]:
        async with httpx.AsyncClient(base_url=live_server.url, timeout=60,
                                     headers={"Authorization": token}) as http:  # fmt: skip
            answers = await asyncio.gather(*(
                http.post("/graphql", json={"query": BOOK, "variables": {
                    "s": slot[0]["id"], "r": gid("Resident", rid), "k": "GENERAL"}})
                for rid in world["unsigned"][1:51]))  # fmt: skip
        assert all(a.status_code == 200 for a in answers), [a.text for a in answers][:3]
        return [a.json()["data"]["bookAppointment"] for a in answers]

    results = asyncio.run(storm())
    won = [r for r in results if r["appointment"]]
    assert len(won) == 1
    assert {r["userErrors"][0]["code"] for r in results if not r["appointment"]} == {"SLOT_TAKEN"}


def test_cancel_reschedule_arrive_work_list_and_events(
    team_api: Api, world: dict[str, Any], db_url: str
) -> None:
    day = TODAY + dt.timedelta(days=4)
    slots = publish(team_api, world, day, "08:00", "08:30", 10, "HEALTH_CHECK")["slots"]
    a = book(team_api, slots[0]["id"], world["signed"], "HEALTH_CHECK")["appointment"]
    taken = book(team_api, slots[0]["id"], world["unsigned"][0], "HEALTH_CHECK")
    assert taken["userErrors"][0]["code"] == "SLOT_TAKEN"
    moved = team_api("""mutation($a: ID!, $s: ID!) { rescheduleAppointment(appointmentId: $a,
        slotId: $s) { appointment { id slotId status } userErrors { code } } }""",
                     {"a": a["id"], "s": slots[1]["id"]})["rescheduleAppointment"]  # fmt: skip
    assert moved["userErrors"] == [] and moved["appointment"]["slotId"] == slots[1]["id"]
    # the first slot is free again
    again = book(team_api, slots[0]["id"], world["unsigned"][0], "HEALTH_CHECK")
    assert again["userErrors"] == []
    cancelled = team_api("""mutation($a: ID!) { cancelAppointment(appointmentId: $a)
        { appointment { status } userErrors { code } } }""",
                         {"a": again["appointment"]["id"]})["cancelAppointment"]  # fmt: skip
    assert cancelled["appointment"]["status"] == "CANCELLED"
    twice = team_api(
        """mutation($a: ID!) { cancelAppointment(appointmentId: $a)
        { userErrors { code } } }""",
        {"a": again["appointment"]["id"]},
    )["cancelAppointment"]
    assert twice["userErrors"][0]["code"] == "APPOINTMENT_NOT_BOOKED"
    work = team_api(
        """query($t: ID!, $d: Date!) { teamWorkList(teamId: $t, asOf: $d,
        kinds: [APPOINTMENT_TODAY]) { kind title detail } }""",
        {"t": gid("Team", world["team"]), "d": day.isoformat()},
    )["teamWorkList"]
    assert [w["detail"]["start"] for w in work] == ["08:10"]
    arrived = team_api("""mutation($a: ID!) { markAppointment(appointmentId: $a,
        outcome: ARRIVED) { appointment { status } userErrors { code } } }""",
                       {"a": moved["appointment"]["id"]})["markAppointment"]  # fmt: skip
    assert arrived["appointment"]["status"] == "ARRIVED"

    async def types(session: AsyncSession) -> set[str]:
        return set(await session.scalars(select(Event.type).where(
            Event.aggregate_type == "Appointment")))  # fmt: skip

    assert {"appointment.booked", "appointment.cancelled"} <= run(db_url, types)


DELIVER = """mutation($c: ID!, $d: Date!, $a: ID) { recordServiceDelivery(contractId: $c,
    itemCode: "CONSULTATION", performedOn: $d, appointmentId: $a)
    { delivery { id source } userErrors { code field } } }"""


def test_an_attended_appointment_records_the_delivery_once(
    team_api: Api, world: dict[str, Any], db_url: str
) -> None:
    from sqlalchemy import update

    from hub.appointments.models import Appointment
    from hub.contracts.models import ServiceDelivery

    slots = publish(team_api, world, TODAY + dt.timedelta(days=2), "14:00", "14:30")["slots"]
    a = book(team_api, slots[0]["id"], world["signed"], "GENERAL")["appointment"]
    key = base64.urlsafe_b64decode(a["id"] + "==").decode().split(":")[1]
    # the visit is due now (a slot a minute ago could no longer be booked)
    began = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    today = began.astimezone(ZoneInfo("Asia/Shanghai")).date()

    async def due_now(session: AsyncSession) -> None:
        await session.execute(update(Appointment).where(Appointment.id == int(key))
                              .values(start_at=began))  # fmt: skip

    run(db_url, due_now, write=True)

    async def contract(session: AsyncSession) -> int:
        return int(await session.scalar(select(Contract.id).where(
            Contract.resident_id == world["signed"], Contract.status == ContractStatus.ACTIVE)))

    cid = gid("Contract", run(db_url, contract))
    vars_ = {"c": cid, "d": today.isoformat(), "a": a["id"]}
    booked = team_api(DELIVER, vars_)["recordServiceDelivery"]
    assert booked["delivery"] is None
    assert booked["userErrors"][0]["code"] == "APPOINTMENT_NOT_ATTENDED"
    team_api("""mutation($a: ID!) { markAppointment(appointmentId: $a, outcome: ARRIVED)
        { userErrors { code } } }""", {"a": a["id"]})  # fmt: skip
    wrong_day = team_api(DELIVER, {**vars_, "d": (today - dt.timedelta(days=1)).isoformat()})
    assert wrong_day["recordServiceDelivery"]["userErrors"][0]["code"] == \
        "APPOINTMENT_DATE_MISMATCH"  # fmt: skip
    first = team_api(DELIVER, vars_)["recordServiceDelivery"]
    assert first["userErrors"] == [] and first["delivery"]["source"] == "appointment"
    again = team_api(DELIVER, vars_)["recordServiceDelivery"]
    assert again["delivery"]["id"] == first["delivery"]["id"]  # once per appointment

    async def count(session: AsyncSession) -> int:
        return len(list(await session.scalars(select(ServiceDelivery.id).where(
            ServiceDelivery.source_ref == f"appointment:{key}"))))  # fmt: skip

    assert run(db_url, count) == 1


def test_bad_ids_are_typed_errors(team_api: Api) -> None:
    out = book(team_api, "not-a-slot", 1)
    assert out["userErrors"][0]["code"] == "INVALID_ID"
    gone = book(team_api, gid("AppointmentSlot", 999999), 1)
    assert gone["userErrors"][0]["code"] == "NOT_FOUND"


def test_a_day_whose_bounds_do_not_exist_is_a_typed_error(
    team_api: Api, world: dict[str, Any]
) -> None:
    body = team_api.raw("""query($t: ID!) { freeSlots(teamId: $t, date: "0001-01-01") { id } }""",
                        {"t": gid("Team", world["team"])}).json()  # fmt: skip
    assert body["errors"][0]["extensions"]["code"] == "DATE_OUT_OF_RANGE", body


def test_every_region_reads_its_appointment_rules_from_its_policy() -> None:
    from hub.contracts.policy import _presets

    presets = _presets()
    assert set(presets) == {"panyu", "wenzhou", "jilin", "yongkang", "erqi"}
    for key, p in presets.items():
        a = p.appointments
        assert 0 <= a.signed_priority_days < a.booking_window_days, key
        assert any(n.startswith("Appointments") for n in p.notes), key
    assert presets["wenzhou"].appointments.min_slot_minutes == 10  # 每次就诊时间不少于10分钟
    assert presets["panyu"].appointments.signed_priority_days == 7
