"""The FHIR specification's GraphQL (https://hl7.org/fhir/R4B/graphql.html), a subset:
`POST/GET /fhir/$graphql` and `/fhir/{type}/{id}/$graphql`.

The schema is generated from the fhir.resources R4B models of the types the REST facade
serves (so a field's shape is the resource's), with the spec's root fields `{Type}(id:)`,
`{Type}List(search params)` and `{Type}Connection(…)` (count, offset, pagesize,
first/previous/next/last cursors, edges { mode score resource }), `resource` on every
Reference, and reverse lists `{Type}List(_reference: param)` on each resource. Every
resolver goes through `hub.fhir.search` — the same policy, masking and audit as REST.
Directives: @skip, @include, and the spec's @first, @singleton and @flatten (applied to the
result after execution); not @slice."""

from __future__ import annotations

import datetime as dt
import decimal
import functools
import typing
from typing import Any
from urllib.parse import parse_qs, urlparse

from graphql import (
    GraphQLArgument,
    GraphQLBoolean,
    GraphQLField,
    GraphQLFloat,
    GraphQLID,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLSchema,
    GraphQLString,
    GraphQLUnionType,
    graphql,
)

from hub.fhir import repository as repo
from hub.fhir import search
from hub.fhir.errors import FhirError
from hub.fhir.resources import BuildContext

MAX_DEPTH = 12
Info = GraphQLResolveInfo  # graphql-core 3.3 makes it generic; annotations only


class Context:
    def __init__(self, ctx: BuildContext, base: str) -> None:
        self.ctx, self.base = ctx, base
        self.residents: set[int] = set()


def _model(name: str) -> Any:
    from fhir.resources.R4B import get_fhir_model_class

    return get_fhir_model_class(name)


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """(innermost type, is a list) of Optional[List[Annotated[X, …]]] and friends."""
    is_list = False
    while True:
        origin = typing.get_origin(annotation)
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
            lists = [a for a in args if typing.get_origin(a) in (list, typing.List)]  # noqa: UP006
            annotation = lists[0] if lists else args[0]
        elif origin in (list, typing.List):  # noqa: UP006
            is_list, annotation = True, args[0]
        elif origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        else:
            return annotation, is_list


