"""Shared by the /fhir end-to-end tests: the panyu demo with one signed contract and one
referral for resident 1, tokens for an admin, a masked reader and an institution-bound
client, and a fhirpy client."""

from __future__ import annotations

import asyncio
import importlib
from typing import Any

import httpx
import pytest
from fhirpy import SyncFHIRClient

from hub.demo.load import load_demo
from tests.conftest import ENGINES, Api, LiveServer, create_client_token, make_database

ORG = "panyu-org-005"  # resident 1's institution in the panyu demo


def validate(resource: dict[str, Any]) -> None:
    rtype = resource["resourceType"]
    module = importlib.import_module(f"fhir.resources.R4B.{rtype.lower()}")
    getattr(module, rtype).parse_obj(resource)


_SHARED: dict[str, tuple[str, LiveServer, dict[str, Any]]] = {}


@pytest.fixture(scope="module", params=ENGINES)
def fhir_hub(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, LiveServer, dict[str, Any]]:
    """One database, server and demo per engine, shared by all the /fhir test modules
    (built by the first, stopped when the test run ends)."""
    from hub.app import build_hub, create_app

    engine = request.param
    if engine not in _SHARED:
        url = make_database(engine, tmp_path_factory.mktemp("fhir"))
        server = LiveServer(create_app(build_hub(database_url=url))).__enter__()
        request.config.add_cleanup(server.__exit__)
        _SHARED[engine] = (url, server, _populate(server, url))
    return _SHARED[engine]


@pytest.fixture(scope="module")
def db_url(fhir_hub: tuple[str, LiveServer, dict[str, Any]]) -> str:
    return fhir_hub[0]


@pytest.fixture(scope="module")
def live(fhir_hub: tuple[str, LiveServer, dict[str, Any]]) -> LiveServer:
    return fhir_hub[1]


@pytest.fixture(scope="module")
def world(fhir_hub: tuple[str, LiveServer, dict[str, Any]]) -> dict[str, Any]:
    return fhir_hub[2]


def hidden_patient(live: LiveServer, world: dict[str, Any], seen: set[str]) -> str:
    """An active resident the admin reads and the bound client may not see."""
    for i in range(1, 5000):
        if (
            str(i) not in seen
            and get(live, world["admin"], f"/fhir/Patient/{i}").status_code == 200
        ):
            return str(i)
    raise AssertionError("every resident is visible")


def _populate(live: LiveServer, db_url: str) -> dict[str, Any]:
    asyncio.run(load_demo(db_url, scale=0.02, regions=("panyu",)))
    admin = create_client_token(db_url, "fhir-search-admin", ["admin"])
    api = Api(live.url, admin)
    signed = api(
        """mutation { signContract(input: { residentId: "UmVzaWRlbnQ6MQ", teamId: "panyu-team-005",
        packageCodes: ["PY-BASIC-1"], hospitalIds: ["panyu-org-022", "panyu-org-020"] }) {
        contract { contractId } userErrors { code message } } }"""
    )["signContract"]
    assert not signed["userErrors"], signed
    referral = api(
        """mutation { createReferral(input: { residentId: "UmVzaWRlbnQ6MQ", fromTeamId: "panyu-team-005",
        toOrganizationId: "panyu-org-022", direction: UP, department: "心内科", urgency: URGENT,
        reason: "血压控制不佳", diagnosisCode: "I10" }) { referral { referralId } userErrors { code message } } }"""
    )["createReferral"]
    assert not referral["userErrors"], referral
    reader = ["residents:read", "contracts:read", "referrals:read"]
    return {
        "admin": admin,
        "masked": create_client_token(db_url, "fhir-search-masked", reader),
        "bound": create_client_token(
            db_url, "fhir-search-bound", [*reader, "residents:pii"], ["panyu-org-001"]
        ),
        "residents_only": create_client_token(db_url, "fhir-search-patients", ["residents:read"]),
        "contract": signed["contract"]["contractId"],
        "referral": referral["referral"]["referralId"],
    }


def client(live: LiveServer, token: str) -> SyncFHIRClient:
    return SyncFHIRClient(f"{live.url}/fhir", authorization=f"Bearer {token}")


def get(live: LiveServer, token: str, path: str, **kw: Any) -> httpx.Response:
    return httpx.get(live.url + path, headers={"Authorization": f"Bearer {token}", **kw})
