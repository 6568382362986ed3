"""/fhir: plain FHIR reads over HTTP, with the same access checks and audit as GraphQL."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.patient import Patient

from hub.registry.idnumber import make
from mappings.codes import ID_CARD
from tests.conftest import Api, LiveServer, create_client_token

ID = make("330784", dt.date(1970, 1, 2), 35)


@pytest.fixture(scope="module")
def tokens(live: LiveServer, db_url: str) -> dict[str, str]:
    admin = create_client_token(db_url, "fhir-admin", ["admin"])
    Api(live.url, admin)(
        """mutation($id: String!) { submitResidentRecord(input: {source: "vendor",
        sourceId: "F-1", name: "应志强", sex: "1", birthDate: "1970-01-02", idNumber: $id}) { outcome } }""",
        {"id": ID},
    )
    return {
        "admin": admin,
        "masked": create_client_token(db_url, "fhir-reader", ["residents:read"]),
    }


def get(live: LiveServer, token: str | None, path: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.get(live.url + path, headers=headers)


def test_capability_statement(live: LiveServer, tokens: dict[str, str]) -> None:
    r = get(live, tokens["admin"], "/fhir/metadata")
    assert r.headers["content-type"].startswith("application/fhir+json")
    CapabilityStatement.parse_obj(r.json())


def test_search_by_identifier_then_read(live: LiveServer, tokens: dict[str, str]) -> None:
    found = get(live, tokens["admin"], f"/fhir/Patient?identifier={ID_CARD}|{ID}").json()
    bundle = Bundle.parse_obj(found)
    assert bundle.total == 1
    pid = found["entry"][0]["resource"]["id"]
    patient = Patient.parse_obj(get(live, tokens["admin"], f"/fhir/Patient/{pid}").json())
    assert patient.identifier[0].value == ID
    masked = get(live, tokens["masked"], f"/fhir/Patient/{pid}").json()
    assert masked["identifier"][0]["value"] != ID and "*" in masked["identifier"][0]["value"]


def test_errors_are_operation_outcomes(live: LiveServer, tokens: dict[str, str]) -> None:
    assert get(live, None, "/fhir/Patient/1").status_code == 401
    missing = get(live, tokens["admin"], "/fhir/Patient/99999999")
    assert missing.status_code == 404 and missing.json()["resourceType"] == "OperationOutcome"
    bad = get(live, tokens["admin"], "/fhir/Patient?birthdate=nonsense")
    assert bad.status_code == 400