class SchemaBuilder:
    def __init__(self) -> None:
        self.objects: dict[str, GraphQLObjectType] = {}
        self.resource_union = GraphQLUnionType(
            "Resource", lambda: [self.object(n) for n in repo.TYPES],
            resolve_type=lambda value, *_: value.get("resourceType"),
        )  # fmt: skip

    def _scalar(self, t: Any) -> GraphQLOutputType | None:
        if t is bool:
            return GraphQLBoolean
        if t is int:
            return GraphQLInt
        if t in (float, decimal.Decimal):
            return GraphQLFloat
        if (
            t in (str, bytes, dt.date, dt.datetime, dt.time)
            or isinstance(t, type)
            and issubclass(t, str)
        ):
            return GraphQLString
        return None

    def object(self, name: str) -> GraphQLObjectType:
        if name not in self.objects:
            self.objects[name] = GraphQLObjectType(name, functools.partial(self._fields, name))
        return self.objects[name]

    def _fields(self, name: str) -> dict[str, GraphQLField]:
        model = _model(name)
        out: dict[str, GraphQLField] = {}
        for key, info in model.model_fields.items():
            alias = info.alias or key
            if key == "fhir_comments" or key.endswith("__ext") or alias in ("contained",):
                continue
            inner, is_list = _unwrap(info.annotation)
            gtype = self._scalar(inner)
            if gtype is None:
                tname = getattr(inner, "__name__", "")
                if not tname.endswith("Type") or tname in ("ResourceType",):
                    continue
                gtype = self.object(tname[: -len("Type")])
            out[alias] = GraphQLField(GraphQLList(gtype) if is_list else gtype)
        if name == "Reference":
            out["resource"] = GraphQLField(self.resource_union, resolve=_resolve_reference)
        if name in repo.TYPES:
            out.update(self._reverse_lists(name))
        return out

    def search_args(self, td: repo.TypeDef) -> dict[str, GraphQLArgument]:
        args = {p.replace("-", "_"): GraphQLArgument(GraphQLString) for p in td.params}
        args.update(
            _count=GraphQLArgument(GraphQLInt), _cursor=GraphQLArgument(GraphQLString),
            _sort=GraphQLArgument(GraphQLString),
        )  # fmt: skip
        return args

    def _reverse_lists(self, target: str) -> dict[str, GraphQLField]:
        out = {}
        for source in repo.TYPES.values():
            refs = [n for n, p in source.params.items() if p.type == "reference"
                    and target in p.targets]  # fmt: skip
            if refs:
                args = self.search_args(source)
                args["_reference"] = GraphQLArgument(GraphQLNonNull(GraphQLString))
                out[f"{source.name}List"] = GraphQLField(
                    GraphQLList(self.object(source.name)), args,
                    resolve=functools.partial(_reverse, source, refs),
                )  # fmt: skip
        return out

    def connection(self, td: repo.TypeDef) -> GraphQLObjectType:
        edge = GraphQLObjectType(f"{td.name}Edge", {
            "mode": GraphQLField(GraphQLString), "score": GraphQLField(GraphQLFloat),
            "resource": GraphQLField(self.object(td.name)),
        })  # fmt: skip
        fields = {k: GraphQLField(GraphQLInt) for k in ("count", "offset", "pagesize")}
        fields |= {k: GraphQLField(GraphQLString) for k in ("first", "previous", "next", "last")}
        fields["edges"] = GraphQLField(GraphQLList(edge))
        return GraphQLObjectType(f"{td.name}Connection", fields)

    def query(self) -> GraphQLObjectType:
        fields: dict[str, GraphQLField] = {}
        for td in repo.TYPES.values():
            fields[td.name] = GraphQLField(
                self.object(td.name), {"id": GraphQLArgument(GraphQLNonNull(GraphQLID))},
                resolve=functools.partial(_read, td),
            )  # fmt: skip
            fields[f"{td.name}List"] = GraphQLField(
                GraphQLList(self.object(td.name)), self.search_args(td),
                resolve=functools.partial(_list, td),
            )  # fmt: skip
            fields[f"{td.name}Connection"] = GraphQLField(
                self.connection(td), self.search_args(td),
                resolve=functools.partial(_connection, td),
            )  # fmt: skip
        return GraphQLObjectType("Query", fields)


SHAPING = ("first", "singleton", "flatten")


def _directives() -> list[Any]:
    from graphql import DirectiveLocation, GraphQLDirective, specified_directives

    shaping = [GraphQLDirective(n, [DirectiveLocation.FIELD]) for n in SHAPING]
    return [*specified_directives, *shaping]


@functools.cache
def system_schema() -> GraphQLSchema:
    return GraphQLSchema(_builder().query(), directives=_directives())


@functools.cache
def instance_schema(type_name: str) -> GraphQLSchema:
    b = _builder()
    return GraphQLSchema(
        b.object(type_name), types=list(b.objects.values()), directives=_directives()
    )


def _selections(selection_set: Any, data: dict[str, Any], fragments: dict[str, Any]) -> list[Any]:
    """The field nodes under a selection set, fragments expanded."""
    from graphql.language import FieldNode, FragmentSpreadNode, InlineFragmentNode

    out: list[Any] = []
    for sel in selection_set.selections:
        if isinstance(sel, FieldNode):
            out.append(sel)
        elif isinstance(sel, FragmentSpreadNode) and sel.name.value in fragments:
            out += _selections(fragments[sel.name.value].selection_set, data, fragments)
        elif isinstance(sel, InlineFragmentNode):
            # the executor applied the type condition: fields it did not run are absent
            out += _selections(sel.selection_set, data, fragments)
    return out


