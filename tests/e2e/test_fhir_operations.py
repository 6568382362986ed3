"""Patient/$everything and Patient/$match over real HTTP, through the access policy."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import LiveServer
from tests.e2e import fhir_support
from tests.e2e.fhir_support import client, get, validate

# one database, server and demo per engine for all the /fhir modules
fhir_hub, world = fhir_support.fhir_hub, fhir_support.world
live, db_url = fhir_support.live, fhir_support.db_url


def post(live: LiveServer, token: str, path: str, body: Any) -> httpx.Response:
    return httpx.post(live.url + path, json=body, headers={"Authorization": f"Bearer {token}"})


def test_everything_is_the_whole_record_paged(live: LiveServer, world: dict[str, Any]) -> None:
    admin = world["admin"]
    whole = get(live, admin, "/fhir/Patient/1/$everything?_count=200").json()
    validate(whole)
    types = [e["resource"]["resourceType"] for e in whole["entry"]]
    assert types[0] == "Patient" and whole["entry"][0]["resource"]["id"] == "1"
    expected = {"Group", "Contract", "EpisodeOfCare", "ServiceRequest", "Task", "Organization"}
    assert expected <= set(types)
    for e in whole["entry"]:
        validate(e["resource"])
    assert whole["total"] == len(whole["entry"])
    # paged: the pages put together are the whole record, in order
    seen, url = [], f"{live.url}/fhir/Patient/1/$everything?_count=3"
    while url:
        page = httpx.get(url, headers={"Authorization": f"Bearer {admin}"}).json()
        seen += [(e["resource"]["resourceType"], e["resource"]["id"]) for e in page["entry"]]
        url = next((lk["url"] for lk in page["link"] if lk["relation"] == "next"), None)
    assert seen == [(e["resource"]["resourceType"], e["resource"]["id"]) for e in whole["entry"]]
    only = get(live, admin, "/fhir/Patient/1/$everything?_type=Patient,Contract").json()
    assert {e["resource"]["resourceType"] for e in only["entry"]} == {"Patient", "Contract"}
    since = get(live, admin, "/fhir/Patient/1/$everything?_since=2999-01-01").json()
    assert "Contract" not in {e["resource"]["resourceType"] for e in since["entry"]}
    assert get(live, admin, "/fhir/Patient/1/$everything?_since=soon").status_code == 400
    assert get(live, admin, "/fhir/Patient/x/$everything").status_code == 404


def test_everything_respects_the_policy(live: LiveServer, world: dict[str, Any]) -> None:
    bound = world["bound"]
    seen = {p.id for p in client(live, bound).resources("Patient").limit(200).fetch_all()}
    hidden = fhir_support.hidden_patient(live, world, seen)
    assert get(live, bound, f"/fhir/Patient/{hidden}/$everything").status_code == 404
    masked = get(live, world["masked"], "/fhir/Patient/1/$everything").json()
    assert "*" in masked["entry"][0]["resource"]["identifier"][0]["value"]
    limited = get(live, world["residents_only"], "/fhir/Patient/1/$everything").json()
    assert "Contract" not in {e["resource"]["resourceType"] for e in limited["entry"]}


def _parameters(patient: dict[str, Any], **extra: Any) -> dict[str, Any]:
    params: list[dict[str, Any]] = [{"name": "resource", "resource": patient}]
    if "certain" in extra:
        params.append({"name": "onlyCertainMatches", "valueBoolean": extra["certain"]})
    params.append({"name": "count", "valueInteger": extra.get("count", 5)})
    return {"resourceType": "Parameters", "parameter": params}


def test_match_finds_a_misspelt_copy(live: LiveServer, world: dict[str, Any]) -> None:
    admin = world["admin"]
    known = get(live, admin, "/fhir/Patient/1").json()
    copy = {
        "resourceType": "Patient",
        "name": [{"text": known["name"][0]["text"][:-1] + "雨"}],  # one character wrong
        "gender": known["gender"],
        "birthDate": known["birthDate"],
        "telecom": known["telecom"],
    }
    body = post(live, admin, "/fhir/Patient/$match", _parameters(copy)).json()
    validate(body)
    first = body["entry"][0]
    assert first["resource"]["id"] == "1" and first["search"]["mode"] == "match"
    grade = first["search"]["extension"][0]["valueCode"]
    assert grade in ("certain", "probable") and 0 < first["search"]["score"] <= 1
    with_id = dict(copy, identifier=[known["identifier"][0]])
    certain = post(live, admin, "/fhir/Patient/$match", _parameters(with_id, certain=True)).json()
    assert [e["resource"]["id"] for e in certain["entry"]] == ["1"]
    stranger = {"resourceType": "Patient", "name": [{"text": "司马无名"}], "gender": "female",
                "birthDate": "1901-02-03"}  # fmt: skip
    nobody = post(live, admin, "/fhir/Patient/$match", _parameters(stranger)).json()
    grades = [e["search"]["extension"][0]["valueCode"] for e in nobody.get("entry", [])]
    assert all(g not in ("certain", "probable") for g in grades)


def test_match_refuses_bad_input_and_hides_the_invisible(
    live: LiveServer, world: dict[str, Any]
) -> None:
    admin = world["admin"]
    for body in ({"resourceType": "Bundle"}, [], {"resourceType": "Parameters"},
                 _parameters({"resourceType": "Patient", "gender": "dragon"}),
                 _parameters({"resourceType": "Patient"}, count=0)):  # fmt: skip
        r = post(live, admin, "/fhir/Patient/$match", body)
        assert r.status_code == 400 and r.json()["resourceType"] == "OperationOutcome", r.text
    r = httpx.post(f"{live.url}/fhir/Patient/$match", content=b"{not json",
                   headers={"Authorization": f"Bearer {admin}"})  # fmt: skip
    assert r.status_code == 400
    known = get(live, admin, "/fhir/Patient/1").json()
    seen = {p.id for p in client(live, world["bound"]).resources("Patient").limit(200).fetch_all()}
    found = post(live, world["bound"], "/fhir/Patient/$match", _parameters(known)).json()
    assert {e["resource"]["id"] for e in found.get("entry", [])} <= seen


def _audited(db_url: str, actor: str) -> dict[str, set[str]]:
    import asyncio

    from sqlalchemy import select

    from hub.access.models import AuditEvent
    from hub.db import Database

    async def run() -> dict[str, set[str]]:
        db = Database(db_url)
        try:
            async with db.reader() as s:
                rows = await s.execute(
                    select(AuditEvent.operation, AuditEvent.resident_ids).where(
                        AuditEvent.actor == actor
                    )
                )
                out: dict[str, set[str]] = {}
                for op, ids in rows:
                    out.setdefault(op, set()).update(str(i) for i in ids)
                return out
        finally:
            await db.dispose()

    return asyncio.run(run())


def test_every_resident_read_is_audited(
    live: LiveServer, world: dict[str, Any], db_url: str
) -> None:
    import time

    token = world["masked"]
    get(live, token, "/fhir/Patient/1")
    get(live, token, "/fhir/Contract?subject=Patient/1&_include=Contract:subject")
    get(live, token, "/fhir/Patient/1/$everything")
    known = get(live, world["admin"], "/fhir/Patient/1").json()
    post(live, token, "/fhir/Patient/$match", _parameters(known))
    httpx.post(f"{live.url}/fhir/$graphql", json={"query": '{ Patient(id: "1") { id } }'},
               headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    wanted = {"fhir.Patient.read", "fhir.Contract.search", "fhir.Patient.$everything",
              "fhir.Patient.$match", "fhir.$graphql"}  # fmt: skip
    deadline = time.monotonic() + 15
    while True:
        seen = _audited(db_url, "fhir-search-masked")
        if wanted <= set(seen) or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert wanted <= set(seen), seen
    assert all("1" in seen[op] for op in wanted)


def test_a_merged_patient_is_gone_with_a_pointer(live: LiveServer, world: dict[str, Any]) -> None:
    from tests.conftest import Api

    admin = world["admin"]
    merged = Api(live.url, admin)(
        'mutation { mergeResidents(survivorId: "2", mergedId: "3", reason: "same person") '
        "{ userErrors { code message } } }"
    )["mergeResidents"]
    assert not merged["userErrors"], merged
    gone = get(live, admin, "/fhir/Patient/3")
    assert gone.status_code == 410 and "Patient/2" in gone.json()["issue"][0]["diagnostics"]
    survivor = get(live, admin, "/fhir/Patient/2").json()
    assert {"other": {"reference": "Patient/3"}, "type": "replaces"} in survivor["link"]
    assert get(live, admin, "/fhir/Patient?_id=3").json()["total"] == 0
    assert get(live, admin, "/fhir/Patient/3/$everything").status_code == 410
