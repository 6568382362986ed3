"""Per-client budgets (限流): a request rate and a query-cost budget, each a token bucket
per minute, shared by every process through the `client_budget` table.

A bucket holds at most one minute's allowance and refills continuously. A process never
spends a token it has not first taken from the shared row: it takes a small *lease*
(``LEASE_SHARE`` of the minute's allowance, at least what the request needs) with one
atomic ``UPDATE … RETURNING`` (compare-and-set on the refilled balance; SQLite's write lock
or PostgreSQL's row lock makes it atomic), then spends it locally without a query. So N
processes together never spend more than the budget; at worst each holds a lease it has
not used yet, and a client may be refused up to ``N × LEASE_SHARE`` of its allowance
early. Within a process one request at a time renews a bucket's lease; the others wait
for it and spend what it brought. A changed limit applies from the next lease.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Float, ForeignKey, String, case, literal, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, Database

if TYPE_CHECKING:
    from hub.access.principal import Principal
    from hub.settings import Settings

LEASE_SHARE = 0.02  # of a minute's allowance, per process and lease
RATE, COST = "rate", "cost"


class ClientBudget(Base):
    """One token bucket of a client (kind ``rate`` or ``cost``): its balance at a time."""

    __tablename__ = "client_budget"

    client_id: Mapped[int] = mapped_column(ForeignKey("client.id", ondelete="CASCADE"),
                                           primary_key=True)  # fmt: skip
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    tokens: Mapped[float] = mapped_column(Float)
    taken: Mapped[float] = mapped_column(Float)  # the last lease (what RETURNING reports)
    updated_at: Mapped[float] = mapped_column(Float)  # epoch seconds


@dataclass(frozen=True, slots=True)
class Charge:
    """The outcome of charging a bucket: allowed or not, what is left, when to retry."""

    allowed: bool
    remaining: int
    per_minute: int
    retry_after: int = 0  # whole seconds, when refused

    @property
    def reset_at(self) -> str:
        """When the bucket is full again (ISO 8601, UTC)."""
        seconds = (self.per_minute - self.remaining) * 60.0 / max(self.per_minute, 1)
        at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=max(seconds, 0.0))
        return at.isoformat(timespec="seconds")


@dataclass(slots=True)
class _Lease:
    tokens: float = 0.0
    taken_at: float = 0.0
    shared: float = 0.0  # the shared row's balance when the lease was taken


class LoginBudget(Base):
    """A token bucket of one subject of resident logins (a hashed ID number, see
    hub.access.resident_tokens): one-time codes sent for it, whoever asks."""

    __tablename__ = "login_budget"

    subject: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    tokens: Mapped[float] = mapped_column(Float)
    taken: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)


class BudgetStore:
    """Charges clients' buckets; one per process (``budgets_of(hub)``). ``model``/``key``:
    the table and its subject column (``login_budget``/``subject`` for resident logins)."""

    def __init__(self, db: Database, model: Any = None, key: str = "client_id") -> None:
        self.db = db
        self.model: Any = model or ClientBudget
        self.key = key
        self._leases: dict[tuple[int, str], _Lease] = {}
        self._locks: dict[tuple[int, str], asyncio.Lock] = {}

    async def charge(self, client_id: Any, kind: str, amount: int, per_minute: int,
                     window: float = 60.0) -> Charge:  # fmt: skip
        """Take ``amount`` tokens from the client's ``kind`` bucket holding ``per_minute``
        (an allowance that refills over ``window`` seconds, a minute unless told)."""
        key = (client_id, kind)
        lease = self._leases.setdefault(key, _Lease())
        if lease.tokens >= amount:  # the hot path: no query, no lock
            lease.tokens -= amount
            return Charge(True, int(lease.shared + lease.tokens), per_minute)
        # One renewal at a time per bucket in this process: concurrent requests wait for it
        # and spend what it brought, rather than each leasing (and stranding) its own.
        async with self._locks.setdefault(key, asyncio.Lock()):
            if lease.tokens >= amount:
                lease.tokens -= amount
                return Charge(True, int(lease.shared + lease.tokens), per_minute)
            now = time.time()
            need = amount - lease.tokens
            extra = per_minute * LEASE_SHARE
            want = need + (extra if extra >= 1 else 0.0)  # a small budget: just what it needs
            got = await self._take(client_id, kind, need, want, per_minute, now, window)
            if got is None:
                balance = await self._balance(client_id, kind, per_minute, now, window)
                wait = (need - balance) * window / max(per_minute, 1)
                return Charge(False, int(balance + lease.tokens), per_minute,
                              retry_after=max(1, math.ceil(wait)))  # fmt: skip
            taken, shared = got
            lease.tokens, lease.taken_at, lease.shared = lease.tokens + taken - amount, now, shared
            return Charge(True, int(shared + lease.tokens), per_minute)

    def peek(self, client_id: int, kind: str, per_minute: int) -> Charge:
        """What is known locally of a bucket, without a query (for ``extensions.cost``)."""
        lease = self._leases.get((client_id, kind))
        if lease is None:
            return Charge(True, per_minute, per_minute)
        return Charge(True, int(lease.shared + lease.tokens), per_minute)

    async def _take(
        self,
        client_id: Any,
        kind: str,
        need: float,
        want: float,
        per_minute: int,
        now: float,
        window: float = 60.0,
    ) -> tuple[float, float] | None:
        """Atomically take between ``need`` and ``want`` tokens: (taken, left) or None."""
        table: Any = self.model.__table__
        b = table.c
        rate = per_minute / window
        elapsed = case((b.updated_at < now, literal(now) - b.updated_at), else_=0.0)
        refilled = b.tokens + elapsed * rate
        avail = case((refilled > per_minute, float(per_minute)), else_=refilled)
        take = case((avail > want, want), else_=avail)
        statement = (
            update(table)
            .where(b[self.key] == client_id, b.kind == kind, avail >= need)
            .values(tokens=avail - take, taken=take,
                    updated_at=case((b.updated_at < now, now), else_=b.updated_at))
            .returning(b.taken, b.tokens)
        )  # fmt: skip
        for attempt in range(2):
            async with self.db.engine.begin() as conn:
                row = (await conn.execute(statement)).first()
                if row is not None:
                    return float(row.taken), float(row.tokens)
                if attempt:
                    return None
                # no row yet, or too few tokens: create it (a concurrent request may just
                # have), then try once more
                await self._create_row(conn, client_id, kind, per_minute, now)
        return None

    async def _create_row(
        self, conn: AsyncConnection, client_id: Any, kind: str, per_minute: int, now: float
    ) -> bool:
        """A full bucket for a client seen for the first time; False when it exists."""
        values = {self.key: client_id, "kind": kind, "tokens": float(per_minute), "taken": 0.0,
                  "updated_at": now}  # fmt: skip
        if conn.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
        result = await conn.execute(insert(self.model).values(**values).on_conflict_do_nothing())
        return bool(result.rowcount)

    async def _balance(self, client_id: Any, kind: str, per_minute: int, now: float,
                       window: float = 60.0) -> float:  # fmt: skip
        async with self.db.engine.connect() as conn:
            row = (await conn.execute(
                select(self.model.tokens, self.model.updated_at)
                .where(getattr(self.model, self.key) == client_id, self.model.kind == kind)
            )).first()  # fmt: skip
        if row is None:
            return float(per_minute)
        refilled = row.tokens + max(0.0, now - row.updated_at) * per_minute / window
        return float(min(float(per_minute), refilled))


def budgets_of(hub: Any) -> BudgetStore:
    """The process's budget store (created on first use, kept with the hub)."""
    store = hub.extras.get("budgets")
    if store is None:
        store = hub.extras["budgets"] = BudgetStore(hub.db)
    return store  # type: ignore[no-any-return]


def login_budgets_of(hub: Any) -> BudgetStore:
    """The process's store of resident-login buckets (per person, ``login_budget``)."""
    store = hub.extras.get("login_budgets")
    if store is None:
        store = hub.extras["login_budgets"] = BudgetStore(hub.db, LoginBudget, "subject")
    return store  # type: ignore[no-any-return]


def rate_of(principal: Principal, settings: Settings) -> int:
    """Requests per minute the client may make (0: unlimited)."""
    value = principal.rate_per_minute
    return settings.default_rate_per_minute if value is None else value


def cost_of(principal: Principal, settings: Settings) -> int:
    """Query cost per minute the client may spend (0: unlimited)."""
    value = principal.cost_per_minute
    return settings.default_cost_per_minute if value is None else value


def introspection_allowed(principal: Principal, settings: Settings) -> bool:
    """The client's own switch; else on in development, and for admins in production."""
    if principal.introspection is not None:
        return principal.introspection
    return principal.is_admin or (settings.mode != "production" and settings.introspection)
