"""Clients, bearer tokens and the audit trail."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import re
import secrets
import time
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.access.models import Client, SourceSystem
from hub.access.principal import Principal, Scope
from hub.db import utcnow
from hub.errors import InvalidInput, NotFound

KNOWN_SCOPES = frozenset(s.value for s in Scope)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


SOURCE_KEY = re.compile(r"^[a-z0-9][a-z0-9._-]{1,39}$")


def principal_of(client: Client) -> Principal:
    """The principal a client's token stands for."""
    return Principal(
        name=client.name,
        scopes=frozenset(client.scopes),
        organization_ids=tuple(client.organization_ids),
        client_id=client.id,
        practitioner_ids=tuple(client.practitioner_ids or ()),
        sources=tuple(client.sources or ()),
        rate_per_minute=client.rate_per_minute,
        cost_per_minute=client.cost_per_minute,
        introspection=client.introspection,
    )


async def _unknown(session: AsyncSession, column: Any, wanted: Iterable[str]) -> list[str]:
    wanted = sorted(set(wanted))
    if not wanted:
        return []
    found = set(await session.scalars(select(column).where(column.in_(wanted))))
    return [w for w in wanted if w not in found]


async def _check_bindings(
    session: AsyncSession,
    scopes: Iterable[str],
    organization_ids: Iterable[str],
    practitioner_ids: Iterable[str],
    sources: Iterable[str],
) -> None:
    from hub.directory.models import Organization, Practitioner

    unknown = set(scopes) - KNOWN_SCOPES
    if unknown:
        raise InvalidInput(
            f"Unknown scope(s) {', '.join(sorted(unknown))}; "
            f"known: {', '.join(sorted(KNOWN_SCOPES))}",
            field="scope",
            code="UNKNOWN_SCOPE",
        )
    for column, values, fld, code, hint in (
        (Organization.id, organization_ids, "organization", "UNKNOWN_ORGANIZATION",
         "an organization id from the directory (organizations { code })"),
        (Practitioner.id, practitioner_ids, "practitioner", "UNKNOWN_PRACTITIONER",
         "a practitioner id from the directory"),
        (SourceSystem.key, sources, "source", "UNKNOWN_SOURCE",
         "a registered source system (`hub source add KEY --trust N`, `hub source list`)"),
    ):  # fmt: skip
        missing = await _unknown(session, column, values)
        if missing:
            raise InvalidInput(f"No such {fld}: {', '.join(missing)}; give {hint}.",
                               field=fld, code=code)  # fmt: skip


def _budget(value: int | None, fld: str) -> int | None:
    """A per-minute budget: None (the settings' default), 0 (unlimited) or a positive count."""
    if value is not None and not 0 <= value <= 10**12:
        raise InvalidInput(f"The {fld} budget is a count per minute, 0 (unlimited) or more.",
                           field=fld, code="INVALID_BUDGET")  # fmt: skip
    return value


def _new_token() -> str:
    return "hub_" + secrets.token_urlsafe(32)


async def create_client(
    session: AsyncSession,
    name: str,
    scopes: Iterable[str],
    organization_ids: Iterable[str] = (),
    *,
    practitioner_ids: Iterable[str] = (),
    sources: Iterable[str] = (),
    expires_at: dt.datetime | None = None,
    rate_per_minute: int | None = None,
    cost_per_minute: int | None = None,
    introspection: bool | None = None,
) -> tuple[Client, str]:
    """Register a client; returns it with its bearer token (shown once, stored hashed).
    Organizations, practitioners and sources must exist: a typo would otherwise bind a
    client to nothing, or to everything."""
    scopes = sorted(set(scopes))
    organization_ids, practitioner_ids = (
        sorted(set(organization_ids)),
        sorted(set(practitioner_ids)),
    )
    sources = sorted(set(sources))
    if await session.scalar(select(Client.id).where(Client.name == name)):
        raise InvalidInput(
            f"A client named '{name}' exists already; `hub client rotate {name}` gives it a "
            "new token.",
            field="name",
            code="CLIENT_EXISTS",
        )
    await _check_bindings(session, scopes, organization_ids, practitioner_ids, sources)
    token = _new_token()
    client = Client(
        name=name,
        token_hash=hash_token(token),
        scopes=scopes,
        organization_ids=organization_ids,
        practitioner_ids=practitioner_ids,
        sources=sources,
        expires_at=expires_at,
        rate_per_minute=_budget(rate_per_minute, "rate"),
        cost_per_minute=_budget(cost_per_minute, "cost"),
        introspection=introspection,
    )
    session.add(client)
    await session.flush()
    return client, token


async def get_client(session: AsyncSession, name: str) -> Client:
    client = await session.scalar(select(Client).where(Client.name == name))
    if client is None:
        raise NotFound(f"No client named '{name}' (`hub client list`).", field="name")
    return client


async def list_clients(session: AsyncSession) -> list[Client]:
    return list(await session.scalars(select(Client).order_by(Client.id)))


