"""Composition root: wires the hub (hub.core), its plugins (the adapters) and the HTTP app.
It only composes: nothing below imports it."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import structlog
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.asgi import GraphQL

from adapters.his.adapter import plugin as his_plugin
from hub.access.principal import Principal
from hub.core import Hub, build_hub
from hub.logs import configure, get_logger
from hub.plugins import Plugin, start_plugins, stop_plugins

log = get_logger("hub.app")

__all__ = ["PLUGINS", "Hub", "build_hub", "create_app"]

# The source systems' adapters, each behind the small plugin interface (hub.plugins).
PLUGINS: list[Plugin] = [his_plugin]


class Authenticate:
    """Pure ASGI middleware: every API request carries `Authorization: Bearer <token>`."""

    OPEN_PATHS = ("/health",)

    def __init__(self, app: ASGIApp, hub: Hub) -> None:
        self.app = app
        self.hub = hub

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"] in self.OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
        request_id = headers.get("x-request-id") or uuid.uuid4().hex[:16]
        structlog.contextvars.bind_contextvars(request_id=request_id)
        token = _bearer(headers.get("authorization", ""))
        if scope["type"] == "websocket" and token is None:
            # graphql-transport-ws carries the token in connection_init; checked there.
            await self.app(scope, receive, send)
            return
        if token is None and _wants_graphiql(scope, headers):
            # the GraphiQL page itself holds no data; queries from it send the token
            scope["principal"] = Principal(name="anonymous", scopes=frozenset())
            await self.app(scope, receive, send)
            return
        principal = None
        if token:
            async with self.hub.db.reader() as session:
                principal = await self.hub.tokens.authenticate(session, token)
        if principal is None:
            response: Response = JSONResponse(
                {"errors": [{"message": "Missing or invalid bearer token: send "
                             "'Authorization: Bearer <token>' (see `hub client create`).",
                             "extensions": {"code": "UNAUTHENTICATED"}}]},
                status_code=401, headers={"WWW-Authenticate": "Bearer"})
            await response(scope, receive, send)
            return
        scope["principal"] = principal.with_request(request_id)
        await self.app(scope, receive, send)


def _bearer(value: str) -> str | None:
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _wants_graphiql(scope: Scope, headers: dict[str, str]) -> bool:
    return scope.get("method") == "GET" and "text/html" in headers.get("accept", "") and \
        not scope.get("query_string")


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


def create_app(hub: Hub | None = None) -> Starlette:
    hub = hub or build_hub()
    configure(hub.settings.log_level, hub.settings.log_json)
    from hub.contracts.jobs import install as install_contract_jobs

    install_contract_jobs(hub)  # the daily contract expiry roll (期满处理)
    for plugin in PLUGINS:
        hub.plug(plugin)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        log.info("hub.start", database=hub.db.engine.url.render_as_string(hide_password=True))
        log.debug("hub.settings", **hub.settings.sanitized())  # secrets masked
        hub.audit.start()
        for start in hub.extras.get("on_start", []):
            await start(hub)
        await start_plugins(hub)
        from hub.tuning import settle_gc

        settle_gc(hub.settings.gc_threshold)
        yield
        await stop_plugins(hub)
        for stop in hub.extras.get("on_stop", []):
            await stop(hub)
        await hub.audit.close()
        await hub.db.dispose()

    async def health(_: Request) -> Response:
        return PlainTextResponse("ok")

    graphql = HubGraphQL(hub)
    from adapters.runtime.metrics import route as metrics_route
    from hub.fhir_api import routes as fhir_routes

    app = Starlette(routes=[Route("/health", health), Route("/graphql", graphql,
                                                            methods=["GET", "POST"]),
                            WebSocketRoute("/graphql", graphql),  # subscriptions
                            *fhir_routes, metrics_route(hub)],
                    lifespan=lifespan)
    app.state.hub = hub
    # outermost: body size and shape are checked before a token is looked up
    from hub.limits import RequestLimits

    return RequestLimits(Authenticate(app, hub), hub.settings)  # type: ignore[return-value]
