"""GraphQL subscriptions over WebSocket (graphql-transport-ws), fed by the event outbox."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import strawberry
from strawberry.types import Info

from hub.access import policy
from hub.access.principal import Scope
from hub.errors import Forbidden
from hub.events.runtime import feed_of
from schema.context import Context
from schema.events.socket import SocketContext
from schema.events.types import ReferralEvent
from schema.relay import from_global_id


@strawberry.type
class EventSubscription:
    @strawberry.subscription(
        description="Every change of the referrals to or from an organization (all the "
        "caller may see when omitted), each referral's in the order made, from the moment "
        "the connection was acknowledged (authenticate in connection_init)."
    )
    async def referral_events(
        self,
        info: Info[Context, Any],
        organization_id: strawberry.ID | None = None,
    ) -> AsyncGenerator[ReferralEvent, None]:
        ctx = info.context
        ctx.principal.require(Scope.REFERRALS_READ)
        org = from_global_id(str(organization_id), "Organization")[1] if organization_id else None
        if org and ctx.principal.bound and org not in ctx.principal.organization_ids:
            raise Forbidden(
                f"This client acts for {', '.join(ctx.principal.organization_ids)}, not for {org}.",
                field="organizationId",
            )
        socket = ctx if isinstance(ctx, SocketContext) else None
        since = socket.feed_position if socket else None
        try:
            async for event in feed_of(ctx.hub).stream(since):
                if event.aggregate_type != "Referral":
                    continue
                if org is not None and org not in event.organization_ids:
                    continue
                # the one access policy, as for reads and webhooks
                shown = await ctx.run(
                    lambda s, e=event: policy.visible_events(s, ctx.principal, [e])
                )
                if not shown:
                    continue
                yield ReferralEvent.from_event(event)
                if socket is not None:
                    await socket.release()
        finally:
            if socket is not None:
                socket.audit_reads()  # what the last push showed
