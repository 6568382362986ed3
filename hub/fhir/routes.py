"""/fhir over HTTP: read, search, the CapabilityStatement and the operations, with the
same token, scopes, masking and audit as GraphQL. Thin: parse, call, respond."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.access import policy
from hub.access.principal import Scope
from hub.errors import DomainError
from hub.fhir import bundle, search
from hub.fhir import repository as repo
from hub.fhir.capability import capability_statement
from hub.fhir.errors import FHIR_JSON, FhirError, outcome
from hub.fhir.resources import BuildContext

Handler = Callable[[Request], Awaitable[Response]]
FORMATS = {"json", "application/json", "application/fhir+json"}


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/fhir"


def ok(resource: dict[str, Any], status: int = 200, **headers: str) -> JSONResponse:
    return JSONResponse(resource, status_code=status, media_type=FHIR_JSON, headers=headers or None)


def fhir_endpoint(handler: Handler) -> Handler:
    """Every error the FHIR way: an OperationOutcome with a 4xx, never a trace."""

    async def endpoint(request: Request) -> Response:
        fmt = request.query_params.get("_format")
        if fmt is not None and fmt not in FORMATS:
            return outcome(406, "not-supported", "This server speaks JSON (_format=json).")
        try:
            return await handler(request)
        except FhirError as e:
            return outcome(e.status, e.code, e.text, e.details)
        except DomainError as e:
            if e.code == "MISSING_SCOPE":
                return outcome(403, "forbidden", e.message)
            if e.code == "NOT_FOUND":
                return outcome(404, "not-found", e.message)
            return outcome(400, "invalid", e.message)

    return endpoint


def context(request: Request, session: Any) -> BuildContext:
    principal = request.scope["principal"]
    return BuildContext(session, principal, mask=not principal.has(Scope.RESIDENTS_PII))


def audit(request: Request, operation: str, residents: set[int]) -> None:
    if residents:
        request.app.state.hub.audit.add(
            request.scope["principal"], "READ", operation, sorted(residents)
        )


async def metadata(request: Request) -> Response:
    from hub.access.oauth_routes import capability_security

    statement = capability_statement()
    for rest in statement["rest"]:  # SMART on FHIR: where resident apps get their tokens
        rest["security"] = capability_security(str(request.base_url).rstrip("/"))
    return ok(statement)


async def search_type(request: Request) -> Response:
    td = search.type_def(request.path_params["type"])
    items = list(request.query_params.multi_items())
    if request.method == "POST":  # POST {type}/_search: the parameters in a form body
        items += await _form_items(request)
    lenient = "handling=lenient" in request.headers.get("prefer", "")
    async with request.app.state.hub.db.reader() as session:
        found = await search.run(context(request, session), td, items, base_url(request),
                                 lenient=lenient)  # fmt: skip
    audit(request, f"fhir.{td.name}.search", found.residents)
    return ok(found.bundle)


async def _form_items(request: Request) -> list[tuple[str, str]]:
    kind = request.headers.get("content-type", "").split(";")[0].strip()
    body = await request.body()
    if not body:
        return []
    if kind != "application/x-www-form-urlencoded":
        raise FhirError(415, "not-supported", "POST _search takes a form body.")
    try:
        return parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=True)
    except (UnicodeDecodeError, ValueError):
        raise FhirError(400, "structure", "The form body is not URL-encoded UTF-8.") from None


async def read(request: Request) -> Response:
    td = search.type_def(request.path_params["type"])
    fhir_id = request.path_params["id"]
    async with request.app.state.hub.db.reader() as session:
        ctx = context(request, session)
        search.require(ctx, td)
        rows = await search.read_rows(ctx, td, [fhir_id])
        if not rows:
            raise await _missing(ctx, td, fhir_id)
        resource = (await td.build(ctx, rows))[0]
    audit(request, f"fhir.{td.name}.read", search.residents_of(td, rows))
    if elements := request.query_params.get("_elements"):
        resource = bundle.subset(resource, tuple(e.strip() for e in elements.split(",") if e))
    version = bundle.version_id(resource)
    resource["meta"] = {**resource.get("meta", {}), "versionId": version}
    etag = f'W/"{version}"'
    if etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers={"ETag": etag})
    return ok(resource, ETag=etag)


async def _missing(ctx: BuildContext, td: repo.TypeDef, fhir_id: str) -> FhirError:
    """404, or 410 for a merged Patient the client may see (pointing at the survivor)."""
    key = td.key_of(fhir_id)
    if (
        td is repo.PATIENT
        and key is not None
        and await policy.may_see_resident(ctx.session, ctx.principal, key)
    ):
        survivor = await repo.merged_survivor(ctx.session, key)
        if survivor is not None:
            return FhirError(410, "deleted", f"Patient/{key} was merged into Patient/{survivor}.")
    return FhirError(404, "not-found", f"{td.name}/{fhir_id} is not known or not visible.")


async def not_found(request: Request) -> Response:
    return outcome(404, "not-supported", f"No FHIR interaction at {request.url.path}.")


def body_json(raw: bytes) -> Any:
    try:
        return json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError):
        raise FhirError(400, "structure", "The body is not JSON.") from None


routes: list[Route] = [
    Route("/fhir/metadata", fhir_endpoint(metadata)),
]
# operations register before the generic /{type}/{id} routes (see hub.fhir.operations)
tail: list[Route] = [
    Route("/fhir/{type}", fhir_endpoint(search_type), methods=["GET"]),
    Route("/fhir/{type}/_search", fhir_endpoint(search_type), methods=["POST"]),
    Route("/fhir/{type}/{id}", fhir_endpoint(read), methods=["GET"]),
]
