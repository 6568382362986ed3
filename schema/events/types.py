"""GraphQL types of the change feed: ReferralEvent (subscriptions), Webhook, WebhookDelivery."""

from __future__ import annotations

import datetime as dt
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from hub.events.models import DeliveryStatus as _DeliveryStatus
from hub.events.models import Webhook as WebhookRow
from hub.events.models import WebhookDelivery as DeliveryRow
from hub.events.repository import FeedEvent
from hub.referrals import service as referrals
from mappings import infrastructure
from schema.context import Context
from schema.referrals.types import Referral, ReferralStatus
from schema.relay import Node, to_global_id

DeliveryStatus = strawberry.enum(_DeliveryStatus, name="WebhookDeliveryStatus")


@strawberry.type(description="A change of a referral, pushed to subscribers in the order made.")
class ReferralEvent:
    event: strawberry.Private[FeedEvent]
    event_id: strawberry.ID = strawberry.field(
        description="The outbox event id (for de-duplication)."
    )
    type: str = strawberry.field(description="referral.requested, referral.accepted, …")
    at: dt.datetime
    referral_id: strawberry.ID
    status: ReferralStatus = strawberry.field(description="The status this change moved to.")
    previous_status: ReferralStatus | None
    data: JSON = strawberry.field(description="The event's data: ids and codes, no personal data.")

    @classmethod
    def from_event(cls, e: FeedEvent) -> ReferralEvent:
        previous = e.data.get("previous_status")
        return cls(
            event=e,
            event_id=strawberry.ID(str(e.id)),
            type=e.type,
            at=e.at,
            referral_id=strawberry.ID(to_global_id("Referral", e.aggregate_id)),
            status=ReferralStatus(e.data["status"]),
            previous_status=ReferralStatus(previous) if previous else None,
            data=e.data,
        )

    @strawberry.field(description="The referral as it is now (it may have moved on since).")
    async def referral(self, info: Info[Context, Any]) -> Referral | None:
        ctx = info.context
        row = await ctx.run(
            lambda s: referrals.find(s, ctx.principal, int(self.event.aggregate_id))
        )
        if row is None:
            return None
        ctx.audit_read("referralEvents", row.resident_id)
        return Referral.from_row(row)


@strawberry.type(description="A URL that receives the events this client may see, signed.")
class Webhook(Node):
    row: strawberry.Private[WebhookRow]
    url: str
    events: list[str] = strawberry.field(description="Types or prefixes (referral.*); empty = all.")
    active: bool
    created_at: dt.datetime

    @classmethod
    def from_row(cls, r: WebhookRow) -> Webhook:
        return cls(
            row=r,
            id=strawberry.ID(to_global_id("Webhook", r.id)),
            url=r.url,
            events=list(r.events),
            active=r.active,
            created_at=r.created_at,
        )

    @strawberry.field(description="FHIR R4B Subscription (rest-hook).")
    def fhir(self) -> JSON:
        return infrastructure.subscription(self.row)


@strawberry.type(description="One event sent (or being sent) to one webhook.")
class WebhookDelivery(Node):
    row: strawberry.Private[DeliveryRow]
    event_id: strawberry.ID
    status: DeliveryStatus
    attempts: int
    next_attempt_at: dt.datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: dt.datetime | None

    @classmethod
    def from_row(cls, r: DeliveryRow) -> WebhookDelivery:
        return cls(
            row=r,
            id=strawberry.ID(to_global_id("WebhookDelivery", r.id)),
            event_id=strawberry.ID(str(r.event_id)),
            status=DeliveryStatus(r.status),
            attempts=r.attempts,
            next_attempt_at=r.next_attempt_at if r.status == "PENDING" else None,
            last_status_code=r.last_status_code,
            last_error=r.last_error,
            delivered_at=r.delivered_at,
        )

    @strawberry.field(description="FHIR R4B AuditEvent of the transmission.")
    def fhir(self) -> JSON:
        return infrastructure.delivery_audit(self.row)
