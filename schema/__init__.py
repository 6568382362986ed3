"""The GraphQL schema: domain queries and mutations merged into one root."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.extensions import (
    MaskErrors,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.tools import merge_types
from strawberry.types import Info

from hub.errors import DomainError
from schema.adapters.mutations import AdapterMutation
from schema.adapters.queries import AdapterQuery
from schema.audit import AuditReads
from schema.audit_events import AuditQuery
from schema.context import Context
from schema.contracts.mutations import ContractsMutation
from schema.contracts.queries import ContractsQuery
from schema.contracts.types import load_contract
from schema.cost import CostBudget
from schema.directory.mutations import DirectoryMutation
from schema.directory.queries import DirectoryQuery
from schema.directory.types import load_organization, load_practitioner, load_team
from schema.events.subscriptions import EventSubscription
from schema.events.webhooks import WebhookMutation, WebhookQuery
from schema.referrals.mutations import ReferralMutation
from schema.referrals.queries import ReferralQuery, find_referral
from schema.registry.mutations import RegistryMutation
from schema.registry.queries import RegistryQuery
from schema.registry.types import load_resident
from schema.relay import Node, from_global_id, parse_int_id
from schema.reports.mutations import ReportsMutation
from schema.reports.queries import ReportsQuery
from schema.residents.access import ResidentAccessMutation, ResidentAccessQuery
from schema.appointments.mutations import AppointmentMutation
from schema.appointments.queries import AppointmentQuery
from schema.worklist.types import WorkListQuery


@strawberry.type
class NodeQuery:
    @strawberry.field(description="Any object by its global id (Relay).")
    async def node(self, info: Info[Context, Any], id: strawberry.ID) -> Node | None:
        type_name, raw = from_global_id(str(id))
        int_keyed = type_name in ("Resident", "Contract", "Referral")
        key = parse_int_id(raw)
        if int_keyed and key is None:
            return None  # no row has this id (2**64, -1, "x"): never reaches SQL
        if type_name == "Resident":
            return await load_resident(info, key)  # the access policy decides, as everywhere
        loaders = {"Organization": load_organization, "Team": load_team,
                   "Practitioner": load_practitioner, "Contract": load_contract}
        if type_name in loaders:
            return await loaders[type_name](info, str(key) if int_keyed else raw)
        if type_name == "Referral":
            return await find_referral(info, key)
        return None


Query = merge_types("Query", (NodeQuery, RegistryQuery, DirectoryQuery, ContractsQuery,
                              ReferralQuery, WorkListQuery, WebhookQuery, AdapterQuery,
                              AuditQuery,
                              ReportsQuery,
                              ResidentAccessQuery, AppointmentQuery))
Mutation = merge_types("Mutation", (RegistryMutation, DirectoryMutation, ContractsMutation,
                                    ReferralMutation, WebhookMutation, AdapterMutation,
                                    ResidentAccessMutation, AppointmentMutation,
                                    ReportsMutation))
Subscription = EventSubscription


def _mask(error: Any) -> bool:
    """Expected domain errors keep their message and code; anything else is masked."""
    from graphql import GraphQLError

    original = getattr(error, "original_error", None)
    if isinstance(original, DomainError):
        error.extensions = {**(error.extensions or {}), "code": original.code}
        return False
    return original is not None and not isinstance(original, GraphQLError)


def _code(error: Any) -> str:
    return str((getattr(error, "extensions", None) or {}).get("code") or "GRAPHQL_INVALID")


class HubSchema(strawberry.Schema):
    def process_errors(self, errors: list[Any], execution_context: Any = None) -> None:
        """Log errors without the query text, variables or messages: they can carry
        personal data. The caller's mistakes (domain errors, invalid documents, limits)
        are INFO and rate-limited; only the hub's own failures are ERROR."""
        from graphql import GraphQLError

        from hub.logs import client_mistake, get_logger

        for error in errors:
            original = getattr(error, "original_error", None)
            if isinstance(original, DomainError):
                client_mistake("graphql.client_error", original.code,
                               error_type=type(original).__name__)
            elif original is None or isinstance(original, GraphQLError):
                client_mistake("graphql.rejected", _code(original or error))
            else:
                get_logger("schema").error(
                    "graphql.error", error_type=type(original).__name__,
                    path=getattr(error, "path", None), exc_info=original)


def build_schema(
    *,
    max_depth: int = 12,
    max_tokens: int = 4000,
    max_string_length: int = 4000,
    max_aliases: int = 30,
    max_root_fields: int = 20,
) -> strawberry.Schema:
    from schema.limits import extensions as input_limits

    return HubSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[],
        extensions=[
            QueryDepthLimiter(max_depth=max_depth),
            MaxTokensLimiter(max_token_count=max_tokens),
            ParserCache(maxsize=512),
            *input_limits(max_string_length=max_string_length, max_aliases=max_aliases,
                          max_root_fields=max_root_fields),
            ValidationCache(maxsize=512),
            CostBudget,  # introspection switch, cost maximum and budget (schema.cost)
            AuditReads(),
            MaskErrors(should_mask_error=_mask,
                       error_message="Internal error; it has been logged."),
        ],
    )
