"""The static cost of a GraphQL operation, and the per-client budgets it is charged to.

Cost, computed from the document before anything executes: every selected field costs 1
(or its weight in :data:`FIELD_WEIGHTS`), and what is selected under a field that pages
(it takes ``first``) is counted once per row it may return — ``first`` as given (a literal
or a variable), else the default page size, at most ``max_page_size``; under a list that
does not page, :data:`LIST_ESTIMATE` times. So
``residents(first: 100) { edges { node { id name } } }`` costs 1 + 100 × (1 + 1 + 2) = 401.
Fragments are expanded where they are spread.

:class:`CostBudget`, a schema extension, then — still before execution —
refuses introspection to a client without it (``INTROSPECTION_DISABLED``), refuses an
operation over the per-request maximum (``QUERY_TOO_COSTLY``, with its ``cost`` and the
``maximum``), and charges the client's cost budget (over it: ``COST_LIMIT``, HTTP 429 with
``Retry-After``). Every response carries ``extensions.cost``
``{requested, remaining, resetAt}`` (``remaining``/``resetAt`` null for an unlimited client).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncIterator
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLNamedType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    is_list_type,
    is_non_null_type,
)
from graphql import ExecutionResult as GraphQLExecutionResult
from strawberry.extensions import SchemaExtension

from hub.access.budgets import COST, Charge, budgets_of, cost_of, introspection_allowed

DEFAULT_PAGE = 20  # what a connection returns without `first` (schema.context.page_size)
LIST_ESTIMATE = 3  # rows assumed for a list that does not page (identifiers, contracts...)
# Fields dearer than 1 to resolve (as data): a FHIR resource is built and serialised.
FIELD_WEIGHTS: dict[str, int] = {"fhir": 10, "provenance": 5, "everything": 20}
INTROSPECTION_FIELDS = frozenset({"__schema", "__type"})


class _Walk:
    def __init__(self, schema: GraphQLSchema, document: DocumentNode,
                 variables: dict[str, Any], max_page: int) -> None:  # fmt: skip
        self.schema, self.variables, self.max_page = schema, variables, max_page
        self.fragments = {d.name.value: d for d in document.definitions
                          if isinstance(d, FragmentDefinitionNode)}  # fmt: skip
        self.introspects = False

    def page(self, node: FieldNode, field_def: Any, parent: Any) -> int:
        """Rows a field may return: its `first`, or the default page; a list that does not
        page, LIST_ESTIMATE (a connection's edges: 1, its `first` counted them); else 1."""
        if field_def is None:
            return 1
        if "first" not in field_def.args:
            if getattr(parent, "name", "").endswith("Connection"):
                return 1
            inner = field_def.type.of_type if is_non_null_type(field_def.type) else field_def.type
            return LIST_ESTIMATE if is_list_type(inner) else 1
        given: Any = None
        for argument in node.arguments or ():
            if argument.name.value == "first":
                value = argument.value
                if isinstance(value, IntValueNode):
                    given = int(value.value)
                elif isinstance(value, VariableNode):
                    given = self.variables.get(value.name.value)
        if not isinstance(given, int) or isinstance(given, bool):
            given = min(DEFAULT_PAGE, self.max_page)
        return int(max(0, min(given, self.max_page)))

    def cost(self, selection_set: SelectionSetNode | None, parent: GraphQLNamedType | None,
             seen: frozenset[str] = frozenset()) -> int:  # fmt: skip
        if selection_set is None:
            return 0
        total = 0
        for node in selection_set.selections:
            if isinstance(node, FieldNode):
                name = node.name.value
                if name in INTROSPECTION_FIELDS:
                    self.introspects = True
                field_def = getattr(parent, "fields", {}).get(name)  # object or interface
                child = get_named_type(field_def.type) if field_def is not None else None
                rows = self.page(node, field_def, parent)
                total += FIELD_WEIGHTS.get(name, 1) + rows * self.cost(node.selection_set, child,
                                                                       seen)  # fmt: skip
            elif isinstance(node, InlineFragmentNode):
                condition = node.type_condition
                inner = self.schema.get_type(condition.name.value) if condition else parent
                total += self.cost(node.selection_set, inner, seen)
            elif isinstance(node, FragmentSpreadNode):
                fragment = self.fragments.get(node.name.value)
                if fragment is not None and fragment.name.value not in seen:
                    inner = self.schema.get_type(fragment.type_condition.name.value)
                    total += self.cost(fragment.selection_set, inner,
                                       seen | {fragment.name.value})  # fmt: skip
        return total


def operation_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None = None,
    variables: dict[str, Any] | None = None,
    *,
    max_page: int = 100,
) -> tuple[int, bool]:
    """(cost, whether it introspects) of the operation that would run."""
    walk = _Walk(schema, document, variables or {}, max_page)
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [o for o in operations if operation_name is None or
              (o.name is not None and o.name.value == operation_name)][:1]  # fmt: skip
    total = 0
    for operation in chosen:
        root = {OperationType.QUERY: schema.query_type,
                OperationType.MUTATION: schema.mutation_type,
                OperationType.SUBSCRIPTION: schema.subscription_type}[operation.operation]
        total += walk.cost(operation.selection_set, root)
    return total, walk.introspects


