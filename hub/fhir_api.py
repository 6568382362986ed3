"""Plain FHIR R4 REST reads for FHIR-native clients: the same data and checks as GraphQL.

GET /fhir/metadata, /fhir/Patient/{id}, /fhir/Patient?identifier=system|value,
/fhir/Organization/{id}, /fhir/Practitioner/{id}, /fhir/CareTeam/{id}.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hub.directory import service as directory
from hub.directory.models import Organization, Practitioner, Team
from hub.errors import DomainError, NotFound
from hub.ids import parse_int_id
from hub.registry import golden, repository
from hub.registry.models import IdentifierSystem
from mappings import codes
from mappings import directory as fhir_directory
from mappings.patient import patient

FHIR_JSON = "application/fhir+json"
SYSTEM_BY_URI = {uri: name for name, uri in codes.IDENTIFIER_SYSTEMS.items()}


def _outcome(status: int, code: str, text: str) -> JSONResponse:
    return JSONResponse(
        {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": code, "diagnostics": text}],
        },
        status_code=status,
        media_type=FHIR_JSON,
    )


def _ok(resource: dict[str, Any]) -> JSONResponse:
    return JSONResponse(resource, media_type=FHIR_JSON)


async def metadata(request: Request) -> JSONResponse:
    read = [{"code": "read"}]
    return _ok(
        {
            "resourceType": "CapabilityStatement",
            "status": "active",
            "date": "2026-11-23",
            "kind": "instance",
            "fhirVersion": "4.3.0",
            "format": ["json"],
            "rest": [
                {
                    "mode": "server",
                    "resource": [
                        {
                            "type": "Patient",
                            "interaction": [*read, {"code": "search-type"}],
                            "searchParam": [{"name": "identifier", "type": "token"}],
                        },
                        {"type": "Organization", "interaction": read},
                        {"type": "Practitioner", "interaction": read},
                        {"type": "CareTeam", "interaction": read},
                    ],
                }
            ],
        }
    )


async def _patient(request: Request, session: Any, resident_id: int) -> dict[str, Any]:
    hub, principal = request.app.state.hub, request.scope["principal"]
    r = await hub.registry.get(session, principal, resident_id)
    cats = (await repository.categories(session, [r.id]))[r.id] | golden.derived_categories(
        r.birth_date
    )
    from hub.access.principal import Scope

    return patient(
        r,
        categories=cats,
        mask=not principal.has(Scope.RESIDENTS_PII),
        merged_into=r.merged_into_id,
    )


async def read_patient(request: Request) -> JSONResponse:
    hub, principal = request.app.state.hub, request.scope["principal"]
    rid = parse_int_id(request.path_params["id"])
    if rid is None:  # not a key any row can have: checked before SQL sees it
        return _outcome(404, "not-found", "Patient ids are numbers from 1 to 2^31-1.")
    try:
        async with hub.db.reader() as session:
            resource = await _patient(request, session, rid)
        hub.audit.add(principal, "READ", "fhir.Patient.read", [rid])
    except NotFound:
        return _outcome(404, "not-found", f"Patient/{rid} is not known or not visible.")
    except DomainError as e:
        return _outcome(403, "forbidden", e.message)
    return _ok(resource)


async def search_patient(request: Request) -> JSONResponse:
    hub, principal = request.app.state.hub, request.scope["principal"]
    token = request.query_params.get("identifier")
    if not token or "|" not in token:
        return _outcome(400, "required", "Search needs identifier=<system>|<value>.")
    uri, value = token.split("|", 1)
    system = SYSTEM_BY_URI.get(uri) or (uri if uri in IdentifierSystem.__members__ else None)
    if system is None:
        return _outcome(400, "not-supported", f"Unknown identifier system {uri!r}.")
    entries = []
    try:
        async with hub.db.reader() as session:
            found = await hub.registry.find_by_identifier(session, principal, system, value)
            if found is not None:
                entries.append(
                    {
                        "fullUrl": f"Patient/{found.id}",
                        "search": {"mode": "match"},
                        "resource": await _patient(request, session, found.id),
                    }
                )
                hub.audit.add(principal, "READ", "fhir.Patient.search", [found.id])
    except DomainError as e:
        return _outcome(400 if e.code != "MISSING_SCOPE" else 403, "invalid", e.message)
    return _ok(
        {"resourceType": "Bundle", "type": "searchset", "total": len(entries), "entry": entries}
    )


def _directory_read(model: type[Any], build: Any) -> Any:
    async def read(request: Request) -> JSONResponse:
        hub = request.app.state.hub
        key = request.path_params["id"]
        async with hub.db.reader() as session:
            row = await session.get(model, key)
            if row is None:
                return _outcome(404, "not-found", f"{model.__name__}/{key} is not known.")
            if model is Team:
                members = (await directory.team_members(session, [key]))[key]
                return _ok(build(row, members))
            return _ok(build(row))

    return read


routes = [
    Route("/fhir/metadata", metadata),
    Route("/fhir/Patient", search_patient),
    Route("/fhir/Patient/{id}", read_patient),
    Route("/fhir/Organization/{id}", _directory_read(Organization, fhir_directory.organization)),
    Route("/fhir/Practitioner/{id}", _directory_read(Practitioner, fhir_directory.practitioner)),
    Route("/fhir/CareTeam/{id}", _directory_read(Team, fhir_directory.care_team)),
]
