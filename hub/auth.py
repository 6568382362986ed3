"""Bearer-token authentication as pure ASGI middleware: who is calling, for every request."""

from __future__ import annotations

import uuid
from typing import Any

import structlog
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from hub.access.principal import Principal

Hub = Any  # hub.core.Hub


class Authenticate:
    """Pure ASGI middleware: every API request carries `Authorization: Bearer <token>`."""

    # The dashboard's page and scripts hold no data (it asks for a token, then calls /graphql).
    OPEN_PATHS = ("/health", "/healthz", "/readyz",  # probes (hub.health): no data
                  "/dashboard", "/dashboard/app.js", "/dashboard/echarts.min.js",
                  # OAuth for resident apps (hub.access.oauth_routes): public clients, no bearer
                  "/oauth/authorize", "/oauth/token", "/oauth/revoke",
                  "/.well-known/smart-configuration", "/fhir/.well-known/smart-configuration")

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
