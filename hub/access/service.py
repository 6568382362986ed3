"""Clients, bearer tokens and the audit trail."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import secrets
import time
from collections.abc import Iterable
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.access.models import AuditEvent, Client
from hub.access.principal import Principal, Scope
from hub.errors import InvalidInput

KNOWN_SCOPES = frozenset(s.value for s in Scope)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_client(
    session: AsyncSession, name: str, scopes: Iterable[str], organization_ids: Iterable[str] = ()
) -> tuple[Client, str]:
    """Register a client; returns it with its bearer token (shown once, stored hashed)."""
    scopes = sorted(set(scopes))
    unknown = set(scopes) - KNOWN_SCOPES
    if unknown:
        raise InvalidInput(
            f"Unknown scope(s) {', '.join(sorted(unknown))}; "
            f"known: {', '.join(sorted(KNOWN_SCOPES))}",
            field="scope",
            code="UNKNOWN_SCOPE",
        )
    if await session.scalar(select(Client.id).where(Client.name == name)):
        raise InvalidInput(
            f"A client named '{name}' exists already.", field="name", code="CLIENT_EXISTS"
        )
    token = "hub_" + secrets.token_urlsafe(32)
    client = Client(
        name=name,
        token_hash=hash_token(token),
        scopes=scopes,
        organization_ids=sorted(set(organization_ids)),
    )
    session.add(client)
    await session.flush()
    return client, token


class TokenCache:
    """Token → principal, cached briefly so authentication costs no query per request."""

    def __init__(self, ttl: float = 30.0) -> None:
        self.ttl = ttl
        self._entries: dict[str, tuple[float, Principal | None]] = {}

    async def authenticate(self, session: AsyncSession, token: str) -> Principal | None:
        key = hash_token(token)
        hit = self._entries.get(key)
        now = time.monotonic()
        if hit and now - hit[0] < self.ttl:
            return hit[1]
        row = await session.scalar(
            select(Client).where(Client.token_hash == key, Client.active.is_(True))
        )
        principal = (
            Principal(
                name=row.name,
                scopes=frozenset(row.scopes),
                organization_ids=tuple(row.organization_ids),
                client_id=row.id,
            )
            if row
            else None
        )
        self._entries[key] = (now, principal)
        return principal


async def audit(
    session: AsyncSession,
    principal: Principal,
    action: str,
    operation: str,
    resident_ids: Iterable[int | str],
) -> None:
    ids = sorted({str(i) for i in resident_ids})
    if not ids:
        return
    await session.execute(
        insert(AuditEvent).values(
            client_id=principal.client_id,
            actor=principal.name,
            action=action,
            operation=operation,
            resident_ids=ids,
            request_id=principal.request_id,
        )
    )


class AuditBuffer:
    """Read audits are buffered and written in batches by one background task, so a read
    request costs no write transaction of its own. Writes are audited in their own
    transaction (`audit`). `close()` flushes what is pending on shutdown."""

    def __init__(self, db: Any, interval: float = 0.05) -> None:
        self.db = db
        self.interval = interval
        self.pending: list[dict[str, Any]] = []
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    def add(
        self, principal: Principal, action: str, operation: str, resident_ids: Iterable[int | str]
    ) -> None:
        ids = sorted({str(i) for i in resident_ids})
        if ids:
            self.pending.append(
                dict(
                    client_id=principal.client_id,
                    actor=principal.name,
                    action=action,
                    operation=operation,
                    resident_ids=ids,
                    request_id=principal.request_id,
                    at=dt.datetime.now(dt.UTC),
                )
            )

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.flush()

    async def flush(self) -> None:
        rows, self.pending = self.pending, []
        if not rows:
            return
        try:
            async with self.db.transaction() as session:
                await session.execute(insert(AuditEvent), rows)
        except Exception:
            self.pending[:0] = rows  # keep them for the next flush; never drop an audit row
            raise

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()
