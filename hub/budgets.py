"""The request-rate budget at the edge (pure ASGI, inside authentication): every GraphQL and
FHIR REST request of a client takes one token from its rate bucket (hub.access.budgets).
Over the rate: HTTP 429 with ``Retry-After`` — a GraphQL error ``RATE_LIMITED`` on
/graphql (with ``extensions.cost``), an OperationOutcome ``throttled`` on /fhir — before the
request body is parsed."""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from hub.access.budgets import COST, RATE, budgets_of, cost_of, rate_of

BUDGETED = ("/graphql", "/fhir")


class RateLimit:
    def __init__(self, app: ASGIApp, hub: Any) -> None:
        self.app, self.hub = app, hub

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        principal = scope.get("principal")
        if (scope["type"] != "http" or principal is None or principal.client_id is None
                or not scope["path"].startswith(BUDGETED)):  # fmt: skip
            await self.app(scope, receive, send)
            return
        per_minute = rate_of(principal, self.hub.settings)
        if per_minute:
            store = budgets_of(self.hub)
            charge = await store.charge(principal.client_id, RATE, 1, per_minute)
            if not charge.allowed:
                await self._refuse(scope, send, principal, per_minute, charge.retry_after)
                return
        await self.app(scope, receive, send)

    async def _refuse(self, scope: Scope, send: Send, principal: Any, per_minute: int,
                      wait: int) -> None:  # fmt: skip
        from hub.logs import client_mistake

        client_mistake("budget.rate_limited", "RATE_LIMITED", client_id=principal.client_id)
        message = f"Over this client's rate ({per_minute} requests/min); retry in {wait} s."
        body: dict[str, Any]
        if scope["path"].startswith("/fhir"):
            media = b"application/fhir+json"
            body = {"resourceType": "OperationOutcome", "issue": [
                {"severity": "error", "code": "throttled", "diagnostics": message}]}
        else:
            from schema.cost import cost_extension  # the GraphQL response's shape

            media = b"application/json"
            cost_budget = cost_of(principal, self.hub.settings)
            charge = (budgets_of(self.hub).peek(principal.client_id, COST, cost_budget)
                      if cost_budget else None)  # fmt: skip
            body = {"data": None,
                    "errors": [{"message": message,
                                "extensions": {"code": "RATE_LIMITED", "retryAfter": wait}}],
                    "extensions": {"cost": cost_extension(0, charge)}}  # fmt: skip
        data = json.dumps(body, separators=(",", ":")).encode()
        await send({"type": "http.response.start", "status": 429, "headers": [
            (b"content-type", media), (b"content-length", str(len(data)).encode()),
            (b"retry-after", str(wait).encode())]})  # fmt: skip
        await send({"type": "http.response.body", "body": data})
