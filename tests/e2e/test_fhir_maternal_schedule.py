"""/fhir Encounter and Observation (the maternal-child visits and their measurements),
Schedule (hospital capacity and team clinic sessions, two tables under one type) and Slot,
and Patient/$ihe-pix (IHE PIXm): read and search through the one access policy, an
invisible resident's resources indistinguishable from nonexistent ones."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest

from hub.appointments.models import AppointmentSlot, ClinicSession
from hub.db import Database
from hub.maternal.models import Birth, ChildExam, MaternalVisit, Pregnancy
from hub.referrals.models import Capacity
from mappings import codes
from tests.conftest import LiveServer
from tests.e2e.fhir_support import (
    client,
    db_url,
    fhir_hub,
    get,
    hidden_patient,
    live,
    validate,
    world,
)

__all__ = ["db_url", "fhir_hub", "live", "world"]
LOINC = "http://loinc.org"


@pytest.fixture(scope="module")
def rows(db_url: str, live: LiveServer, world: dict[str, Any]) -> dict[str, Any]:
    """Resident 1: a pregnancy with two prenatal visits and a child with one exam; the bound
    client's hidden resident: a pregnancy with one visit. A hospital capacity day and a team
    clinic session with three slots (one taken)."""
    seen = {p.id for p in client(live, world["bound"]).resources("Patient").limit(200).fetch_all()}
    hidden = int(hidden_patient(live, world, seen))
    child = int(hidden_patient(live, world, seen | {str(hidden)}))

    async def run() -> dict[str, Any]:
        db = Database(db_url)
        try:
            async with db.transaction() as s:
                preg = Pregnancy(handbook_no="FT-HB-1", resident_id=1, source_record_id="FT-P1")
                other = Pregnancy(handbook_no="FT-HB-2", resident_id=hidden,
                                  source_record_id="FT-P2")  # fmt: skip
                s.add_all([preg, other])
                await s.flush()
                v1 = MaternalVisit(source_record_id="FT-V1", pregnancy_id=preg.id, resident_id=1,
                                   kind="prenatal_visit", visit_on=dt.date(2026, 3, 2),
                                   gestational_week=12, systolic=118, diastolic=76,
                                   weight_kg=58.5, risk_colour="GREEN")  # fmt: skip
                v2 = MaternalVisit(source_record_id="FT-V2", pregnancy_id=preg.id, resident_id=1,
                                   kind="prenatal_visit", visit_on=dt.date(2026, 4, 6),
                                   gestational_week=17, weight_kg=60.0)  # fmt: skip
                vh = MaternalVisit(source_record_id="FT-VH", pregnancy_id=other.id,
                                   resident_id=hidden, kind="prenatal_visit",
                                   visit_on=dt.date(2026, 3, 3), weight_kg=50.0)  # fmt: skip
                birth = Birth(certificate_no="FT-BC-1", source_record_id="FT-B1",
                              pregnancy_id=preg.id, mother_resident_id=1,
                              child_resident_id=child)  # fmt: skip
                s.add_all([v1, v2, vh, birth])
                await s.flush()
                exam = ChildExam(source_record_id="FT-E1", birth_id=birth.id, resident_id=child,
                                 kind="child_exam", exam_on=dt.date(2026, 5, 1), height_cm=61.0,
                                 weight_kg=6.2, anaemia=False)  # fmt: skip
                cap = Capacity(organization_id="panyu-org-022", date=dt.date(2026, 12, 10),
                               department="心内科", expert_slots=10, beds=4,
                               reserved_expert_slots=3, reserved_beds=1, published_by="test")  # fmt: skip
                clinic = ClinicSession(team_id="panyu-team-005", organization_id="panyu-org-005",
                                       day=dt.date(2026, 12, 10), start="09:00", end="10:30",
                                       slot_minutes=30, service_kind="GENERAL")  # fmt: skip
                s.add_all([exam, cap, clinic])
                await s.flush()
                base = dt.datetime(2026, 12, 10, 1, 0, tzinfo=dt.UTC)
                slots = [
                    AppointmentSlot(session_id=clinic.id, team_id="panyu-team-005",
                                    service_kind="GENERAL", start_at=base + dt.timedelta(minutes=30 * i),
                                    end_at=base + dt.timedelta(minutes=30 * (i + 1)), taken=i == 1)
                    for i in range(3)
                ]  # fmt: skip
                s.add_all(slots)
                await s.flush()
                return {
                    "hidden": hidden, "child": child,
                    "v1": f"maternal-visit-{v1.id}", "v2": f"maternal-visit-{v2.id}",
                    "vh": f"maternal-visit-{vh.id}", "exam": f"child-exam-{exam.id}",
                    "capacity": f"capacity-{cap.id}", "session": f"session-{clinic.id}",
                    "slots": [f"slot-{x.id}" for x in slots],
                }  # fmt: skip
        finally:
            await db.dispose()

    return asyncio.run(run())


def _ids(bundle: dict[str, Any]) -> list[str]:
    return [e["resource"]["id"] for e in bundle.get("entry", [])]


def test_encounters_read_and_search(live: LiveServer, world: dict[str, Any], rows: dict) -> None:
    one = get(live, world["admin"], f"/fhir/Encounter/{rows['v1']}")
    assert one.status_code == 200, one.text
    validate(one.json())
    assert one.json()["subject"]["reference"] == "Patient/1" and one.headers["ETag"]
    fc = client(live, world["masked"])
    mine = fc.resources("Encounter").search(patient="Patient/1").sort("date").fetch_all()
    assert [e.id for e in mine] == [rows["v1"], rows["v2"]]
    for e in mine:
        validate(e.serialize())
    april = get(live, world["admin"], "/fhir/Encounter?subject=1&date=ge2026-04-01").json()
    assert _ids(april) == [rows["v2"]] and april["total"] == 1
    exam = get(live, world["admin"], f"/fhir/Encounter?patient=Patient/{rows['child']}").json()
    assert _ids(exam) == [rows["exam"]]
    assert get(live, world["admin"], "/fhir/Encounter/maternal-visit-0").status_code == 404
    assert get(live, world["admin"], "/fhir/Encounter/nonsense-1").status_code == 404


def test_observations_by_patient_code_and_encounter(
    live: LiveServer, world: dict[str, Any], rows: dict
) -> None:
    found = get(live, world["masked"], "/fhir/Observation?patient=Patient/1&_count=200").json()
    ids = _ids(found)
    v1, v2 = rows["v1"], rows["v2"]
    assert sorted(ids) == sorted([f"{v1}-bp", f"{v1}-wt", f"{v1}-ga", f"{v1}-risk",
                                  f"{v2}-wt", f"{v2}-ga"])  # fmt: skip
    assert found["total"] == 6
    for e in found["entry"]:
        validate(e["resource"])
    weights = get(live, world["admin"], f"/fhir/Observation?patient=1&code={LOINC}|29463-7"
                  "&_sort=-date").json()  # fmt: skip
    assert _ids(weights) == [f"{v2}-wt", f"{v1}-wt"]
    assert weights["entry"][0]["resource"]["valueQuantity"]["value"] == 60.0
    of_visit = get(live, world["admin"], f"/fhir/Observation?encounter=Encounter/{v2}").json()
    assert sorted(_ids(of_visit)) == sorted([f"{v2}-wt", f"{v2}-ga"])
    bp = get(live, world["admin"], f"/fhir/Observation/{v1}-bp").json()
    assert [c["valueQuantity"]["value"] for c in bp["component"]] == [118, 76]
    # an observation a visit does not have (no blood pressure at the second visit)
    assert get(live, world["admin"], f"/fhir/Observation/{v2}-bp").status_code == 404
    inc = get(live, world["admin"], f"/fhir/Observation?_id={v1}-bp&_include=Observation:encounter"
              ).json()  # fmt: skip
    assert [(e["resource"]["id"], e["search"]["mode"]) for e in inc["entry"]] == [
        (f"{v1}-bp", "match"), (v1, "include")]  # fmt: skip
    rev = get(live, world["admin"], f"/fhir/Encounter?_id={v2}&_revinclude=Observation:encounter"
              ).json()  # fmt: skip
    assert {e["resource"]["id"] for e in rev["entry"] if e["search"]["mode"] == "include"} == {
        f"{v2}-wt", f"{v2}-ga"}  # fmt: skip


def test_observation_pages_have_no_gaps_or_repeats(
    live: LiveServer, world: dict[str, Any], rows: dict
) -> None:
    every = _ids(get(live, world["admin"], "/fhir/Observation?_count=200&_sort=date").json())
    paged = [o.id for o in client(live, world["admin"]).resources("Observation")
             .sort("date").limit(2).fetch_all()]  # fmt: skip
    assert paged == every and len(set(paged)) == len(paged) >= 10


def test_invisible_residents_visits_do_not_exist(
    live: LiveServer, world: dict[str, Any], rows: dict
) -> None:
    hidden, vh = rows["hidden"], rows["vh"]
    assert get(live, world["admin"], f"/fhir/Encounter/{vh}").status_code == 200
    gone = get(live, world["bound"], f"/fhir/Encounter/{vh}")
    missing = get(live, world["bound"], "/fhir/Encounter/maternal-visit-99999999")
    assert gone.status_code == missing.status_code == 404
    assert gone.json()["issue"][0]["code"] == missing.json()["issue"][0]["code"]
    assert get(live, world["bound"], f"/fhir/Observation/{vh}-wt").status_code == 404
    for rtype in ("Encounter", "Observation"):
        found = get(live, world["bound"], f"/fhir/{rtype}?patient=Patient/{hidden}").json()
        assert found["total"] == 0 and not found.get("entry")
        listed = get(live, world["bound"], f"/fhir/{rtype}?_count=200").json()
        assert not {i for i in _ids(listed) if i.startswith(vh)}
    # without residents:read there are no visits at all
    assert get(live, world["residents_only"], f"/fhir/Encounter/{rows['v1']}").status_code == 200


def test_in_everything(live: LiveServer, world: dict[str, Any], rows: dict) -> None:
    got = get(live, world["admin"],
              "/fhir/Patient/1/$everything?_type=Encounter,Observation&_count=200").json()  # fmt: skip
    ids = {(e["resource"]["resourceType"], e["resource"]["id"]) for e in got["entry"]}
    assert ("Encounter", rows["v1"]) in ids and ("Observation", f"{rows['v1']}-bp") in ids
    assert not any(i.startswith(rows["vh"]) for _, i in ids)


def test_schedules_of_both_kinds_and_slots(
    live: LiveServer, world: dict[str, Any], rows: dict
) -> None:
    cap = get(live, world["masked"], f"/fhir/Schedule/{rows['capacity']}")
    ses = get(live, world["masked"], f"/fhir/Schedule/{rows['session']}")
    assert cap.status_code == ses.status_code == 200
    validate(cap.json())
    validate(ses.json())
    assert "expert slots 10" in cap.json()["comment"]
    assert ses.json()["actor"][0]["reference"] == "CareTeam/panyu-team-005"
    assert ses.json()["planningHorizon"]["end"] == "2026-12-10T02:30:00Z"
    day = get(live, world["admin"], "/fhir/Schedule?date=2026-12-10&_count=200").json()
    assert {rows["capacity"], rows["session"]} <= set(_ids(day))
    team = get(live, world["admin"], "/fhir/Schedule?actor=CareTeam/panyu-team-005").json()
    assert rows["session"] in _ids(team) and rows["capacity"] not in _ids(team)
    hosp = get(live, world["admin"], "/fhir/Schedule?actor=Organization/panyu-org-022").json()
    assert rows["capacity"] in _ids(hosp) and rows["session"] not in _ids(hosp)
    both = get(live, world["admin"],
               f"/fhir/Schedule?_id={rows['capacity']},{rows['session']}").json()  # fmt: skip
    assert sorted(_ids(both)) == sorted([rows["capacity"], rows["session"]])
    every = _ids(get(live, world["admin"], "/fhir/Schedule?_count=200").json())
    paged = [s.id for s in client(live, world["admin"]).resources("Schedule").limit(1).fetch_all()]
    assert paged == every and len(set(paged)) == len(paged)

    free = get(live, world["admin"], f"/fhir/Slot?schedule=Schedule/{rows['session']}"
               "&status=free&_sort=start").json()  # fmt: skip
    assert _ids(free) == [rows["slots"][0], rows["slots"][2]]
    for e in free["entry"]:
        validate(e["resource"])
    assert free["entry"][0]["resource"]["schedule"]["reference"] == f"Schedule/{rows['session']}"
    none = get(live, world["admin"], f"/fhir/Slot?schedule=Schedule/{rows['capacity']}").json()
    assert none["total"] == 0
    inc = get(live, world["admin"], f"/fhir/Slot?_id={rows['slots'][1]}&_include=Slot:schedule")
    assert [(e["resource"]["id"], e["search"]["mode"]) for e in inc.json()["entry"]] == [
        (rows["slots"][1], "match"), (rows["session"], "include")]  # fmt: skip
    assert inc.json()["entry"][0]["resource"]["status"] == "busy"


def _patient_id_card(live: LiveServer, token: str, rid: int | str) -> dict[str, str]:
    p = get(live, token, f"/fhir/Patient/{rid}").json()
    return next(i for i in p["identifier"] if i["system"] == codes.ID_CARD)


def test_ihe_pix(live: LiveServer, world: dict[str, Any], rows: dict) -> None:
    card = _patient_id_card(live, world["admin"], 1)
    q = f"/fhir/Patient/$ihe-pix?sourceIdentifier={codes.ID_CARD}|{card['value']}"
    out = get(live, world["admin"], q)
    assert out.status_code == 200, out.text
    validate(out.json())
    params = out.json()["parameter"]
    assert {"name": "targetId", "valueReference": {"reference": "Patient/1"}} in params
    idents = [p["valueIdentifier"] for p in params if p["name"] == "targetIdentifier"]
    assert {"system": codes.ID_CARD, "value": card["value"]} in idents
    patient = get(live, world["admin"], "/fhir/Patient/1").json()
    assert {(i["system"], i["value"]) for i in patient["identifier"]} <= {
        (i["system"], i["value"]) for i in idents}  # fmt: skip
    # a source record's id is a cross-reference too, and finds the person back
    src = next(i for i in idents if i["system"].startswith("urn:hub:source:"))
    back = get(live, world["admin"],
               f"/fhir/Patient/$ihe-pix?sourceIdentifier={src['system']}|{src['value']}")  # fmt: skip
    assert back.json()["parameter"][-1]["valueReference"]["reference"] == "Patient/1"
    # targetSystem narrows the answer
    only = get(live, world["admin"], f"{q}&targetSystem={codes.ID_CARD}").json()["parameter"]
    assert [p["valueIdentifier"]["system"] for p in only if p["name"] == "targetIdentifier"] == [
        codes.ID_CARD]  # fmt: skip
    # a masked reader sees masked identifiers, as in the Patient it reads
    masked = get(live, world["masked"], q).json()["parameter"]
    shown = next(p["valueIdentifier"]["value"] for p in masked
                 if p["name"] == "targetIdentifier" and p["valueIdentifier"]["system"] == codes.ID_CARD)  # fmt: skip
    assert shown == _patient_id_card(live, world["masked"], 1)["value"] != card["value"]
    # errors: unknown assigning authority 400, unknown targetSystem 403, bad input 400
    bad = get(live, world["admin"], "/fhir/Patient/$ihe-pix?sourceIdentifier=urn:x|1")
    assert bad.status_code == 400 and bad.json()["resourceType"] == "OperationOutcome"
    assert get(live, world["admin"], f"{q}&targetSystem=urn:x").status_code == 403
    assert get(live, world["admin"], "/fhir/Patient/$ihe-pix").status_code == 400
    assert get(live, world["admin"], f"{q}&foo=1").status_code == 400


def test_ihe_pix_hidden_is_unknown(live: LiveServer, world: dict[str, Any], rows: dict) -> None:
    card = _patient_id_card(live, world["admin"], rows["hidden"])
    hidden = get(live, world["bound"],
                 f"/fhir/Patient/$ihe-pix?sourceIdentifier={codes.ID_CARD}|{card['value']}")  # fmt: skip
    nobody = get(live, world["bound"],
                 f"/fhir/Patient/$ihe-pix?sourceIdentifier={codes.ID_CARD}|110101199001011237")  # fmt: skip
    assert hidden.status_code == nobody.status_code == 404
    assert hidden.json() == nobody.json()


def test_capability_lists_the_new_types(live: LiveServer, world: dict[str, Any]) -> None:
    cs = get(live, world["admin"], "/fhir/metadata").json()
    validate(cs)
    by = {r["type"]: r for r in cs["rest"][0]["resource"]}
    assert {"Encounter", "Observation", "Slot", "Schedule"} <= set(by)
    assert {p["name"] for p in by["Observation"]["searchParam"]} >= {"patient", "code", "encounter"}
    assert "Slot:schedule" in by["Slot"]["searchInclude"]
    assert {"name": "ihe-pix", "definition": "https://profiles.ihe.net/ITI/PIXm/"
            "OperationDefinition/IHE.PIXm.pix"} in by["Patient"]["operation"]  # fmt: skip
