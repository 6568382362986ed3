"""The GraphQL HTTP/WebSocket view: the schema with the hub's limits, one read session per
request, the per-request context, and the response size cap."""

from __future__ import annotations

import json
from typing import Any

from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL

from hub.core import Hub


class HubGraphQL(GraphQL[Any, None]):
    def __init__(self, hub: Hub, **kwargs: Any) -> None:
        from schema import build_schema

        s = hub.settings
        super().__init__(build_schema(max_depth=s.max_query_depth, max_tokens=s.max_query_tokens,
                                      max_string_length=s.max_string_length,
                                      max_aliases=s.max_aliases,
                                      max_root_fields=s.max_root_fields),
                         graphql_ide="graphiql", allow_queries_via_get=False, **kwargs)
        self.hub = hub
        self.max_response_bytes = s.max_response_bytes

    def encode_json(self, data: object) -> str:
        """A response over ``max_response_bytes`` is replaced by a GraphQL error (HTTP 200,
        ``data: null``, code RESPONSE_TOO_LARGE): ask for fewer rows or fields."""
        text = super().encode_json(data)
        if len(text) > self.max_response_bytes:  # ASCII JSON: characters are bytes
            from hub.logs import client_mistake

            client_mistake("graphql.response_too_large", "RESPONSE_TOO_LARGE", size=len(text))
            return json.dumps({"data": None, "errors": [{
                "message": f"The response is larger than {self.max_response_bytes} bytes; "
                           "ask for fewer rows (first:) or fields.",
                "extensions": {"code": "RESPONSE_TOO_LARGE"}}]})
        return text

    async def get_context(self, request: Any, response: Any) -> Any:
        from schema.context import Context

        if request.scope["type"] == "websocket":
            from schema.events.socket import socket_context

            return socket_context(self.hub, request, response)
        return Context(hub=self.hub, principal=request.scope["principal"],
                       session=request.scope["state"]["session"], request=request,
                       response=response)

    async def on_ws_connect(self, context: Any) -> Any:
        from schema.events.socket import on_connect

        await on_connect(context)  # bearer token in connection_init, unless sent as a header
        return await super().on_ws_connect(context)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # one read session per request (per connection for a WebSocket)
        async with self.hub.db.sessions() as session:
            scope.setdefault("state", {})["session"] = session
            await super().__call__(scope, receive, send)
