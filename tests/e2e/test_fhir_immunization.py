"""/fhir Immunization: the doses hub/immunization holds, read and searched by patient and
date through the resident visibility rule, and part of Patient/$everything."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest

from hub.db import Database
from hub.immunization.models import VaccinationEvent
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


@pytest.fixture(scope="module")
def doses(db_url: str, live: LiveServer, world: dict[str, Any]) -> list[str]:
    """Two doses for resident 1, given a month apart, and one (the last) for a resident the
    bound client may not see."""
    seen = {p.id for p in client(live, world["bound"]).resources("Patient").limit(200).fetch_all()}
    hidden = int(hidden_patient(live, world, seen))

    async def run() -> list[str]:
        db = Database(db_url)
        try:
            async with db.transaction() as session:
                rows = [
                    VaccinationEvent(source="fhir-test", source_event_id=f"FT-{n}", resident_id=1,
                                     vaccine="HepB", local_code="0201", product_name="乙肝疫苗",
                                     dose_number=n, given_on=dt.date(2025, n, 15), lot="L1")
                    for n in (1, 2)
                ]  # fmt: skip
                rows.append(VaccinationEvent(source="fhir-test", source_event_id="FT-H",
                                             resident_id=hidden, local_code="0201",
                                             given_on=dt.date(2025, 3, 1)))  # fmt: skip
                session.add_all(rows)
                await session.flush()
                return [f"imm-{r.id}" for r in rows]
        finally:
            await db.dispose()

    return asyncio.run(run())


def test_read_and_search_by_patient_and_date(
    live: LiveServer, world: dict[str, Any], doses: list[str]
) -> None:
    one = get(live, world["admin"], f"/fhir/Immunization/{doses[0]}")
    assert one.status_code == 200, one.text
    validate(one.json())
    assert one.json()["patient"]["reference"] == "Patient/1"
    found = get(live, world["masked"], "/fhir/Immunization?patient=Patient/1&_sort=date").json()
    ids = [e["resource"]["id"] for e in found["entry"]]
    assert ids[:2] == doses[:2]
    for e in found["entry"]:
        validate(e["resource"])
    feb = get(live, world["admin"], "/fhir/Immunization?patient=1&date=2025-02").json()
    assert [e["resource"]["id"] for e in feb["entry"]] == [doses[1]]


def test_invisible_resident_doses_do_not_exist(
    live: LiveServer, world: dict[str, Any], doses: list[str]
) -> None:
    hidden = get(live, world["admin"], f"/fhir/Immunization/{doses[2]}").json()
    assert get(live, world["bound"], f"/fhir/Immunization/{doses[2]}").status_code == 404
    patient = hidden["patient"]["reference"]
    found = get(live, world["bound"], f"/fhir/Immunization?patient={patient}").json()
    assert found["total"] == 0 and not found.get("entry")
    listed = get(live, world["bound"], "/fhir/Immunization?_count=200").json()
    assert doses[2] not in {e["resource"]["id"] for e in listed.get("entry", [])}
    assert get(live, world["admin"], "/fhir/Immunization/imm-99999999").status_code == 404


def test_in_everything_and_capability(
    live: LiveServer, world: dict[str, Any], doses: list[str]
) -> None:
    everything = get(live, world["admin"], "/fhir/Patient/1/$everything?_type=Immunization,Patient")
    got = {e["resource"]["id"] for e in everything.json()["entry"]
           if e["resource"]["resourceType"] == "Immunization"}  # fmt: skip
    assert set(doses[:2]) <= got and doses[2] not in got
    cs = get(live, world["admin"], "/fhir/metadata").json()
    imm = next(r for r in cs["rest"][0]["resource"] if r["type"] == "Immunization")
    assert {p["name"] for p in imm["searchParam"]} == {"_id", "patient", "date", "_lastUpdated"}
