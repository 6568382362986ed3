"""`Resident.tuberculosis` over GraphQL on both engines: a notified TB patient's episode
(notification, diagnosis, designated hospital, treatment, first visit due 72 hours after
and done once a visit is recorded, outcome and closing), its FHIR R4B EpisodeOfCare valid by
fhir.resources, and the read audited."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from hub.access.models import AuditEvent
from hub.access.principal import system
from hub.records.models import Encounter
from hub.registry.idnumber import make
from hub.tuberculosis.service import Notification, apply_notification
from tests.e2e.contract_support import api, demo, run  # noqa: F401

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
BORN = dt.date(1968, 5, 17)
PATIENT = {"name": "结核图谱", "sex": "1", "birth_date": BORN,
           "id_number": make("330784", BORN, 731)}  # fmt: skip
QUERY = """query($id: ID!) { resident(id: $id) { tuberculosis {
  notificationId source notifiedAt diagnosedOn diagnosisType hospital treatmentStart regimen
  outcome closedOn closed firstVisitDue firstVisitOn firstVisitDone fhir } } }"""


def _apply(db_url: str, n: Notification) -> int:
    async def go(s: Any) -> int:
        from hub.core import build_hub

        hub = build_hub(database_url=db_url)
        try:
            result = await apply_notification(s, system("adapter:cdc"), hub.registry, n)
            return int(result["resident_id"])
        finally:
            await hub.db.dispose()

    return run(db_url, go, write=True)


@pytest.fixture(scope="module")
def patient(demo: str) -> int:  # noqa: F811
    return _apply(demo, Notification(
        "TB-GQL-1", 1, "notification", NOW - dt.timedelta(hours=30), PATIENT,
        {"diagnosed_on": NOW.date() - dt.timedelta(days=3), "diagnosis_type": "病原学阳性",
         "hospital": "永康市第一人民医院", "treatment_start": NOW.date() - dt.timedelta(days=2),
         "regimen": "2HRZE/4HR"}))  # fmt: skip


def _episodes(api: Any, rid: int) -> list[dict[str, Any]]:  # noqa: F811
    out: list[dict[str, Any]] = api(QUERY, {"id": str(rid)})["resident"]["tuberculosis"]
    return out


def test_an_open_episode_with_its_first_visit_due_and_a_valid_fhir_episode(api, patient):  # noqa: F811
    from fhir.resources.R4B.episodeofcare import EpisodeOfCare

    (e,) = _episodes(api, patient)
    assert (e["notificationId"], e["source"], e["hospital"], e["regimen"]) == (
        "TB-GQL-1", "cdc", "永康市第一人民医院", "2HRZE/4HR")  # fmt: skip
    assert e["diagnosisType"] == "病原学阳性" and e["closed"] is False and e["closedOn"] is None
    due = dt.datetime.fromisoformat(e["firstVisitDue"])
    notified = dt.datetime.fromisoformat(e["notifiedAt"])
    assert due - notified == dt.timedelta(hours=72)
    assert e["firstVisitDone"] is False and e["firstVisitOn"] is None
    fhir = EpisodeOfCare.model_validate(e["fhir"])
    assert fhir.status == "active" and fhir.type[0].coding[0].code == "tuberculosis"
    assert fhir.patient.reference == f"Patient/{patient}"
    assert fhir.managingOrganization.display == "永康市第一人民医院"


def test_a_visit_fulfils_the_first_visit_and_closing_finishes_the_episode(api, demo, patient):  # noqa: F811
    from fhir.resources.R4B.episodeofcare import EpisodeOfCare

    async def visit(s: Any) -> None:
        s.add(Encounter(resident_id=patient, source="his", origin="T-TB-GQL-1",
                        started_at=NOW - dt.timedelta(hours=2)))  # fmt: skip

    run(demo, visit, write=True)
    (e,) = _episodes(api, patient)
    assert (
        e["firstVisitDone"] is True
        and e["firstVisitOn"] == (NOW - dt.timedelta(hours=2)).date().isoformat()
    )
    closed_on = NOW.date()
    _apply(demo, Notification("TB-GQL-1", 2, "closing", NOW - dt.timedelta(hours=30), PATIENT,
                              {"outcome": "治愈", "closed_on": closed_on}))  # fmt: skip
    (e,) = _episodes(api, patient)
    assert e["closed"] is True and e["outcome"] == "治愈" and e["closedOn"] == closed_on.isoformat()
    fhir = EpisodeOfCare.model_validate(e["fhir"])
    assert fhir.status == "finished" and fhir.period.end.isoformat() == closed_on.isoformat()

    async def audited(s: Any) -> list[AuditEvent]:
        return list(await s.scalars(select(AuditEvent).where(
            AuditEvent.operation == "tuberculosis")))  # fmt: skip

    assert any(str(patient) in a.resident_ids for a in run(demo, audited))
