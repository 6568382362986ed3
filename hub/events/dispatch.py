"""Deliver events to webhooks: fan out from the outbox, POST with retries, keep failures.

Two steps, each safe with several server processes on one database:

1. *Fan-out*: for each webhook, read the events after its cursor and write one delivery
   row per event the client may see and asked for, moving the cursor in the same
   transaction with a conditional UPDATE (only one process wins a given cursor).
2. *Delivery*: claim due deliveries with a lease (a conditional UPDATE again), POST them
   outside any transaction, record the outcome. A failure is retried after a capped
   exponential backoff with jitter; after the last attempt the delivery is FAILED and
   kept for replay. A worker that dies mid-POST loses its lease and the delivery is
   retried, so receivers de-duplicate on ``X-Hub-Event-Id``. A destination refused at
   connect time (its host now resolves to a non-public address, see
   ``hub.events.destinations``) is not retried: the delivery is FAILED at once, with the
   reason in ``last_error``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import random
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hub.access import policy
from hub.access.models import Client
from hub.access.service import principal_of
from hub.db import Database
from hub.events import destinations, repository, webhooks
from hub.events.models import DeliveryStatus, Webhook, WebhookDelivery
from hub.events.settings import EventSettings
from hub.logs import get_logger

log = get_logger("hub.events.dispatch")


_RNG = random.Random()


def backoff(attempt: int, settings: EventSettings, rng: random.Random | None = None) -> float:
    """Delay before retry number ``attempt`` (1-based): base·2^(n-1), capped, then "equal
    jitter" (half fixed, half random) so failing receivers are not hit in lockstep."""
    growth = float(2 ** max(attempt - 1, 0))
    ceiling = min(settings.webhook_backoff_cap, settings.webhook_backoff_base * growth)
    jitter: float = (rng or _RNG).uniform(0, ceiling / 2)
    return ceiling / 2 + jitter


@dataclass(frozen=True, slots=True)
class Claimed:
    delivery_id: int
    token: str
    attempt: int
    url: str
    secret: str
    event: repository.FeedEvent


