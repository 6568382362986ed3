"""/fhir Patient writes: create, conditional create and update, as a source record of the
client's own source linked through the matcher, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest

from hub.registry.idnumber import make
from mappings.codes import ID_CARD
from tests.conftest import LiveServer, create_client_token
from tests.e2e.fhir_support import client, db_url, fhir_hub, get, live, validate, world

__all__ = ["db_url", "fhir_hub", "live", "world"]
SRC = "urn:hub:source:fhirapp"
NAMES = ["柯文静", "冼丽华", "岑美玲", "麦秀英", "龚晓燕", "邝雪梅", "欧阳慧", "司徒婷"]


@pytest.fixture(scope="module")
def writers(db_url: str) -> dict[str, str]:
    write = ["residents:read", "residents:write", "residents:pii"]
    return {
        "writer": create_client_token(db_url, "fhir-writer", write, sources=["fhirapp"]),
        "bound": create_client_token(
            db_url, "fhir-writer-bound", write, ["panyu-org-001"], sources=["fhirbound"]
        ),
        "reader": create_client_token(db_url, "fhir-writer-reader", ["residents:read"]),
    }


def patient(source_id: str, id_number: str, *, source: str = SRC, **extra: Any) -> dict:
    return {
        "resourceType": "Patient",
        "identifier": [
            {"system": source, "value": source_id},
            {"system": ID_CARD, "value": id_number},
        ],  # fmt: skip
        "name": [{"text": NAMES[int(id_number[14:17]) % len(NAMES)]}],
        "gender": "female",
        "birthDate": f"{id_number[6:10]}-{id_number[10:12]}-{id_number[12:14]}",
        **extra,
    }


def send(live: LiveServer, token: str, method: str, path: str, body: Any, **headers: str
         ) -> httpx.Response:  # fmt: skip
    return httpx.request(method, live.url + path, json=body,
                         headers={"Authorization": f"Bearer {token}", **headers})  # fmt: skip


def issue_code(r: httpx.Response) -> str:
    body = r.json()
    assert body["resourceType"] == "OperationOutcome", body
    return body["issue"][0].get("details", {}).get("coding", [{}])[0].get("code", "")


def test_create_with_fhirpy_then_read_and_update(live: LiveServer, writers: dict[str, str]
                                                 ) -> None:  # fmt: skip
    number = make("330784", dt.date(1981, 3, 4), 11)
    fhir = client(live, writers["writer"])
    created = fhir.resource("Patient", **patient("W-1", number))
    created.save()
    pid = created.id
    assert pid and created["birthDate"] == "1981-03-04"
    raw = get(live, writers["writer"], f"/fhir/Patient/{pid}").json()
    validate(raw)
    assert any(i["value"] == number for i in raw["identifier"])
    # update through fhirpy: PUT /fhir/Patient/{id} replaces the client's own source record
    changed = fhir.resource("Patient", id=pid, **patient("W-1", number, telecom=[
        {"system": "phone", "value": "13800138011"}]))  # fmt: skip
    changed.save()
    again = get(live, writers["writer"], f"/fhir/Patient/{pid}").json()
    assert any(t.get("value") == "13800138011" for t in again.get("telecom", [])), again


def test_create_answers_201_with_location(live: LiveServer, writers: dict[str, str]) -> None:
    number = make("330784", dt.date(1982, 5, 6), 12)
    r = send(live, writers["writer"], "POST", "/fhir/Patient", patient("W-2", number))
    assert r.status_code == 201, r.text
    body = r.json()
    validate(body)
    assert r.headers["location"].endswith(f"/fhir/Patient/{body['id']}")
    assert r.headers["content-type"].startswith("application/fhir+json")


def test_conditional_create_twice_is_one_resident(live: LiveServer, writers: dict[str, str]
                                                  ) -> None:  # fmt: skip
    number = make("330784", dt.date(1983, 7, 8), 13)
    cond = {"If-None-Exist": f"identifier={ID_CARD}|{number}"}
    first = send(live, writers["writer"], "POST", "/fhir/Patient", patient("W-3", number), **cond)
    assert first.status_code == 201, first.text
    second = send(live, writers["writer"], "POST", "/fhir/Patient", patient("W-3b", number), **cond)
    assert second.status_code == 200, second.text
    assert second.json()["id"] == first.json()["id"]
    by_source = {"If-None-Exist": f"identifier={SRC}|W-3"}
    third = send(live, writers["writer"], "POST", "/fhir/Patient", patient("W-3", number),
                 **by_source)  # fmt: skip
    assert third.status_code == 200 and third.json()["id"] == first.json()["id"]
    found = get(live, writers["writer"], f"/fhir/Patient?identifier={ID_CARD}|{number}").json()
    assert found["total"] == 1


def test_write_errors(live: LiveServer, writers: dict[str, str]) -> None:
    number = make("330784", dt.date(1984, 9, 10), 14)
    bad = send(live, writers["writer"], "POST", "/fhir/Patient",
               patient("W-4", number, birthDate="nonsense"))  # fmt: skip
    assert bad.status_code == 400 and bad.json()["resourceType"] == "OperationOutcome"
    not_patient = send(live, writers["writer"], "POST", "/fhir/Patient", {"resourceType": "Group"})
    assert not_patient.status_code == 400
    no_scope = send(live, writers["reader"], "POST", "/fhir/Patient", patient("W-4", number))
    assert no_scope.status_code == 403
    wrong_id = send(live, writers["writer"], "POST", "/fhir/Patient",
                    patient("W-4", number[:-1] + ("0" if number[-1] != "0" else "1")))  # fmt: skip
    assert wrong_id.status_code == 422 and issue_code(wrong_id) == "INVALID_ID_NUMBER"
    other = send(live, writers["writer"], "POST", "/fhir/Patient",
                 patient("W-4", number, source="urn:hub:source:vendor"))  # fmt: skip
    assert other.status_code == 403 and issue_code(other) == "FORBIDDEN_SOURCE"
    no_source = {**patient("W-4", number), "identifier": [{"system": ID_CARD, "value": number}]}
    missing = send(live, writers["writer"], "POST", "/fhir/Patient", no_source)
    assert missing.status_code == 422 and issue_code(missing) == "SOURCE_ID_REQUIRED"


def test_update_rules(live: LiveServer, world: dict[str, Any], writers: dict[str, str]) -> None:
    number = make("330784", dt.date(1985, 11, 12), 15)
    r = send(live, writers["writer"], "POST", "/fhir/Patient", patient("W-5", number))
    pid = r.json()["id"]
    body = patient("W-5", number)
    assert send(live, writers["writer"], "PUT", f"/fhir/Patient/{pid}",
                {**body, "id": "1"}).status_code == 400  # fmt: skip
    # a visible resident holding no source record of this client: nothing of its own to update
    other = send(live, writers["writer"], "PUT", "/fhir/Patient/1", {**body, "id": "1"})
    assert other.status_code == 422 and issue_code(other) == "NO_OWN_SOURCE_RECORD"
    assert send(live, writers["reader"], "PUT", f"/fhir/Patient/{pid}", body).status_code == 403
    # the bound client cannot see this resident: as if it did not exist
    hidden = send(live, writers["bound"], "PUT", f"/fhir/Patient/{pid}", body)
    assert hidden.status_code == 404
    assert send(live, writers["writer"], "PUT", "/fhir/Patient/99999999", body).status_code == 404


def test_create_linking_to_a_hidden_resident_reveals_nobody(
    live: LiveServer, world: dict[str, Any], writers: dict[str, str]
) -> None:
    number = make("330784", dt.date(1986, 1, 2), 16)
    made = send(live, writers["writer"], "POST", "/fhir/Patient", patient("W-6", number))
    assert made.status_code == 201
    assert get(live, writers["bound"], f"/fhir/Patient/{made.json()['id']}").status_code == 404
    copy = patient("B-6", number, source="urn:hub:source:fhirbound")
    r = send(live, writers["bound"], "POST", "/fhir/Patient", copy)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["resourceType"] == "OperationOutcome" and "location" not in r.headers
    assert number not in r.text and made.json()["id"] not in r.text.replace("OperationOutcome", "")


def test_capability_lists_the_writes(live: LiveServer, writers: dict[str, str]) -> None:
    cs = get(live, writers["reader"], "/fhir/metadata").json()
    by_type = {r["type"]: r for r in cs["rest"][0]["resource"]}
    codes = [i["code"] for i in by_type["Patient"]["interaction"]]
    assert codes == ["read", "search-type", "create", "update"]
    assert by_type["Patient"]["conditionalCreate"] is True
    assert all(
        [i["code"] for i in r["interaction"]] == ["read", "search-type"]
        for t, r in by_type.items() if t != "Patient"
    )  # fmt: skip
