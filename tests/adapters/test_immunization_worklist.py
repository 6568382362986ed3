"""A signed 9-month-old without MMR dose 1, doses recorded from the immunization system,
seen through GraphQL over HTTP on both engines: IMMUNIZATION_DUE on its team's work list,
IMMUNIZATION_OVERDUE once past the due-by date, one `immunization.overdue` event however
often the job runs, and the FHIR forms (Immunization, ImmunizationEvaluation,
ImmunizationRecommendation) valid by fhir.resources R4B."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from adapters.immunization.translate import Vaccination
from hub.access.principal import system
from hub.events.models import Event
from hub.immunization.schedule import add_months
from hub.immunization.service import SubjectCommand, recompute, record_subject
from hub.registry.idnumber import make
from tests.e2e.contract_support import api, demo, run, sign, teams_of_region  # noqa: F401

TODAY = dt.date.today()
BORN = add_months(TODAY, -9)
ID = make("330784", BORN, 517)
DUE_BY = add_months(BORN, 12) - dt.timedelta(days=1)
GIVEN = [("HepB", 0), ("BCG", 0), ("HepB", 1), ("IPV", 2), ("IPV", 3), ("DTaP", 3),
         ("DTaP", 4), ("bOPV", 4), ("DTaP", 5), ("HepB", 6), ("MPSV-A", 6)]  # fmt: skip

WORK = """query($team: ID!, $on: Date) { teamWorkList(teamId: $team, asOf: $on,
  kinds: [IMMUNIZATION_DUE, IMMUNIZATION_OVERDUE]) {
  kind status source title dueOn dueBy detail resident { residentId } } }"""
RESIDENT = """query($id: ID!, $on: Date) { resident(id: $id) {
  immunizations { vaccine localCode doseNumber givenOn traceCode unit fhir }
  immunizationForecast(asOf: $on) { asOf scheduleVersion
    evaluations { vaccine givenOn series doseNumber valid reason fhir }
    series { series nextDose status earliestOn dueBy vaccines } fhir } } }"""


@pytest.fixture(scope="module")
def child(api: Any, demo: str) -> dict[str, Any]:  # noqa: F811
    team = teams_of_region(demo, "yongkang")[0]
    out = api("""mutation($in: ResidentRecordInput!) { submitResidentRecord(input: $in) {
        resident { residentId } userErrors { code message } } }""",
        {"in": {"source": "maternal", "sourceId": "birth:T-IMM-1", "name": "胡子涵", "sex": "1",
                "birthDate": BORN.isoformat(), "idNumber": ID,
                "address": "浙江省永康市东城街道胜利路1号"}})["submitResidentRecord"]  # fmt: skip
    assert out["userErrors"] == [], out
    rid = out["resident"]["residentId"]
    signed = sign(api, residentId=str(rid), teamId=team.id, packageCodes=["YK-NO-FEE"],
                  guardian={"name": "胡丽华", "relation": "MOTHER", "phone": "13800138123",
                            "idNumber": make("330784", dt.date(1994, 4, 2), 322)})  # fmt: skip
    assert signed["userErrors"] == [], signed
    doses = [
        Vaccination(f"T-IMM-1-{n}", "0000", vaccine, add_months(BORN, months), trace_code="1" * 20,
                    unit="永康市东城街道社区卫生服务中心预防接种门诊")
        for n, (vaccine, months) in enumerate(GIVEN)
    ]  # fmt: skip
    command = SubjectCommand("T-IMM-1", 1, {"name": "胡子涵", "sex": "1", "birth_date": BORN,
                                            "id_number": ID}, {}, doses)  # fmt: skip

    async def record(s: Any) -> dict[str, Any]:
        from hub.core import build_hub

        hub = build_hub(database_url=demo)
        try:
            return await record_subject(s, system("adapter:immunization"), hub.registry, command)
        finally:
            await hub.db.dispose()

    result = run(demo, record, write=True)
    assert result["resident_id"] == rid  # the same child, by its ID number
    return {"rid": rid, "team": team.id}


def _mmr(
    api: Any,  # noqa: F811
    child: dict[str, Any],
    on: dt.date,
) -> list[dict[str, Any]]:
    items = api(WORK, {"team": child["team"], "on": on.isoformat()})["teamWorkList"]
    return [i for i in items if i["resident"]["residentId"] == child["rid"]
            and i["detail"]["series"] == "MMR"]  # fmt: skip


def test_a_nine_month_old_without_mmr_is_due_on_its_teams_work_list(api, child):  # noqa: F811
    (item,) = _mmr(api, child, TODAY)
    assert (item["kind"], item["status"], item["source"]) == (
        "IMMUNIZATION_DUE",
        "DUE",
        "immunization",
    )
    assert item["detail"]["dose"] == 1 and item["detail"]["vaccines"] == ["MMR"]
    assert item["dueOn"] == add_months(BORN, 8).isoformat() and item["dueBy"] == DUE_BY.isoformat()


def test_past_its_due_by_date_it_is_overdue_and_one_event_is_emitted(api, child, demo):  # noqa: F811
    day = DUE_BY + dt.timedelta(days=1)
    (item,) = _mmr(api, child, day)
    assert (item["kind"], item["status"]) == ("IMMUNIZATION_OVERDUE", "OVERDUE")
    assert _mmr(api, child, DUE_BY)[0]["status"] == "DUE"
    for _ in range(3):  # the daily job, several times (or in several processes)
        run(demo, lambda s: recompute(s, day), write=True)

    async def events(s: Any) -> list[Event]:
        rows = await s.scalars(select(Event).where(
            Event.type == "immunization.overdue", Event.aggregate_id == str(child["rid"])))  # fmt: skip
        return list(rows)

    mmr = [e for e in run(demo, events) if e.data["series"] == "MMR"]
    assert len(mmr) == 1
    assert mmr[0].data == {
        "series": "MMR",
        "dose": 1,
        "dueBy": DUE_BY.isoformat(),
        "teamId": child["team"],
    }


def test_graphql_and_fhir_forms(api, child):  # noqa: F811
    from fhir.resources.R4B.immunization import Immunization
    from fhir.resources.R4B.immunizationevaluation import ImmunizationEvaluation
    from fhir.resources.R4B.immunizationrecommendation import ImmunizationRecommendation

    r = api(RESIDENT, {"id": str(child["rid"]), "on": TODAY.isoformat()})["resident"]
    assert [i["vaccine"] for i in r["immunizations"]] == [
        v for v, _ in sorted(GIVEN, key=lambda g: g[1])
    ]
    for i in r["immunizations"]:
        Immunization.model_validate(i["fhir"])
    f = r["immunizationForecast"]
    assert f["scheduleVersion"] == "2021" and all(e["valid"] for e in f["evaluations"])
    for e in f["evaluations"]:
        ImmunizationEvaluation.model_validate(e["fhir"])
        assert e["fhir"]["immunizationEvent"]["reference"].startswith("Immunization/imm-")
    by = {s["series"]: s for s in f["series"]}
    assert (by["MMR"]["status"], by["MMR"]["nextDose"]) == ("DUE", 1)
    assert by["HepB"]["status"] == "COMPLETE" and by["MenA"]["nextDose"] == 2
    rec = ImmunizationRecommendation.model_validate(f["fhir"])
    assert len(rec.recommendation) == 9
