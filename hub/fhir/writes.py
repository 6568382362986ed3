"""FHIR writes for Patient: create (`POST /fhir/Patient`, with `If-None-Exist`) and update
(`PUT /fhir/Patient/{id}`), mapped onto the registry: the Patient is a source record of the
calling client's own registered source, linked to a resident through the matcher
(`RegistryService.submit`), never a write to the golden record itself.

The source id is the Patient's identifier with system ``urn:hub:source:<key>`` (``<key>``
one of the client's sources; an operator may name any). A Patient that links to a resident
the client may not see is answered with an OperationOutcome only (no Patient, no
Location): the write never reveals a person."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from pydantic import ValidationError
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.access import policy
from hub.access.principal import Principal, Scope
from hub.errors import DomainError, Forbidden, NotFound
from hub.fhir import bundle, search
from hub.fhir import repository as repo
from hub.fhir.capability import interaction
from hub.fhir.errors import FHIR_JSON, FhirError, invalid
from hub.fhir.routes import _missing, audit, base_url, body_json, context, fhir_endpoint
from hub.registry import repository as registry
from hub.registry.models import SourceRecord
from hub.registry.records import ResidentRecord
from mappings.patient import patient_fields

Resource = dict[str, Any]
SOURCE_SYSTEM = "urn:hub:source:"

interaction("Patient", "create")
interaction("Patient", "update")


def _require_write(principal: Principal) -> None:
    if not principal.has(Scope.RESIDENTS_WRITE):
        raise FhirError(403, "forbidden", "Writing a Patient needs the residents:write scope.")


def _parse_patient(raw: bytes) -> Resource:
    from fhir.resources.R4B.patient import Patient  # FHIR entering the hub is validated

    body = body_json(raw)
    if not isinstance(body, dict) or body.get("resourceType") != "Patient":
        raise FhirError(400, "structure", "The body must be a Patient resource.")
    try:
        Patient.parse_obj(body)
    except (ValidationError, ValueError, TypeError) as e:
        where = e.errors()[0].get("loc") if isinstance(e, ValidationError) else ()
        raise invalid(f"Not a valid R4B Patient (at {where}).") from None
    if body.get("gender") not in (None, "male", "female", "other", "unknown"):
        raise invalid("Patient.gender is male, female, other or unknown.")
    return body


def _source_identifiers(resource: Resource) -> list[tuple[str, str]]:
    out = []
    for ident in resource.get("identifier") or []:
        system = ident.get("system") or ""
        if system.startswith(SOURCE_SYSTEM) and ident.get("value"):
            out.append((system[len(SOURCE_SYSTEM) :], str(ident["value"])))
    return out


def _business(code: str, text: str) -> FhirError:
    return FhirError(422, "processing", text, details=code)


def _record(resource: Resource, source: tuple[str, str] | None) -> ResidentRecord:
    if source is None:
        found = _source_identifiers(resource)
        if len(found) != 1:
            raise _business(
                "SOURCE_ID_REQUIRED",
                "Give exactly one Patient.identifier with system urn:hub:source:<your source "
                "key> and your system's id for this person as its value.",
            )
        source = found[0]
    key, source_id = source
    if len(source_id) > 100:
        raise invalid("The source id is at most 100 characters.")
    return ResidentRecord(source=key, source_id=source_id, **patient_fields(resource))


def _domain(e: DomainError) -> FhirError:
    if isinstance(e, Forbidden):
        return FhirError(403, "forbidden", e.message, details=e.code)
    if isinstance(e, NotFound):
        return FhirError(404, "not-found", e.message, details=e.code)
    return _business(e.code, e.message)


async def _submit(request: Request, record: ResidentRecord) -> tuple[int, bool, str]:
    """(resident id, visible, outcome) of the submitted source record."""
    hub = request.app.state.hub
    principal = request.scope["principal"]
    try:
        async with hub.db.transaction() as session:
            result = await hub.registry.submit(session, principal, record, strict=True)
            return result.resident.id, result.visible, result.outcome.value
    except DomainError as e:
        raise _domain(e) from None


async def _answer(request: Request, rid: int, visible: bool, status: int, text: str) -> Response:
    """The Patient as the hub now holds it, or only an OperationOutcome when the client may
    not see the resident the record linked to."""
    if visible:
        async with request.app.state.hub.db.reader() as session:
            ctx = context(request, session)
            rows = await search.read_rows(ctx, repo.PATIENT, [str(rid)])
            resource = (await repo.PATIENT.build(ctx, rows))[0] if rows else None
        if resource is not None:
            audit(request, "fhir.Patient.write", {rid})
            version = bundle.version_id(resource)
            resource["meta"] = {**resource.get("meta", {}), "versionId": version}
            headers = {"ETag": f'W/"{version}"', "Location": f"{base_url(request)}/Patient/{rid}"}
            return JSONResponse(resource, status_code=status, media_type=FHIR_JSON,
                                headers=headers)  # fmt: skip
    body = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "information", "code": "informational", "diagnostics": text
                   + " It is linked to a resident this client may not see."}],
    }  # fmt: skip
    return JSONResponse(body, status_code=status, media_type=FHIR_JSON)


async def _existing(request: Request, query: str) -> Response | None:
    """`If-None-Exist`: the one Patient it names (200), 412 for several, None for none."""
    items = parse_qsl(query.strip().lstrip("?"), keep_blank_values=True)
    if not items or any(k != "identifier" for k, _ in items):
        raise invalid("If-None-Exist takes identifier=system|value.")
    principal: Principal = request.scope["principal"]
    system, _, value = items[0][1].partition("|")
    async with request.app.state.hub.db.reader() as session:
        if len(items) == 1 and system.startswith(SOURCE_SYSTEM):
            key = system[len(SOURCE_SYSTEM) :]
            if not principal.is_admin and key not in principal.sources:
                raise FhirError(403, "forbidden", f"{key!r} is not this client's source.",
                                details="FORBIDDEN_SOURCE")  # fmt: skip
            src = await registry.source_record(session, key, value)
            if src is None:
                return None
            rid = await repo.merged_survivor(session, src.resident_id) or src.resident_id
            visible = await policy.may_see_resident(session, principal, rid)
        else:
            ctx = context(request, session)
            found = await search.run(ctx, repo.PATIENT, [*items, ("_count", "2")],
                                     base_url(request))  # fmt: skip
            total = found.bundle.get("total", 0)
            if total == 0:
                return None
            if total > 1:
                raise FhirError(412, "duplicate", "If-None-Exist matches several Patients.")
            rid, visible = int(found.bundle["entry"][0]["resource"]["id"]), True
    return await _answer(request, rid, visible, 200, "The Patient already exists.")


async def create(request: Request) -> Response:
    _require_write(request.scope["principal"])
    resource = _parse_patient(await request.body())
    condition = request.headers.get("if-none-exist")
    if condition:
        if (found := await _existing(request, condition)) is not None:
            return found
    rid, visible, linked = await _submit(request, _record(resource, None))
    return await _answer(request, rid, visible, 201, f"Source record stored ({linked.lower()}).")


async def update(request: Request) -> Response:
    principal: Principal = request.scope["principal"]
    _require_write(principal)
    fhir_id = request.path_params["id"]
    resource = _parse_patient(await request.body())
    if resource.get("id") not in (None, fhir_id):
        raise invalid(f"The Patient's id ({resource.get('id')}) is not the URL's ({fhir_id}).")
    async with request.app.state.hub.db.reader() as session:
        ctx = context(request, session)
        rows = await search.read_rows(ctx, repo.PATIENT, [fhir_id])
        if not rows:
            raise await _missing(ctx, repo.PATIENT, fhir_id)
        rid = rows[0].id
        given = _source_identifiers(resource)
        if len(given) > 1:
            raise _business("SOURCE_ID_REQUIRED", "Give one urn:hub:source identifier.")
        stmt = select(SourceRecord).where(SourceRecord.resident_id == rid)
        if not principal.is_admin:
            stmt = stmt.where(SourceRecord.client_id == principal.client_id)
        if given:
            stmt = stmt.where(SourceRecord.source == given[0][0],
                              SourceRecord.source_id == given[0][1])  # fmt: skip
        own = list((await session.scalars(stmt)).all())
    if len(own) != 1:
        raise _business(
            "NO_OWN_SOURCE_RECORD" if not own else "SOURCE_ID_REQUIRED",
            f"Patient/{rid} holds no source record of this client to update (create it with POST)."
            if not own
            else "Name the source record with a urn:hub:source identifier.",
        )
    rid, visible, _ = await _submit(request, _record(resource, (own[0].source, own[0].source_id)))
    return await _answer(request, rid, visible, 200, "Source record updated.")


routes = [
    Route("/fhir/Patient", fhir_endpoint(create), methods=["POST"]),
    Route("/fhir/Patient/{id}", fhir_endpoint(update), methods=["PUT"]),
]