_COSTS: OrderedDict[tuple[Any, ...], tuple[int, bool]] = OrderedDict()


def _cached_cost(ctx: Any, max_page: int) -> tuple[int, bool]:
    """operation_cost, cached by document text, operation and the integer variables (only
    `first` can change a cost): the same query from many requests is walked once."""
    variables = ctx.variables or {}
    ints = tuple(sorted((k, v) for k, v in variables.items() if isinstance(v, int)))
    key = (ctx.query, ctx.operation_name, ints, max_page)
    found = _COSTS.get(key) if ctx.query else None
    if found is None:
        found = operation_cost(ctx.schema._schema, ctx.graphql_document, ctx.operation_name,
                               variables, max_page=max_page)  # fmt: skip
        if ctx.query:
            _COSTS[key] = found
            if len(_COSTS) > 1024:
                _COSTS.popitem(last=False)
    return found


def _refuse(message: str, **extensions: Any) -> GraphQLExecutionResult:
    return GraphQLExecutionResult(data=None,
                                  errors=[GraphQLError(message, extensions=extensions)])


class CostBudget(SchemaExtension):
    """Introspection switch, per-request maximum and per-client cost budget (see module)."""

    def __init__(self) -> None:
        self.requested = 0
        self.charge: Charge | None = None
        self.per_minute = 0

    async def on_execute(self) -> AsyncIterator[None]:
        ctx = self.execution_context
        context = ctx.context
        hub: Any = getattr(context, "hub", None)
        principal: Any = getattr(context, "principal", None)
        if ctx.result is not None or ctx.graphql_document is None or hub is None:
            yield
            return
        settings = hub.settings
        self.per_minute = cost_of(principal, settings)
        cost, introspects = _cached_cost(ctx, settings.max_page_size)
        self.requested = cost
        maximum = settings.max_query_cost
        if self.per_minute:
            maximum = min(maximum, self.per_minute)
        if introspects and not introspection_allowed(principal, settings):
            ctx.result = _refuse("Introspection is off for this client.",
                                 code="INTROSPECTION_DISABLED")  # fmt: skip
        elif maximum and cost > maximum:
            ctx.result = _refuse(
                f"This operation costs {cost}; at most {maximum} is allowed per request. Ask "
                "for fewer rows (first:) or fields.", code="QUERY_TOO_COSTLY", cost=cost,
                maximum=maximum)  # fmt: skip
        elif self.per_minute and principal.client_id is not None:
            self.charge = await budgets_of(hub).charge(principal.client_id, COST, cost,
                                                       self.per_minute)  # fmt: skip
            if not self.charge.allowed:
                wait = self.charge.retry_after
                ctx.result = _refuse(
                    f"The client's query-cost budget ({self.per_minute}/min) is spent; retry "
                    f"in {wait} s.", code="COST_LIMIT", cost=cost, retryAfter=wait)  # fmt: skip
                response = getattr(context, "response", None)
                if response is not None and hasattr(response, "headers"):
                    response.status_code = 429
                    response.headers["Retry-After"] = str(wait)
        yield

    def get_results(self) -> dict[str, Any]:
        ctx = self.execution_context
        context = ctx.context
        hub, principal = getattr(context, "hub", None), getattr(context, "principal", None)
        charge = self.charge
        if charge is None and hub is not None and principal is not None:
            per_minute = self.per_minute or cost_of(principal, hub.settings)
            if per_minute and principal.client_id is not None:
                charge = budgets_of(hub).peek(principal.client_id, COST, per_minute)
        return {"cost": cost_extension(self.requested, charge)}


def cost_extension(requested: int, charge: Charge | None) -> dict[str, Any]:
    """``extensions.cost`` of a response."""
    return {"requested": requested,
            "remaining": None if charge is None else max(0, charge.remaining),
            "resetAt": None if charge is None else charge.reset_at}  # fmt: skip