def shape(selection_set: Any, data: Any, fragments: dict[str, Any]) -> Any:
    """Apply @first (a list's first item), @singleton (a list of at most one as that item)
    and @flatten (the field's children in place of the field) to an executed result."""
    if isinstance(data, list):
        return [shape(selection_set, d, fragments) for d in data]
    if not isinstance(data, dict) or selection_set is None:
        return data
    out: dict[str, Any] = {}
    for field in _selections(selection_set, data, fragments):
        key = field.alias.value if field.alias else field.name.value
        if key not in data:
            continue
        value = shape(field.selection_set, data[key], fragments)
        names = {d.name.value for d in field.directives or ()}
        if names & {"first", "singleton"} and isinstance(value, list):
            if "singleton" in names and len(value) > 1:
                raise FhirError(400, "invalid", f"@singleton on {key}: it has {len(value)} items.")
            value = value[0] if value else None
        items = value if isinstance(value, list) else [value]
        if "flatten" in names and all(isinstance(i, dict) for i in items):
            for item in items:
                for k, v in item.items():
                    if k in out and isinstance(value, list):
                        prev = out[k] if isinstance(out[k], list) else [out[k]]
                        out[k] = prev + (v if isinstance(v, list) else [v])
                    else:
                        out[k] = v
        else:
            out[key] = value
    return out


@functools.cache
def _builder() -> SchemaBuilder:
    return SchemaBuilder()


# -- resolvers ---------------------------------------------------------------------------------


def _items(args: dict[str, Any]) -> list[tuple[str, str]]:
    names: dict[str, str] = {}
    for td in repo.TYPES.values():
        names |= {p.replace("-", "_"): p for p in td.params}
    return [(names.get(k, k), str(v)) for k, v in args.items() if v is not None]


async def _run(info: Info, td: repo.TypeDef, items: list[tuple[str, str]]) -> Any:
    c: Context = info.context
    found = await search.run(c.ctx, td, items, c.base)
    c.residents |= found.residents
    return found.bundle


async def read_one(c: Context, td: repo.TypeDef, fhir_id: str) -> dict[str, Any] | None:
    search.require(c.ctx, td)
    rows = await search.read_rows(c.ctx, td, [fhir_id])
    if not rows:
        return None
    c.residents |= search.residents_of(td, rows)
    built: list[dict[str, Any]] = await td.build(c.ctx, rows)
    return built[0]


async def _read(td: repo.TypeDef, root: Any, info: Info, id: str) -> Any:
    return await read_one(info.context, td, id)


async def _list(td: repo.TypeDef, root: Any, info: Info, **args: Any) -> Any:
    found = await _run(info, td, _items(args))
    return [e["resource"] for e in found.get("entry", []) if e["search"]["mode"] == "match"]


def _cursor(bundle: dict[str, Any], relation: str) -> str | None:
    for link in bundle.get("link", []):
        if link["relation"] == relation:
            found: list[str] = parse_qs(urlparse(link["url"]).query).get("_cursor", [])
            return found[0] if found else None
    return None


async def _connection(td: repo.TypeDef, root: Any, info: Info, **args: Any) -> Any:
    found = await _run(info, td, _items(args))
    entries = found.get("entry", [])
    return {
        "count": found.get("total"), "offset": None, "pagesize": len(entries),
        "first": None, "last": None,
        "previous": _cursor(found, "previous"), "next": _cursor(found, "next"),
        "edges": [{"mode": e["search"]["mode"], "score": e["search"].get("score"),
                   "resource": e["resource"]} for e in entries],
    }  # fmt: skip


async def _reverse(
    source: repo.TypeDef, refs: list[str], root: Any, info: Info, **args: Any
) -> Any:
    param = args.pop("_reference")
    if param not in refs:
        raise FhirError(400, "invalid", f"_reference is one of {', '.join(refs)}.")
    if not search.allowed(info.context.ctx, source):
        return []
    items = [(param, f"{root['resourceType']}/{root['id']}"), *_items(args)]
    found = await _run(info, source, items)
    return [e["resource"] for e in found.get("entry", []) if e["search"]["mode"] == "match"]


async def _resolve_reference(root: Any, info: Info) -> Any:
    ref = root.get("reference") if isinstance(root, dict) else None
    if not isinstance(ref, str) or "/" not in ref:
        return None
    rtype, _, fid = ref.rpartition("/")
    td = repo.TYPES.get(rtype.rpartition("/")[2])
    if td is None or not search.allowed(info.context.ctx, td):
        return None
    return await read_one(info.context, td, fid)


def _depth(document: Any) -> int:
    from graphql.language import FieldNode, OperationDefinitionNode

    def walk(node: Any, d: int) -> int:
        sel = getattr(node, "selection_set", None)
        if sel is None:
            return d
        return max((walk(s, d + isinstance(s, FieldNode)) for s in sel.selections), default=d)

    return max((walk(o, 0) for o in document.definitions
                if isinstance(o, OperationDefinitionNode)), default=0)  # fmt: skip


