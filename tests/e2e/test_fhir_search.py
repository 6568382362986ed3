"""/fhir search over real HTTP with a real FHIR client (fhirpy): parameters, paging,
_include/_revinclude, the access policy and masking; every resource validates (R4B)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import LiveServer
from tests.e2e import fhir_support
from tests.e2e.fhir_support import ORG, client, get, validate

# one database, server and demo per engine for all the /fhir modules
fhir_hub, world = fhir_support.fhir_hub, fhir_support.world
live, db_url = fhir_support.live, fhir_support.db_url


def test_search_by_name_birthdate_and_gender(live: LiveServer, world: dict[str, Any]) -> None:
    fhir = client(live, world["admin"])
    found = fhir.resources("Patient").search(family="谭", gender="male").fetch_all()
    assert found and all(
        p["name"][0]["text"].startswith("谭") and p["gender"] == "male" for p in found
    )
    born = (
        fhir.resources("Patient")
        .search(birthdate__ge="1950-01-01", birthdate__lt="1960")
        .fetch_all()
    )
    assert born and all("1950" <= p["birthDate"] < "1960" for p in born)
    for p in born:
        validate(p.serialize())
    assert fhir.resources("Patient").search(
        birthdate__ge="1950-01-01", birthdate__lt="1960"
    ).count() == len(born)


def test_all_pages_without_gaps_or_repeats(live: LiveServer, world: dict[str, Any]) -> None:
    fhir = client(live, world["admin"])
    total = fhir.resources("Patient").count()
    ids = [p.id for p in fhir.resources("Patient").sort("-birthdate").limit(37).fetch_all()]
    assert len(ids) == total == len(set(ids)) and total > 100
    # previous links lead back over the same pages
    first = get(live, world["admin"], "/fhir/Patient?_count=10&_sort=name").json()
    nxt = next(lk["url"] for lk in first["link"] if lk["relation"] == "next")
    second = httpx.get(nxt, headers={"Authorization": f"Bearer {world['admin']}"}).json()
    prev = next(lk["url"] for lk in second["link"] if lk["relation"] == "previous")
    back = httpx.get(prev, headers={"Authorization": f"Bearer {world['admin']}"}).json()
    assert [e["resource"]["id"] for e in back["entry"]] == [
        e["resource"]["id"] for e in first["entry"]
    ]


def test_phone_and_last_updated_paging(live: LiveServer, world: dict[str, Any]) -> None:
    admin = world["admin"]
    one = get(live, admin, "/fhir/Patient/1").json()
    phone = one["telecom"][0]["value"]
    found = get(live, admin, f"/fhir/Patient?phone={phone}").json()
    assert "1" in {e["resource"]["id"] for e in found["entry"]}
    fhir = client(live, admin)
    ids = [p.id for p in fhir.resources("Patient").sort("-_lastUpdated").limit(97).fetch_all()]
    assert len(ids) == len(set(ids)) == fhir.resources("Patient").count()
    since = one["meta"]["lastUpdated"]
    newer = fhir.resources("Patient").search(_lastUpdated__ge=since).fetch_all()
    assert "1" in {p.id for p in newer}


def test_identifier_and_revinclude(live: LiveServer, world: dict[str, Any]) -> None:
    admin = world["admin"]
    one = get(live, admin, "/fhir/Patient/1").json()
    ident = one["identifier"][0]
    body = get(
        live,
        admin,
        f"/fhir/Patient?identifier={ident['system']}|{ident['value']}"
        "&_revinclude=Contract:subject&_revinclude=ServiceRequest:subject"
        "&_include=Patient:general-practitioner",
    ).json()
    validate(body)
    modes = {(e["resource"]["resourceType"], e["search"]["mode"]) for e in body["entry"]}
    assert {
        ("Patient", "match"),
        ("Contract", "include"),
        ("ServiceRequest", "include"),
        ("Practitioner", "include"),
        ("Organization", "include"),
    } <= modes
    assert body["total"] == 1
    for e in body["entry"]:
        validate(e["resource"])


def test_every_type_searches_and_reads(live: LiveServer, world: dict[str, Any]) -> None:
    admin = world["admin"]
    for path in (
        "/fhir/Contract?patient=Patient/1",
        "/fhir/EpisodeOfCare?patient=1&status=active",
        "/fhir/ServiceRequest?subject=Patient/1&status=active",
        "/fhir/Task?patient=Patient/1",
        "/fhir/Group?member=Patient/1",
        "/fhir/Organization?name:contains=番禺&_count=3",
        "/fhir/Practitioner?_count=3",
        f"/fhir/PractitionerRole?organization={ORG}&_count=3",
        f"/fhir/CareTeam?organization=Organization/{ORG}&_count=3",
        "/fhir/Schedule?_count=2",
        "/fhir/Appointment?patient=Patient/1",
    ):
        r = get(live, admin, path)
        assert r.status_code == 200, (path, r.text)
        body = r.json()
        validate(body)
        for e in body.get("entry", []):
            validate(e["resource"])
            read = get(live, admin, f"/fhir/{e['resource']['resourceType']}/{e['resource']['id']}")
            assert read.status_code == 200, read.text
            assert {k: v for k, v in read.json().items() if k != "meta"} == {
                k: v for k, v in e["resource"].items() if k != "meta"
            }
        if "Appointment" not in path and "Schedule" not in path:
            assert body["total"] >= 1, path


def test_elements_summary_and_errors(live: LiveServer, world: dict[str, Any]) -> None:
    admin = world["admin"]
    sub = get(live, admin, "/fhir/Patient?_count=1&_elements=birthDate").json()["entry"][0][
        "resource"
    ]
    assert set(sub) == {"resourceType", "id", "meta", "birthDate"}
    one = get(live, admin, f"/fhir/Patient/{sub['id']}?_elements=gender").json()
    assert set(one) == {"resourceType", "id", "meta", "gender"}
    assert get(live, admin, "/fhir/Patient?_summary=count").json()["total"] > 100
    for path, status in (
        ("/fhir/Patient?nonsense=1", 400),
        ("/fhir/Patient?birthdate=19x0", 400),
        ("/fhir/Patient?_count=many", 400),
        ("/fhir/Patient?_cursor=garbage", 400),
        ("/fhir/Patient?_sort=gender", 400),
        ("/fhir/Patient?identifier=urn:x|1", 400),
        ("/fhir/Patient?_include=Contract:subject", 400),
        ("/fhir/Patient/abc", 404),
        ("/fhir/Patient/99999999999999", 404),
        ("/fhir/Nothing?x=1", 404),
        ("/fhir/Contract/0", 404),
        ("/fhir/Patient?name:fuzzy=x", 400),
    ):
        r = get(live, admin, path)
        assert r.status_code == status, (path, r.text)
        assert r.json()["resourceType"] == "OperationOutcome"
    posted = httpx.post(f"{live.url}/fhir/Patient/_search", data={"family": "谭", "_count": "50"},
                        headers={"Authorization": f"Bearer {admin}"})  # fmt: skip
    searched = get(live, admin, "/fhir/Patient?family=谭&_count=50").json()
    assert posted.status_code == 200 and posted.json()["total"] == searched["total"]
    lenient = get(live, admin, "/fhir/Patient?nonsense=1&_count=1", Prefer="handling=lenient")
    assert lenient.status_code == 200
    r = get(live, admin, "/fhir/Patient/1")
    assert (
        get(live, admin, "/fhir/Patient/1", **{"If-None-Match": r.headers["etag"]}).status_code
        == 304
    )


def test_policy_and_masking(live: LiveServer, world: dict[str, Any]) -> None:
    everyone = get(live, world["admin"], "/fhir/Patient?_summary=count").json()["total"]
    bound = client(live, world["bound"])
    seen = bound.resources("Patient").fetch_all()
    assert 0 < len(seen) < everyone
    assert bound.resources("Patient").count() == len(seen)
    ids = {p.id for p in seen}
    hidden = fhir_support.hidden_patient(live, world, ids)
    assert get(live, world["bound"], f"/fhir/Patient/{hidden}").status_code == 404
    assert get(live, world["bound"], f"/fhir/Patient?_id={hidden}").json()["total"] == 0
    rev = get(live, world["bound"], f"/fhir/Contract?subject=Patient/{hidden}").json()
    assert rev["total"] == 0 or hidden == "1"
    masked = get(live, world["masked"], "/fhir/Patient?_id=1").json()["entry"][0]["resource"]
    assert "*" in masked["identifier"][0]["value"] and "*" in masked["telecom"][0]["value"]
    assert get(live, world["residents_only"], "/fhir/Contract").status_code == 403
