"""Patient/{id}/$everything and Patient/$match: the resident's whole visible record, and
the master patient index's candidates for a Patient resource (writing nothing)."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.fhir import bundle, search
from hub.fhir import repository as repo
from hub.fhir.capability import operation
from hub.fhir.errors import FhirError, invalid
from hub.fhir.params import MAX_COUNT, Clause, parse_date
from hub.fhir.resources import BuildContext
from hub.fhir.routes import _missing, audit, base_url, body_json, context, fhir_endpoint, ok
from hub.registry import repository as registry
from hub.registry import review
from hub.registry.records import ResidentRecord
from mappings import codes
from mappings.patient import patient_fields

Resource = dict[str, Any]
MATCH_GRADE = "http://hl7.org/fhir/StructureDefinition/match-grade"
# what a resident's record holds, by the reference parameter that ties it to the Patient
COMPARTMENT = (
    ("Group", "member"), ("Contract", "subject"), ("EpisodeOfCare", "patient"),
    ("ServiceRequest", "subject"), ("Task", "patient"), ("Appointment", "patient"),
    ("Immunization", "patient"), ("Encounter", "patient"), ("Observation", "patient"),
)  # fmt: skip
# the directory entries the record points at
REFERRED = {"managingOrganization", "generalPractitioner", "team", "authority", "performer"}
SINCE_PARAMS = ("_lastUpdated", "modified")
EVERYTHING_LIMIT = 1000  # per type
PIXM = "https://profiles.ihe.net/ITI/PIXm/OperationDefinition/IHE.PIXm.pix"
SOURCE_SYSTEM = "urn:hub:source:"  # a source record's id: urn:hub:source:<source key>|<id>

operation("everything", "http://hl7.org/fhir/OperationDefinition/Patient-everything", "Patient")
operation("match", "http://hl7.org/fhir/OperationDefinition/Patient-match", "Patient")
operation("ihe-pix", PIXM, "Patient")


async def _record(ctx: BuildContext, rid: int, types: set[str] | None, since: str | None
                  ) -> tuple[list[Resource], set[int]]:  # fmt: skip
    """The Patient first, then its compartment, then the directory entries it refers to."""
    patient_rows = await search.read_rows(ctx, repo.PATIENT, [str(rid)])
    if not patient_rows:
        raise await _missing(ctx, repo.PATIENT, str(rid))
    out = await repo.PATIENT.build(ctx, patient_rows)
    shown = {rid}
    for name, param in COMPARTMENT:
        td = repo.TYPES[name]
        if (types is not None and name not in types) or not search.allowed(ctx, td):
            continue
        clauses = [Clause(param, None, (f"Patient/{rid}",))]
        since_param = next((p for p in SINCE_PARAMS if p in td.params), None)
        if since and since_param:
            clauses.append(Clause(since_param, None, (f"ge{since}",)))
        rows, _ = await repo.search(ctx.session, ctx.principal, td, repo.conditions(td, clauses),
                                    sort=None, after=None, backward=False,
                                    limit=EVERYTHING_LIMIT)  # fmt: skip
        out += await td.build(ctx, rows)
        shown |= search.residents_of(td, rows)
    seen = {(r["resourceType"], r["id"]) for r in out}
    wanted: dict[str, set[str]] = {}
    for res in list(out):
        for path in REFERRED:
            for ref in search.references(res, path):
                rtype, _, fid = ref.rpartition("/")
                if (
                    rtype in ("Organization", "Practitioner", "CareTeam")
                    and (rtype, fid) not in seen
                ):
                    wanted.setdefault(rtype, set()).add(fid)
    for rtype, ids in sorted(wanted.items()):
        if types is not None and rtype not in types:
            continue
        td = repo.TYPES[rtype]
        out += await td.build(ctx, await search.read_rows(ctx, td, sorted(ids)))
    return out, shown


async def everything(request: Request) -> Response:
    rid = repo.PATIENT.key_of(request.path_params["id"])
    if rid is None:
        raise FhirError(404, "not-found", "Patient ids are numbers from 1 to 2^31-1.")
    items = list(request.query_params.multi_items())
    known = {"_since", "_type", "_count", "_cursor", "_format"}
    if unknown := sorted({k for k, _ in items} - known):
        raise FhirError(400, "not-supported", f"$everything does not take {', '.join(unknown)}.")
    params = dict(items)
    types = None
    if "_type" in params:
        types = {t for t in params["_type"].split(",") if t}
        if bad := sorted(types - set(repo.TYPES)):
            raise invalid(f"_type: no resource type {', '.join(bad)} here.")
    since = params.get("_since")
    if since is not None:
        parse_date("_since", since)  # a 400 for a bad value
    count = params.get("_count", "50")
    if not count.isdigit() or len(count) > 6 or int(count) == 0:
        raise invalid(f"_count must be a whole number from 1 to {MAX_COUNT}.")
    limit = min(int(count), MAX_COUNT)
    qhash = bundle.query_hash(items + [("id", str(rid))])
    offset = 0
    if "_cursor" in params:
        offset, _, _ = bundle.decode_cursor(params["_cursor"], "int", True, qhash)
    async with request.app.state.hub.db.reader() as session:
        ctx = context(request, session)
        search.require(ctx, repo.PATIENT)
        resources, shown = await _record(ctx, rid, types, since)
    page = resources[offset : offset + limit]
    audit(request, "fhir.Patient.$everything", shown)
    base = base_url(request)
    path = f"Patient/{rid}/$everything"
    links = [("self", bundle.page_url(base, path, items, params.get("_cursor")))]
    if offset + limit < len(resources):
        nxt = bundle.encode_cursor(offset + limit, 0, False, qhash)
        links.append(("next", bundle.page_url(base, path, items, nxt)))
    if offset > 0:
        prev = bundle.encode_cursor(max(0, offset - limit), 0, False, qhash)
        links.append(("previous", bundle.page_url(base, path, items, prev)))
    entries = [bundle.entry(base, r, "match" if r["resourceType"] == "Patient" else "include")
               for r in page]  # fmt: skip
    return ok(bundle.searchset(entries, len(resources), links))


def _match_input(body: Any) -> tuple[Resource, bool, int]:
    """(Patient, onlyCertainMatches, count) from a Parameters body (or a bare Patient)."""
    if not isinstance(body, dict):
        raise FhirError(
            400, "structure", "POST a Parameters resource with a Patient in `resource`."
        )
    if body.get("resourceType") == "Patient":
        return body, False, 10
    if body.get("resourceType") != "Parameters":
        raise FhirError(
            400, "structure", "POST a Parameters resource with a Patient in `resource`."
        )
    resource, certain, count = None, False, 10
    for p in body.get("parameter") or []:
        name = p.get("name") if isinstance(p, dict) else None
        if name == "resource":
            resource = p.get("resource")
        elif name == "onlyCertainMatches":
            if not isinstance(p.get("valueBoolean"), bool):
                raise invalid("onlyCertainMatches is a valueBoolean.")
            certain = p["valueBoolean"]
        elif name == "count":
            value = p.get("valueInteger")
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 50:
                raise invalid("count is a valueInteger from 1 to 50.")
            count = value
        else:
            raise FhirError(400, "not-supported", f"$match has no parameter {name!r}.")
    if not isinstance(resource, dict) or resource.get("resourceType") != "Patient":
        raise invalid("$match needs a Patient in the `resource` parameter.")
    return resource, certain, count


async def match(request: Request) -> Response:
    from fhir.resources.R4B.patient import Patient  # FHIR entering the hub is validated

    resource, certain, count = _match_input(body_json(await request.body()))
    try:
        Patient.parse_obj(resource)
    except (ValidationError, ValueError, TypeError) as e:
        where = e.errors()[0].get("loc") if isinstance(e, ValidationError) else ()
        raise FhirError(400, "invalid", f"Not a valid R4B Patient (at {where}).") from None
    if resource.get("gender") not in (None, "male", "female", "other", "unknown"):
        raise invalid("Patient.gender is male, female, other or unknown.")
    fields = patient_fields(resource)
    record = ResidentRecord(source="fhir-match", source_id="$match", **fields)
    hub = request.app.state.hub
    async with hub.db.reader() as session:
        ctx = context(request, session)
        found = await review.match(hub.registry, session, ctx.principal, record, count)
        if certain:
            found = [m for m in found if m.candidate.grade == "CERTAIN"]
        built = await repo.PATIENT.build(ctx, [m.resident for m in found])
    audit(request, "fhir.Patient.$match", {m.resident.id for m in found})
    base = base_url(request)
    entries = []
    for m, res in zip(found, built, strict=True):
        item = bundle.entry(base, res, "match", m.candidate.score)
        item["search"]["extension"] = [{"url": MATCH_GRADE, "valueCode": m.candidate.grade.lower()}]
        entries.append(item)
    return ok(bundle.searchset(entries, len(entries), []))


def _pix_input(items: list[tuple[str, str]]) -> tuple[str, str, list[str]]:
    """(system, value, target systems) of an ITI-83 query."""
    known = {"sourceIdentifier", "targetSystem", "_format"}
    if unknown := sorted({k for k, _ in items} - known):
        raise FhirError(400, "not-supported", f"$ihe-pix does not take {', '.join(unknown)}.")
    sources = [v for k, v in items if k == "sourceIdentifier"]
    if len(sources) != 1:
        raise invalid("$ihe-pix takes one sourceIdentifier=system|value.")
    system, _, value = sources[0].partition("|")
    if not system or not value:
        raise invalid("sourceIdentifier is system|value (both given).")
    targets = [t for k, v in items if k == "targetSystem" for t in v.split(",") if t]
    return system, value, targets


def _known_system(system: str) -> bool:
    return system in codes.IDENTIFIER_SYSTEMS.values() or (
        system.startswith(SOURCE_SYSTEM) and len(system) > len(SOURCE_SYSTEM)
    )


async def pix(request: Request) -> Response:
    """IHE PIXm (ITI-83): every identifier the hub holds for the person a sourceIdentifier
    names, as a Parameters resource (targetIdentifier, targetId). A person this client may
    not see is answered like one the hub does not know (404)."""
    system, value, targets = _pix_input(list(request.query_params.multi_items()))
    if not _known_system(system):
        raise FhirError(400, "code-invalid", "sourceIdentifier Assigning Authority not found.")
    if bad := [t for t in targets if not _known_system(t)]:
        raise FhirError(403, "code-invalid", f"targetSystem not found: {', '.join(bad)}.")
    async with request.app.state.hub.db.reader() as session:
        ctx = context(request, session)
        search.require(ctx, repo.PATIENT)
        rid: int | None = None
        if system.startswith(SOURCE_SYSTEM):
            src = await registry.source_record(session, system[len(SOURCE_SYSTEM) :], value)
            if src is not None:
                rid = await repo.merged_survivor(session, src.resident_id) or src.resident_id
        else:
            found = await search.run(ctx, repo.PATIENT,
                                     [("identifier", f"{system}|{value}"), ("_count", "2")],
                                     base_url(request))  # fmt: skip
            entries = found.bundle.get("entry", [])
            if len(entries) == 1:
                rid = int(entries[0]["resource"]["id"])
        rows = await search.read_rows(ctx, repo.PATIENT, [str(rid)]) if rid else []
        if not rows:
            raise FhirError(404, "not-found", "sourceIdentifier Patient Identifier not found.")
        patient = (await repo.PATIENT.build(ctx, rows))[0]
        sources = await registry.source_records(session, [rows[0].id])
    idents = [{"system": i["system"], "value": i["value"]}
              for i in patient.get("identifier", []) if i.get("value")]  # fmt: skip
    idents += [{"system": f"{SOURCE_SYSTEM}{s.source}", "value": s.source_id}
               for s in sources if not s.source_id.startswith("$")]  # fmt: skip
    if targets:
        idents = [i for i in idents if i["system"] in targets]
    seen: set[tuple[str, str]] = set()
    params: list[Resource] = []
    for i in idents:
        if (i["system"], i["value"]) not in seen:
            seen.add((i["system"], i["value"]))
            params.append({"name": "targetIdentifier", "valueIdentifier": i})
    params.append({"name": "targetId", "valueReference": {"reference": f"Patient/{patient['id']}"}})
    audit(request, "fhir.Patient.$ihe-pix", {rows[0].id})
    return ok({"resourceType": "Parameters", "parameter": params})


routes = [
    Route("/fhir/Patient/$ihe-pix", fhir_endpoint(pix), methods=["GET"]),
    Route("/fhir/Patient/$match", fhir_endpoint(match), methods=["POST"]),
    Route("/fhir/Patient/{id}/$everything", fhir_endpoint(everything), methods=["GET"]),
]