async def revoke_client(session: AsyncSession, name: str) -> Client:
    """The token stops working (within the token cache's lifetime in other processes)."""
    client = await get_client(session, name)
    client.active = False
    client.revoked_at = utcnow()
    return client


async def rotate_client(
    session: AsyncSession, name: str, *, expires_at: dt.datetime | None = None
) -> tuple[Client, str]:
    """A new token for an existing client; the old one stops working."""
    client = await get_client(session, name)
    token = _new_token()
    client.token_hash = hash_token(token)
    client.rotated_at = utcnow()
    client.active, client.revoked_at = True, None
    if expires_at is not None:
        client.expires_at = expires_at
    return client, token


async def update_client(
    session: AsyncSession,
    name: str,
    *,
    scopes: Iterable[str] | None = None,
    organization_ids: Iterable[str] | None = None,
    practitioner_ids: Iterable[str] | None = None,
    sources: Iterable[str] | None = None,
    expires_at: dt.datetime | None = None,
    rate_per_minute: int | None = None,
    cost_per_minute: int | None = None,
    introspection: bool | None = None,
) -> Client:
    client = await get_client(session, name)
    if rate_per_minute is not None:
        client.rate_per_minute = _budget(rate_per_minute, "rate")
    if cost_per_minute is not None:
        client.cost_per_minute = _budget(cost_per_minute, "cost")
    if introspection is not None:
        client.introspection = introspection
    await _check_bindings(session, scopes or (), organization_ids or (), practitioner_ids or (),
                          sources or ())  # fmt: skip
    if scopes is not None:
        client.scopes = sorted(set(scopes))
    if organization_ids is not None:
        client.organization_ids = sorted(set(organization_ids))
    if practitioner_ids is not None:
        client.practitioner_ids = sorted(set(practitioner_ids))
    if sources is not None:
        client.sources = sorted(set(sources))
    if expires_at is not None:
        client.expires_at = expires_at
    return client


async def add_source(
    session: AsyncSession, key: str, name: str, *, trust: int, verifies_identity: bool = False
) -> SourceSystem:
    """Register (or re-rank) a source system."""
    if not SOURCE_KEY.match(key):
        raise InvalidInput(
            "A source key is 2-40 characters: lower-case letters, digits, '.', '_' or '-'.",
            field="key",
            code="INVALID_SOURCE_KEY",
        )
    if not 0 <= trust <= 1000:
        raise InvalidInput("Trust is between 0 and 1000.", field="trust", code="INVALID_TRUST")
    row = await session.get(SourceSystem, key)
    if row is None:
        row = SourceSystem(key=key, name=name or key, trust=trust,
                           verifies_identity=verifies_identity)  # fmt: skip
        session.add(row)
    else:
        row.name, row.trust, row.verifies_identity = name or row.name, trust, verifies_identity
    await session.flush()
    return row


async def list_sources(session: AsyncSession) -> list[SourceSystem]:
    return list(
        await session.scalars(
            select(SourceSystem).order_by(SourceSystem.trust.desc(), SourceSystem.key)
        )
    )


class TokenCache:
    """Token → principal, cached briefly so authentication costs no query per request.
    An expired or revoked token is refused (a revocation elsewhere within `ttl`)."""

    def __init__(self, ttl: float = 30.0) -> None:
        self.ttl = ttl
        self._entries: dict[str, tuple[float, Principal | None, dt.datetime | None]] = {}

    async def authenticate(self, session: AsyncSession, token: str) -> Principal | None:
        from hub.access import resident_tokens

        if token.startswith(resident_tokens.TOKEN_PREFIX):  # never cached: revocation holds at once
            return await resident_tokens.authenticate(session, token)
        key = hash_token(token)
        hit = self._entries.get(key)
        now = time.monotonic()
        if hit and now - hit[0] < self.ttl:
            principal, expires = hit[1], hit[2]
        else:
            row = await session.scalar(
                select(Client).where(Client.token_hash == key, Client.active.is_(True))
            )
            principal = principal_of(row) if row else None
            expires = row.expires_at if row else None
            if len(self._entries) > 10_000:  # bounded: random tokens must not grow it
                self._entries.clear()
            self._entries[key] = (now, principal, expires)
        if expires is not None and expires <= dt.datetime.now(dt.UTC):
            return None
        return principal

    def forget(self) -> None:
        self._entries.clear()


async def audit(
    session: AsyncSession,
    principal: Principal,
    action: str,
    operation: str,
    resident_ids: Iterable[int | str],
) -> None:
    from hub.access.audit import append, event_row

    row = event_row(principal, action, operation, resident_ids)
    if row is not None:  # chained in this transaction (hub.access.audit)
        await append(session, [row])


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
        from hub.access.audit import event_row

        row = event_row(principal, action, operation, resident_ids)
        if row is not None:
            self.pending.append(row)

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
                from hub.access.audit import append

                await append(session, rows)  # hash-chained, under the chain lock
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