class WebhookDispatcher:
    def __init__(
        self, db: Database, settings: EventSettings, http: httpx.AsyncClient | None = None
    ) -> None:
        self.db = db
        self.settings = settings
        self._http = http
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._rng = random.Random()

    async def start(self) -> None:
        self._wake = asyncio.Event()
        await self.start_client()
        self._task = asyncio.create_task(self._run(), name="webhook-dispatcher")

    async def start_client(self) -> None:
        """Only the HTTP client, for one-off deliveries (``hub webhooks replay``)."""
        self._http = self._http or destinations.http_client(
            allow_private=self.settings.webhook_allow_private,
            timeout=self.settings.webhook_timeout,
        )

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    def wake(self, *_: Any) -> None:
        """Called in the loop by the event feed when events arrive."""
        self._wake.set()

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once()
                pause = await self._until_next_due()
            except Exception as e:  # noqa: BLE001 - one bad round must not stop delivery
                log.warning("webhooks.round_failed", error=type(e).__name__, exc_info=e)
                pause = self.settings.poll_interval
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), pause)
            self._wake.clear()

    async def _until_next_due(self) -> float:
        async with self.db.reader() as session:
            at = await repository.next_due_at(session)
        if at is None:
            return self.settings.poll_interval
        wait = (at - dt.datetime.now(dt.UTC)).total_seconds()
        return min(max(wait, 0.0), self.settings.poll_interval)

    async def run_once(self) -> int:
        """One round: fan out, then deliver what is due. Returns deliveries attempted."""
        async with self.db.reader() as session:
            hooks = await repository.active_webhook_ids(session)
        for hook_id in hooks:
            while await self.fan_out(hook_id):
                pass
        return await self.deliver_due()

    # ---- fan-out -------------------------------------------------------------------------

    async def fan_out(self, webhook_id: int) -> bool:
        """Create deliveries for one webhook's new events; True if there may be more."""
        try:
            async with self.db.transaction() as session:
                return await self._fan_out(session, webhook_id)
        except IntegrityError:  # another process wrote the same deliveries first
            return False

    async def _fan_out(self, session: AsyncSession, webhook_id: int) -> bool:
        hook = await session.get(Webhook, webhook_id)
        if hook is None or not hook.active:
            return False
        client = await session.get(Client, hook.client_id)
        position = (hook.cursor_tx, hook.cursor_id)
        batch = await repository.read_after(session, position, limit=self.settings.batch)
        if not batch:
            return False
        last = batch[-1].position
        moved = await session.execute(
            update(Webhook)
            .where(
                Webhook.id == hook.id,
                Webhook.cursor_tx == position[0],
                Webhook.cursor_id == position[1],
            )
            .values(cursor_tx=last[0], cursor_id=last[1])
            .execution_options(synchronize_session=False)
        )
        if getattr(moved, "rowcount", 0) != 1:
            return False  # another process is fanning this webhook out
        if client is not None and client.active:
            principal = principal_of(client)
            wanted = [ev for ev in batch if webhooks.wants(hook.events, ev.type)]
            session.add_all(
                WebhookDelivery(webhook_id=hook.id, event_id=ev.id)
                for ev in await policy.visible_events(session, principal, wanted)
            )
        return len(batch) >= self.settings.batch

    # ---- delivery ------------------------------------------------------------------------

    async def deliver_due(self, only: list[int] | None = None) -> int:
        claimed = await self._claim(only)
        if not claimed:
            return 0
        limit = asyncio.Semaphore(self.settings.webhook_concurrency)

        async def one(c: Claimed) -> None:
            async with limit:
                status_code, error = await self._post(c)
                permanent = error is not None and error.startswith(destinations.REFUSED)
                await self._finish(c, status_code, error, permanent=permanent)

        await asyncio.gather(*(one(c) for c in claimed))
        return len(claimed)

    async def _claim(self, only: list[int] | None) -> list[Claimed]:
        now = dt.datetime.now(dt.UTC)
        # longer than a POST can take, so a live worker never loses its lease mid-request
        lease = now + dt.timedelta(seconds=self.settings.webhook_timeout * 2 + 5)
        taken: list[tuple[int, str]] = []
        async with self.db.transaction() as session:
            ids = (
                only
                if only is not None
                else await repository.due_ids(session, now, self.settings.webhook_batch)
            )
            for delivery_id in ids:
                token = uuid.uuid4().hex
                result = await session.execute(
                    update(WebhookDelivery)
                    .where(WebhookDelivery.id == delivery_id, repository.due(now))
                    .values(
                        lease_token=token, lease_until=lease, attempts=WebhookDelivery.attempts + 1
                    )
                    .execution_options(synchronize_session=False)
                )
                if getattr(result, "rowcount", 0) == 1:
                    taken.append((delivery_id, token))
            out: list[Claimed] = []
            for delivery_id, token in taken:
                row = await session.get(WebhookDelivery, delivery_id, populate_existing=True)
                hook = await session.get(Webhook, row.webhook_id) if row else None
                events = await repository.events(session, [row.event_id]) if row else {}
                if row is None or hook is None or row.event_id not in events:
                    continue
                out.append(
                    Claimed(
                        delivery_id=delivery_id,
                        token=token,
                        attempt=row.attempts,
                        url=hook.url,
                        secret=hook.secret,
                        event=events[row.event_id],
                    )
                )
            return out

    async def _post(self, c: Claimed) -> tuple[int | None, str | None]:
        body = json.dumps(c.event.body(), ensure_ascii=False, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "fdhub-webhooks/1",
            webhooks.SIGNATURE_HEADER: webhooks.sign(c.secret, body),
            webhooks.EVENT_ID_HEADER: str(c.event.id),
            webhooks.EVENT_TYPE_HEADER: c.event.type,
            webhooks.DELIVERY_HEADER: str(c.delivery_id),
            "X-Hub-Attempt": str(c.attempt),
        }
        assert self._http is not None
        try:
            # the client resolves, checks and connects to the checked address in one go
            response = await self._http.post(c.url, content=body, headers=headers)
        except destinations.DestinationRefused as e:
            return None, e.reason
        except httpx.HTTPError as e:
            return None, type(e).__name__
        if 200 <= response.status_code < 300:
            return response.status_code, None
        return response.status_code, f"HTTP {response.status_code}"

    async def _finish(
        self, c: Claimed, status_code: int | None, error: str | None, *, permanent: bool = False
    ) -> None:
        now = dt.datetime.now(dt.UTC)
        values: dict[str, Any] = {
            "lease_token": None,
            "lease_until": None,
            "last_status_code": status_code,
            "last_error": error,
        }
        if error is None:
            values.update(status=DeliveryStatus.DELIVERED, delivered_at=now)
        elif permanent or c.attempt >= self.settings.webhook_max_attempts:
            values.update(status=DeliveryStatus.FAILED)
        else:
            delay = backoff(c.attempt, self.settings, self._rng)
            values.update(next_attempt_at=now + dt.timedelta(seconds=delay))
        async with self.db.transaction() as session:
            row = await session.get(WebhookDelivery, c.delivery_id)
            history = list(row.history or []) if row else []
            history.append(
                {
                    "at": now.isoformat(),
                    "attempt": c.attempt,
                    "status_code": status_code,
                    "error": error,
                }
            )
            await session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == c.delivery_id, WebhookDelivery.lease_token == c.token)
                .values(history=history, **values)
                .execution_options(synchronize_session=False)
            )
        if error is not None:
            log.info(
                "webhooks.attempt_failed",
                delivery=c.delivery_id,
                attempt=c.attempt,
                status_code=status_code,
                error=error,
                permanent=permanent,
            )
