"""GraphQL over WebSocket (graphql-transport-ws): the connection's context and its login.

A client authenticates with ``Authorization: Bearer …`` either as a header of the
upgrade request (checked by ``hub.app.Authenticate``) or in the ``connection_init``
payload (``{"Authorization": "Bearer …"}``), checked here before ``connection_ack``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from strawberry.exceptions import ConnectionRejectionError

from hub.access.principal import Principal
from hub.events.repository import Position
from hub.events.runtime import FEED
from schema.context import Context

if TYPE_CHECKING:
    from hub.core import Hub

ANONYMOUS = Principal(name="anonymous", scopes=frozenset())


@dataclass
class SocketContext(Context):
    """One per WebSocket connection, shared by the operations on it."""

    connection_params: dict[str, Any] = field(default_factory=dict)
    # the event feed's position when the connection was acknowledged: subscriptions on
    # this connection start there, so nothing committed after the ack is missed
    feed_position: Position | None = None

    async def release(self) -> None:
        """After each push: audit the residents it showed, end the read transaction (a held
        SQLite snapshot would go stale, a held PostgreSQL one would sit idle) and forget
        cached loads."""
        if self.audit_reads() and not self.hub.audit.running:
            await self.hub.audit.flush()
        self.loaders.clear()
        async with self.lock:
            await self.session.close()

    def audit_reads(self) -> bool:
        """Hand the residents read so far to the audit writer; True if there were any."""
        reads, self.reads = self.reads, {}
        for operation, ids in reads.items():
            self.hub.audit.add(self.principal, "READ", operation, ids)
        return bool(reads)


def socket_context(hub: Hub, websocket: Any, response: Any) -> SocketContext:
    scope = websocket.scope
    return SocketContext(
        hub=hub,
        principal=scope.get("principal") or ANONYMOUS,
        session=scope["state"]["session"],
        request=websocket,
        response=response,
    )


def _token(params: dict[str, Any]) -> str | None:
    for key in ("Authorization", "authorization"):
        value = params.get(key)
        if isinstance(value, str):
            scheme, _, token = value.partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    headers = params.get("headers")
    return _token(headers) if isinstance(headers, dict) else None


async def on_connect(context: Any) -> None:
    """Accept the connection (``connection_ack``) or close it with 4403."""
    if not isinstance(context, SocketContext):
        return
    if context.principal is ANONYMOUS:
        token = _token(context.connection_params)
        principal = None
        if token:
            async with context.hub.db.reader() as session:
                principal = await context.hub.tokens.authenticate(session, token)
        if principal is None:
            raise ConnectionRejectionError(
                {
                    "message": "Missing or invalid bearer token in "
                    'connection_init: {"Authorization": "Bearer …"}'
                }
            )
        context.principal = principal
    feed = context.hub.extras.get(FEED)
    if feed is not None and feed.started:
        context.feed_position = feed.position
