"""Webhooks: registration, who may receive which event, signing, replay.

A client registers a URL and the event types it wants; the hub POSTs each event it may
see, signed with HMAC-SHA256 over the raw body (``X-Hub-Signature-256: sha256=<hex>``),
with ``X-Hub-Event-Id`` for de-duplication. Delivery itself is ``hub.events.dispatch``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.access.principal import Principal, Scope
from hub.errors import DomainError, Forbidden, NotFound
from hub.events.models import DeliveryStatus, Webhook, WebhookDelivery
from hub.events.repository import head

SIGNATURE_HEADER = "X-Hub-Signature-256"
EVENT_ID_HEADER = "X-Hub-Event-Id"
EVENT_TYPE_HEADER = "X-Hub-Event-Type"
DELIVERY_HEADER = "X-Hub-Delivery-Id"

# The scope a client needs to receive events about each kind of thing.
EVENT_SCOPES: dict[str, str] = {
    "Referral": Scope.REFERRALS_READ,
    "Capacity": Scope.REFERRALS_READ,
    "Resident": Scope.RESIDENTS_READ,
    "Contract": Scope.CONTRACTS_READ,
    "Appointment": Scope.CONTRACTS_READ,
}
_PATTERN = re.compile(r"^[a-z_]+(\.[a-z_]+)*(\.\*)?$|^\*$")


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str) -> bool:
    """What a receiver does (and the tests): compare in constant time."""
    return hmac.compare_digest(sign(secret, body), header)


def wants(patterns: Sequence[str], event_type: str) -> bool:
    if not patterns:
        return True
    for p in patterns:
        if p == "*" or p == event_type or (p.endswith(".*") and event_type.startswith(p[:-1])):
            return True
    return False


async def register(
    session: AsyncSession, principal: Principal, *, url: str, events: Sequence[str]
) -> tuple[Webhook, str]:
    """Register a URL for this client; returns the webhook and its secret (shown once).

    Delivery starts with events committed after registration."""
    if principal.client_id is None:
        raise Forbidden("Only a registered API client can own a webhook.")
    from hub.events.destinations import check_destination
    from hub.events.settings import EventSettings

    await check_destination(url, allow_private=EventSettings().webhook_allow_private)
    bad = [e for e in events if not _PATTERN.match(e)]
    if bad:
        raise DomainError(
            f"Event types look like 'referral.accepted' or 'referral.*'; got {', '.join(bad)}.",
            field="events",
            code="INVALID_EVENT_TYPE",
        )
    secret = "whsec_" + secrets.token_urlsafe(32)
    tx, last = await head(session)
    hook = Webhook(
        client_id=principal.client_id,
        url=url,
        events=sorted(set(events)),
        secret=secret,
        cursor_tx=tx,
        cursor_id=last,
    )
    session.add(hook)
    await session.flush()
    return hook, secret


async def owned(session: AsyncSession, principal: Principal, webhook_id: int) -> Webhook:
    hook = await session.get(Webhook, webhook_id)
    if hook is None or (hook.client_id != principal.client_id and not principal.has(Scope.ADMIN)):
        raise NotFound(f"No webhook {webhook_id} of this client.", field="id")
    return hook


async def list_webhooks(session: AsyncSession, principal: Principal) -> list[Webhook]:
    stmt = select(Webhook).order_by(Webhook.id)
    if not principal.has(Scope.ADMIN):
        stmt = stmt.where(Webhook.client_id == principal.client_id)
    return list((await session.scalars(stmt)).all())


async def deactivate(session: AsyncSession, principal: Principal, webhook_id: int) -> Webhook:
    hook = await owned(session, principal, webhook_id)
    hook.active = False
    return hook


async def deliveries(
    session: AsyncSession, principal: Principal, webhook_id: int, *, status: str | None, limit: int
) -> list[WebhookDelivery]:
    await owned(session, principal, webhook_id)
    stmt = select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id)
    if status:
        stmt = stmt.where(WebhookDelivery.status == status)
    return list(
        (await session.scalars(stmt.order_by(WebhookDelivery.id.desc()).limit(limit))).all()
    )


async def replay(session: AsyncSession, principal: Principal, delivery_id: int) -> WebhookDelivery:
    """Queue a delivery again (a failed one, typically) with a fresh set of attempts."""
    found = await session.get(WebhookDelivery, delivery_id)
    if found is None:
        raise NotFound(f"No webhook delivery {delivery_id}.", field="id")
    await owned(session, principal, found.webhook_id)
    await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id)
        .values(
            status=DeliveryStatus.PENDING,
            attempts=0,
            next_attempt_at=dt.datetime.now(dt.UTC),
            lease_token=None,
            lease_until=None,
            last_error=None,
            last_status_code=None,
        )
        .execution_options(synchronize_session=False)
    )
    await session.refresh(found)
    return found


async def failed_ids(session: AsyncSession, webhook_id: int | None = None) -> list[int]:
    stmt = select(WebhookDelivery.id).where(WebhookDelivery.status == DeliveryStatus.FAILED)
    if webhook_id is not None:
        stmt = stmt.where(WebhookDelivery.webhook_id == webhook_id)
    return list((await session.scalars(stmt.order_by(WebhookDelivery.id))).all())
