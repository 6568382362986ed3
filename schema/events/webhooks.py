"""Webhook queries and mutations: register, list, deliveries, replay, deactivate."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from hub.events import webhooks as service
from schema.context import Context
from schema.errors import UserError
from schema.events.types import DeliveryStatus, Webhook, WebhookDelivery
from schema.relay import int_id


@strawberry.type
class RegisterWebhookPayload:
    webhook: Webhook | None
    secret: str | None = strawberry.field(
        description="HMAC-SHA256 key of X-Hub-Signature-256 (sha256=<hex> of the raw body); "
        "shown only here."
    )
    user_errors: list[UserError]


@strawberry.type
class WebhookPayload:
    webhook: Webhook | None
    user_errors: list[UserError]


@strawberry.type
class WebhookDeliveryPayload:
    delivery: WebhookDelivery | None
    user_errors: list[UserError]


@strawberry.type
class WebhookQuery:
    @strawberry.field(description="This client's webhooks (every client's for admin).")
    async def webhooks(self, info: Info[Context, Any]) -> list[Webhook]:
        ctx = info.context
        rows = await ctx.run(lambda s: service.list_webhooks(s, ctx.principal))
        return [Webhook.from_row(r) for r in rows]

    @strawberry.field(description="A webhook's deliveries, newest first.")
    async def webhook_deliveries(
        self,
        info: Info[Context, Any],
        webhook_id: strawberry.ID,
        status: DeliveryStatus | None = None,
        first: int | None = None,
    ) -> list[WebhookDelivery]:
        ctx = info.context
        hook, limit = int_id(str(webhook_id), "Webhook"), ctx.page_size(first)
        rows = await ctx.run(
            lambda s: service.deliveries(
                s, ctx.principal, hook, status=status.value if status else None, limit=limit
            )
        )
        return [WebhookDelivery.from_row(r) for r in rows]


@strawberry.type
class WebhookMutation:
    @strawberry.mutation(
        description="POST every event this client may see (of the given types "
        "or prefixes such as referral.*) to url, signed; returns the secret."
    )
    async def register_webhook(
        self, info: Info[Context, Any], url: str, events: list[str] | None = None
    ) -> RegisterWebhookPayload:
        ctx = info.context
        out, errors = await ctx.write(
            lambda s: service.register(s, ctx.principal, url=url, events=events or [])
        )
        if out is None:
            return RegisterWebhookPayload(webhook=None, secret=None, user_errors=errors)
        return RegisterWebhookPayload(
            webhook=Webhook.from_row(out[0]), secret=out[1], user_errors=[]
        )

    @strawberry.mutation(description="Stop sending to a webhook.")
    async def deactivate_webhook(
        self, info: Info[Context, Any], id: strawberry.ID
    ) -> WebhookPayload:
        ctx = info.context
        row, errors = await ctx.write(
            lambda s: service.deactivate(s, ctx.principal, int_id(str(id), "Webhook"))
        )
        return WebhookPayload(webhook=Webhook.from_row(row) if row else None, user_errors=errors)

    @strawberry.mutation(
        description="Send a (failed) delivery again, with a fresh set of attempts."
    )
    async def replay_webhook_delivery(
        self, info: Info[Context, Any], id: strawberry.ID
    ) -> WebhookDeliveryPayload:
        ctx = info.context
        row, errors = await ctx.write(
            lambda s: service.replay(s, ctx.principal, int_id(str(id), "WebhookDelivery"))
        )
        if row is not None:
            from hub.events.runtime import DISPATCHER

            dispatcher = ctx.hub.extras.get(DISPATCHER)
            if dispatcher is not None:
                dispatcher.wake()
        return WebhookDeliveryPayload(
            delivery=WebhookDelivery.from_row(row) if row else None, user_errors=errors
        )
