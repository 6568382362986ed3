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
from tests.conftest import Api, LiveServer, create_client_token

ORG = "panyu-org-005"  # resident 1's institution in the panyu demo


def validate(resource: dict[str, Any]) -> None:
    rtype = resource["resourceType"]
    module = importlib.import_module(f"fhir.resources.R4B.{rtype.lower()}")
    getattr(module, rtype).parse_obj(resource)


@pytest.fixture(scope="module")
def world(live: LiveServer, db_url: str) -> dict[str, Any]:
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