async def execute(
    c: Context, query: str, variables: dict[str, Any] | None, root: Any = None,
    type_name: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    from graphql import parse
    from graphql.error import GraphQLSyntaxError

    try:
        document = parse(query, max_tokens=5000)
    except GraphQLSyntaxError as e:
        raise FhirError(400, "invalid", f"GraphQL syntax: {e.message}") from None
    if _depth(document) > MAX_DEPTH:
        raise FhirError(400, "too-costly", f"The query nests deeper than {MAX_DEPTH} fields.")
    schema = instance_schema(type_name) if type_name else system_schema()
    result = await graphql(schema, query, root_value=root, context_value=c,
                           variable_values=variables)  # fmt: skip
    data = result.data
    if data is not None:
        from graphql.language import FragmentDefinitionNode, OperationDefinitionNode

        fragments = {d.name.value: d for d in document.definitions
                     if isinstance(d, FragmentDefinitionNode)}  # fmt: skip
        ops = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        if len(ops) == 1:
            data = shape(ops[0].selection_set, data, fragments)
    out: dict[str, Any] = {"data": data}
    if result.errors:
        nothing = not any(v is not None for v in (result.data or {}).values())
        for err in result.errors:
            if isinstance(err.original_error, FhirError) and nothing:
                raise err.original_error
        out["errors"] = [
            {"message": err.message, "path": err.path}
            for err in result.errors
            if err.original_error is None or isinstance(err.original_error, FhirError)
        ]
        if len(out["errors"]) != len(result.errors):
            out["errors"].append({"message": "An internal error occurred."})
    return out


# -- routes ------------------------------------------------------------------------------------


async def _request_query(request: Any) -> tuple[str, dict[str, Any] | None]:
    from hub.fhir.routes import body_json

    if request.method == "GET":
        query, variables = request.query_params.get("query"), None
    else:
        body = body_json(await request.body())
        if not isinstance(body, dict):
            raise FhirError(400, "structure", 'POST {"query": "...", "variables": {...}}.')
        query, variables = body.get("query"), body.get("variables")
    if not isinstance(query, str) or not query.strip():
        raise FhirError(400, "required", "Give the GraphQL document as `query`.")
    if variables is not None and not isinstance(variables, dict):
        raise FhirError(400, "structure", "`variables` is an object.")
    return query, variables


async def system_endpoint(request: Any) -> Any:
    from starlette.responses import JSONResponse

    from hub.fhir.routes import audit, base_url, context

    query, variables = await _request_query(request)
    async with request.app.state.hub.db.reader() as session:
        c = Context(context(request, session), base_url(request))
        out = await execute(c, query, variables)
    audit(request, "fhir.$graphql", c.residents)
    return JSONResponse(out)


async def instance_endpoint(request: Any) -> Any:
    from starlette.responses import JSONResponse

    from hub.fhir.routes import _missing, audit, base_url, context

    td = search.type_def(request.path_params["type"])
    query, variables = await _request_query(request)
    async with request.app.state.hub.db.reader() as session:
        c = Context(context(request, session), base_url(request))
        root = await read_one(c, td, request.path_params["id"])
        if root is None:
            raise await _missing(c.ctx, td, request.path_params["id"])
        out = await execute(c, query, variables, root=root, type_name=td.name)
    audit(request, f"fhir.{td.name}.$graphql", c.residents)
    return JSONResponse(out)


def routes() -> list[Any]:
    from starlette.routing import Route

    from hub.fhir.capability import operation
    from hub.fhir.routes import fhir_endpoint

    operation("graphql", "http://hl7.org/fhir/OperationDefinition/Resource-graphql", None)
    for name in repo.TYPES:
        operation("graphql", "http://hl7.org/fhir/OperationDefinition/Resource-graphql", name)
    return [
        Route("/fhir/$graphql", fhir_endpoint(system_endpoint), methods=["GET", "POST"]),
        Route(
            "/fhir/{type}/{id}/$graphql", fhir_endpoint(instance_endpoint), methods=["GET", "POST"]
        ),  # fmt: skip
    ]
