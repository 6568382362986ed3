"""GraphQL input limits: string lengths per input field, aliases, root fields.

* Every input string — a literal in the document or a variable's value, however deep in
  input objects and lists — is at most the limit of the field it is given for
  (:data:`FIELD_LIMITS`, else ``max_string_length``): ``INPUT_TOO_LONG`` naming the
  field. Variables are walked with an explicit stack (no recursion).
* At most ``max_aliases`` aliased fields per document (fragments counted once each) and
  ``max_root_fields`` top-level fields per operation: ``TOO_MANY_ALIASES``,
  ``TOO_MANY_ROOT_FIELDS``.

The errors carry ``extensions.code``; the message never repeats the value.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from functools import partial
from typing import Any

from graphql import (
    ArgumentNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    ListValueNode,
    ObjectFieldNode,
    ObjectValueNode,
    OperationDefinitionNode,
    StringValueNode,
    ValidationContext,
    ValidationRule,
    ValueNode,
    VariableDefinitionNode,
    VariableNode,
)
from graphql import ExecutionResult as GraphQLExecutionResult
from strawberry.extensions import AddValidationRules, SchemaExtension

# Input field (or argument) name → most characters. Others: max_string_length.
FIELD_LIMITS: dict[str, int] = {
    "name": 64,
    "guardianName": 64,
    "nameEn": 128,
    "idNumber": 32,
    "motherIdNumber": 32,
    "phone": 32,
    "guardianPhone": 32,
    "address": 200,
    "sourceId": 64,
    "source": 64,
    "note": 1000,
    "reason": 1000,
    "value": 64,  # residentByIdentifier(value:)
    "after": 512,  # a cursor
    "contentBase64": 2_000_000,  # an uploaded list (importLowIncomeList); the body limit holds
}
ID_LIMIT = 512  # `id`, `…Id`, `…Ids`: global ids


def field_limit(name: str, default: int) -> int:
    if name in FIELD_LIMITS:
        return FIELD_LIMITS[name]
    if name == "id" or name.endswith(("Id", "Ids", "_id")):
        return min(ID_LIMIT, default)
    return default


def too_long(field: str, limit: int, nodes: Any = None) -> GraphQLError:
    return GraphQLError(
        f"'{field}' is longer than {limit} characters.",
        nodes=nodes,
        extensions={"code": "INPUT_TOO_LONG", "field": field},
    )


def _strings(value: ValueNode) -> Iterator[tuple[str | None, StringValueNode]]:
    """String literals in a value: (the input field holding it, or None, the node)."""
    stack: list[tuple[str | None, ValueNode]] = [(None, value)]
    while stack:
        name, node = stack.pop()
        if isinstance(node, StringValueNode):
            yield name, node
        elif isinstance(node, ListValueNode):
            stack.extend((name, item) for item in node.values)
        elif isinstance(node, ObjectValueNode):
            stack.extend((f.name.value, f.value) for f in node.fields)


def literal_strings_rule(default: int) -> type[ValidationRule]:
    class LiteralStringLength(ValidationRule):
        """String literals in arguments and variable defaults."""

        def _check(self, name: str, value: ValueNode) -> None:
            for inner, node in _strings(value):
                field = inner or name
                limit = field_limit(field, default)
                if len(node.value) > limit:
                    self.report_error(too_long(field, limit, node))

        def enter_argument(self, node: ArgumentNode, *_: Any) -> None:
            self._check(node.name.value, node.value)

        def enter_variable_definition(self, node: VariableDefinitionNode, *_: Any) -> None:
            if node.default_value is not None:
                self._check(node.variable.name.value, node.default_value)

    return LiteralStringLength


def _selections(owner: Any, fragments: dict[str, FragmentDefinitionNode]) -> Iterator[FieldNode]:
    """Fields of a selection set, through inline fragments and spreads (each spread once)."""
    seen: set[str] = set()
    stack = list(owner.selection_set.selections) if owner.selection_set else []
    while stack:
        node = stack.pop()
        if isinstance(node, FieldNode):
            yield node
        elif isinstance(node, InlineFragmentNode):
            stack.extend(node.selection_set.selections)
        elif isinstance(node, FragmentSpreadNode) and node.name.value not in seen:
            seen.add(node.name.value)
            fragment = fragments.get(node.name.value)
            if fragment is not None:
                stack.extend(fragment.selection_set.selections)


def _aliases(document: DocumentNode) -> int:
    """Aliased fields anywhere in the document, each definition counted once."""
    count, stack = (
        0,
        [
            d
            for d in document.definitions
            if isinstance(d, (OperationDefinitionNode, FragmentDefinitionNode))
        ],
    )
    while stack:
        node = stack.pop()
        if isinstance(node, FieldNode) and node.alias is not None:
            count += 1
        selection_set = getattr(node, "selection_set", None)
        if selection_set is not None:
            stack.extend(selection_set.selections)
    return count


def shape_rule(max_aliases: int, max_root_fields: int) -> type[ValidationRule]:
    class OperationShape(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            document = context.document
            aliases = _aliases(document)
            if aliases > max_aliases:
                context.report_error(
                    GraphQLError(
                        f"{aliases} aliased fields; at most {max_aliases} are allowed.",
                        extensions={"code": "TOO_MANY_ALIASES"},
                    )
                )
            fragments = {
                d.name.value: d
                for d in document.definitions
                if isinstance(d, FragmentDefinitionNode)
            }
            for definition in document.definitions:
                if isinstance(definition, OperationDefinitionNode):
                    roots = sum(1 for _ in _selections(definition, fragments))
                    if roots > max_root_fields:
                        context.report_error(
                            GraphQLError(
                                f"{roots} top-level fields; at most {max_root_fields} are allowed.",
                                nodes=[definition],
                                extensions={"code": "TOO_MANY_ROOT_FIELDS"},
                            )
                        )

    return OperationShape


def _variable_fields(document: DocumentNode) -> dict[str, set[str]]:
    """Variable name → the arguments / input fields it is passed to directly."""
    used: dict[str, set[str]] = {}
    stack: list[Any] = list(document.definitions)
    while stack:
        node = stack.pop()
        if isinstance(node, (ArgumentNode, ObjectFieldNode)):
            if isinstance(node.value, VariableNode):
                used.setdefault(node.value.name.value, set()).add(node.name.value)
            stack.append(node.value)
            continue
        if isinstance(node, ObjectValueNode):
            stack.extend(node.fields)
        elif isinstance(node, ListValueNode):
            stack.extend(node.values)
        for attr in ("selection_set",):
            child = getattr(node, attr, None)
            if child is not None:
                stack.extend(child.selections)
        stack.extend(getattr(node, "arguments", None) or ())
        for directive in getattr(node, "directives", None) or ():
            stack.extend(directive.arguments or ())
    return used


def check_variables(
    variables: dict[str, Any], used: dict[str, set[str]], default: int
) -> GraphQLError | None:
    """The first over-long string in ``variables``, as an error; None when all fit."""
    stack: list[tuple[str, Any]] = []
    for name, value in variables.items():
        fields = used.get(name) or {name}
        field = min(fields, key=lambda f: field_limit(f, default))
        stack.append((field, value))
    while stack:
        field, value = stack.pop()
        if isinstance(value, str):
            limit = field_limit(field, default)
            if len(value) > limit:
                return too_long(field, limit)
        elif isinstance(value, dict):
            stack.extend((str(k), v) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((field, v) for v in value)
    return None


class InputLimits(SchemaExtension):
    """Over-long strings in variables are refused before execution (literals: validation)."""

    _usage: OrderedDict[str, dict[str, set[str]]] = OrderedDict()

    def __init__(self, *, max_string_length: int = 4000) -> None:
        self.max_string_length = max_string_length

    def _used(self, document: DocumentNode, query: str | None) -> dict[str, set[str]]:
        key = query or ""
        found = self._usage.get(key)
        if found is None:
            found = _variable_fields(document)
            self._usage[key] = found
            if len(self._usage) > 512:
                self._usage.popitem(last=False)
        return found

    def on_execute(self) -> Iterator[None]:
        ctx = self.execution_context
        variables, document = ctx.variables, ctx.graphql_document
        if variables and document is not None and not ctx.result:
            error = check_variables(
                variables, self._used(document, ctx.query), self.max_string_length
            )
            if error is not None:
                ctx.result = GraphQLExecutionResult(data=None, errors=[error])
        yield


def extensions(*, max_string_length: int, max_aliases: int, max_root_fields: int) -> list[Any]:
    """Extension factories (a fresh instance per operation)."""
    rules = [literal_strings_rule(max_string_length), shape_rule(max_aliases, max_root_fields)]
    return [
        partial(AddValidationRules, rules),
        partial(InputLimits, max_string_length=max_string_length),
    ]
