"""Resident-scoped tokens (居民授权): a signing app acting for one resident.

A vendor client with `residents:delegate` starts a login with the resident's ID number and
name; the hub sends a one-time code to the phone on the record and answers the same whether
or not such a person exists. The resident gives the code back through the app, which gets a
short-lived token that sees that resident and their wards (minors of the household they
head or parent, and those whose guardian record names them) and nothing else. Codes and
tokens are stored hashed. Revocation is checked on every request (one indexed lookup), so
it holds at once in every process.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from hub.access.models import Client
from hub.access.principal import Principal, Scope
from hub.access.sms import NoSender, SmsSender
from hub.db import Base, utcnow
from hub.errors import DomainError, InvalidInput

TOKEN_PREFIX = "hubr_"
MAX_TRIES = 5
# What a resident token may do: the vendor's own read and sign scopes, never more.
DELEGABLE = frozenset({Scope.RESIDENTS_READ, Scope.CONTRACTS_READ, Scope.CONTRACTS_WRITE,
                       Scope.REFERRALS_READ, Scope.REFERRALS_WRITE})  # fmt: skip
PARENTS = ("SELF", "SPOUSE")  # relations to the head whose CHILD members are their children


class ResidentLogin(Base):
    """One login attempt: the code (hashed) sent for it, and how often it was tried."""

    __tablename__ = "resident_login"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client.id"))
    # None: nobody matched; the login looks the same and can never succeed
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id"))
    code_hash: Mapped[str] = mapped_column(String(64))
    tries: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    done_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class ResidentToken(Base):
    """A token a vendor app holds for one resident (and the wards it was issued with)."""

    __tablename__ = "resident_token"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client.id"))
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"))
    ward_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    revoked_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    # granted SMART scopes of a token issued through OAuth (hub.access.oauth); None: a
    # GraphQL login's token, with the vendor's delegable scopes
    scope: Mapped[str | None] = mapped_column(String(1000), default=None)

    __table_args__ = (Index("ix_resident_token_resident", "resident_id", "client_id"),)


@dataclass(frozen=True, slots=True)
class Issued:
    token: str
    expires_at: dt.datetime
    resident_id: int


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _code_hash(login_id: str, code: str) -> str:
    # keyed by the login id: the same code in two logins hashes differently
    return hmac.new(login_id.encode(), code.encode(), hashlib.sha256).hexdigest()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def require_delegate(principal: Principal) -> int:
    if principal.resident_ids or principal.client_id is None:
        raise InvalidInput("Only a vendor client logs residents in.", field=None,
                           code="NOT_A_VENDOR")  # fmt: skip
    principal.require(Scope.RESIDENTS_DELEGATE)
    return principal.client_id


async def _find(session: AsyncSession, id_number: str, name: str) -> tuple[int, str] | None:
    """The active resident with this ID number and name, and a phone on the record."""
    from hub.registry import idnumber
    from hub.registry import repository as registry
    from hub.registry.models import ResidentStatus

    number = idnumber.parse(id_number)
    if not number.valid:
        return None  # the same answer as for a valid number nobody holds
    canonical = number.value
    ids = await registry.by_identifier(session, "ID_CARD", canonical)  # HMAC index
    for r in (await registry.get_many(session, ids)).values():
        if (
            r.status == ResidentStatus.ACTIVE
            and (r.name or "").strip() == name.strip()
            and r.phones
        ):
            return r.id, r.phones[0]
    return None


@dataclass(frozen=True, slots=True)
class LoginLimits:
    """How many codes may go out per person (ID number) and per vendor client in a window:
    token buckets of hub.access.budgets, shared by every process."""

    people: Any  # BudgetStore over login_budget
    clients: Any  # BudgetStore over client_budget
    per_person: int
    per_client: int
    window_seconds: float

    @classmethod
    def of(cls, hub: Any) -> LoginLimits:
        from hub.access.budgets import budgets_of, login_budgets_of

        s = hub.settings
        return cls(login_budgets_of(hub), budgets_of(hub), s.resident_codes_per_person,
                   s.resident_codes_per_client, s.resident_code_window_minutes * 60.0)  # fmt: skip

    async def charge(self, client_id: int, id_number: str) -> None:
        for store, key, allowance, what in (
            (self.clients, client_id, self.per_client, "this app"),
            (self.people, _subject(id_number), self.per_person, "this ID number"),
        ):  # fmt: skip
            if not allowance:
                continue
            got = await store.charge(key, "login", 1, allowance, self.window_seconds)
            if not got.allowed:
                raise LoginFailed(
                    f"Too many codes sent for {what}; try again in {got.retry_after} s.",
                    field="idNumber", code="LOGIN_RATE_LIMITED")  # fmt: skip


def _subject(id_number: str) -> str:
    """The person a code is asked for, whether or not the hub knows them (the same limit
    either way, so the limit tells nothing): the hashed canonical ID number."""
    from hub.registry import idnumber

    number = idnumber.parse(id_number)
    text = number.value if number.valid else id_number.strip().upper()
    return _hash("login:" + text)


async def start_login(
    session: AsyncSession, principal: Principal, id_number: str, name: str, *,
    sender: SmsSender, code_minutes: int, limits: LoginLimits | None = None,
) -> str:  # fmt: skip
    """A login id; the code goes to the phone on the record, if there is such a person."""
    client_id = require_delegate(principal)
    if not id_number.strip() or not name.strip() or len(id_number) > 40 or len(name) > 100:
        raise InvalidInput("Give the ID number and the name as on the ID card.",
                           field="idNumber", code="INVALID_INPUT")  # fmt: skip
    if limits is not None:
        await limits.charge(client_id, id_number)
    found = await _find(session, id_number, name)
    login_id = secrets.token_urlsafe(18)
    code = f"{secrets.randbelow(10**6):06d}"
    session.add(ResidentLogin(
        id=login_id, client_id=client_id, resident_id=found[0] if found else None,
        code_hash=_code_hash(login_id, code),
        expires_at=_now() + dt.timedelta(minutes=code_minutes)))  # fmt: skip
    await session.flush()
    if found:
        await sender.send_code(login_id, found[1], code)
    else:
        await NoSender().send_code(login_id, "", code)
    return login_id


class LoginFailed(DomainError):
    pass


async def complete_login(
    session: AsyncSession, principal: Principal, login_id: str, code: str, *,
    token_minutes: int,
) -> Issued:  # fmt: skip
    """The resident token, once the code matches (at most MAX_TRIES tries, before expiry)."""
    client_id = require_delegate(principal)
    resident_id = await verify_code(session, client_id, login_id, code)
    return await issue(session, client_id, resident_id, token_minutes=token_minutes)


async def verify_code(session: AsyncSession, client_id: int, login_id: str, code: str) -> int:
    """The resident of the login once its code matches; the login is then done."""
    login = await session.get(ResidentLogin, login_id[:40], with_for_update=True)
    if login is None or login.client_id != client_id:
        raise LoginFailed("No such login; start again with startResidentLogin.",
                          field="loginId", code="LOGIN_UNKNOWN")  # fmt: skip
    if login.done_at is not None or login.tries >= MAX_TRIES:
        raise LoginFailed("This login is void (used, or too many wrong codes); start again.",
                          field="loginId", code="LOGIN_VOID")  # fmt: skip
    if _aware(login.expires_at) <= _now():
        raise LoginFailed("The code has expired; start again.", field="code",
                          code="CODE_EXPIRED")  # fmt: skip
    ok = hmac.compare_digest(login.code_hash, _code_hash(login.id, code.strip()))
    if not ok or login.resident_id is None:
        login.tries += 1
        left = MAX_TRIES - login.tries
        if left <= 0:
            login.done_at = _now()
            raise CommittedFailure(LoginFailed("Wrong code, and that was the last try: this login "
                                         "is void; start again.", field="code",
                                         code="LOGIN_VOID"))  # fmt: skip
        raise CommittedFailure(LoginFailed(f"Wrong code; {left} tries left.", field="code",
                                     code="WRONG_CODE"))  # fmt: skip
    login.done_at = _now()
    return login.resident_id


async def issue(
    session: AsyncSession, client_id: int, resident_id: int, *, token_minutes: int,
    scope: str | None = None,
) -> Issued:  # fmt: skip
    """A new resident token (stored hashed) for the resident and their wards as of now."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires = _now() + dt.timedelta(minutes=token_minutes)
    session.add(ResidentToken(token_hash=_hash(token), client_id=client_id,
                              resident_id=resident_id, ward_ids=await wards(session, resident_id),
                              expires_at=expires, scope=scope))  # fmt: skip
    await session.flush()
    return Issued(token, expires, resident_id)


class CommittedFailure(Exception):
    """A failure whose bookkeeping (the try count) must still be committed."""

    def __init__(self, error: DomainError) -> None:
        super().__init__(error.message)
        self.error = error


async def wards(session: AsyncSession, resident_id: int, today: dt.date | None = None) -> list[int]:
    """Those the resident is guardian of: minors of a household they head (or of which they
    are a parent, their CHILD members), and residents whose guardian or mother record names
    them by ID number."""
    from hub.registry.models import Household, Resident, ResidentIdentifier, ResidentStatus

    me = await session.get(Resident, resident_id)
    if me is None:
        return []
    today = today or dt.date.today()
    adult_born = today.replace(year=today.year - 18) if not (today.month == 2 and today.day == 29) \
        else today.replace(year=today.year - 18, day=28)  # fmt: skip
    found: set[int] = set()
    if me.household_id is not None:
        head = await session.scalar(select(Household.head_resident_id)
                                    .where(Household.id == me.household_id))  # fmt: skip
        members = await session.scalars(select(Resident).where(
            Resident.household_id == me.household_id, Resident.id != me.id,
            Resident.status == ResidentStatus.ACTIVE,
            Resident.birth_date > adult_born))  # fmt: skip
        for m in members:
            if head == me.id or (me.household_relation in PARENTS
                                 and m.household_relation == "CHILD"):  # fmt: skip
                found.add(m.id)
    if me.id_number:
        # The columns are encrypted: candidates come from the HMAC index, and the
        # decrypted values are checked here.
        linked = select(ResidentIdentifier.resident_id).where(
            ResidentIdentifier.system.in_(("MOTHER_ID_CARD", "GUARDIAN_ID_CARD")),
            ResidentIdentifier.value == me.id_number)  # fmt: skip
        rows = await session.execute(select(
            Resident.id, Resident.guardian, Resident.mother_id_number, Resident.birth_date
        ).where(
            Resident.status == ResidentStatus.ACTIVE, Resident.id != me.id,
            Resident.id.in_(linked)))  # fmt: skip
        for rid, guardian, mother, born in rows:
            if (guardian or {}).get("id_number") == me.id_number:
                found.add(rid)
            elif mother == me.id_number and born is not None and born > adult_born:
                found.add(rid)
    return sorted(found)


async def authenticate(session: AsyncSession, token: str) -> Principal | None:
    """The principal of a live resident token (not expired, not revoked, its app active)."""
    # columns, not entities: this runs on every request of a resident token
    row = (await session.execute(
        select(ResidentToken.resident_id, ResidentToken.ward_ids, ResidentToken.expires_at,
               ResidentToken.scope, Client.id, Client.name, Client.scopes,
               Client.expires_at.label("client_expires"),
               Client.rate_per_minute, Client.cost_per_minute, Client.introspection)
        .join(Client, Client.id == ResidentToken.client_id)
        .where(ResidentToken.token_hash == _hash(token), ResidentToken.revoked_at.is_(None),
               Client.active.is_(True))
    )).first()  # fmt: skip
    if row is None:
        return None
    now = _now()
    if _aware(row.expires_at) <= now:
        return None
    if row.client_expires is not None and _aware(row.client_expires) <= now:
        return None
    if Scope.RESIDENTS_DELEGATE not in row.scopes:
        return None
    scopes = frozenset(s for s in row.scopes if s in DELEGABLE)
    granted = None
    if row.scope is not None:  # issued through OAuth: SMART scopes narrow it further
        from hub.access import smart

        granted = dataclasses.replace(smart.parse(row.scope), vendor=scopes)
        scopes &= granted.hub_scopes()
    return Principal(
        name=f"resident:{row.name}#{row.resident_id}",  # the audit actor: app and resident
        scopes=scopes,
        smart=granted,
        client_id=row.id,
        resident_ids=(row.resident_id, *row.ward_ids),
        rate_per_minute=row.rate_per_minute,
        cost_per_minute=row.cost_per_minute,
        introspection=row.introspection,
    )


@dataclass(frozen=True, slots=True)
class App:
    client_id: int
    name: str
    issued_at: dt.datetime
    expires_at: dt.datetime


def _self(principal: Principal) -> int:
    if not principal.resident_ids:
        raise InvalidInput("Only a resident's token lists or revokes the apps holding one.",
                           field=None, code="NOT_A_RESIDENT")  # fmt: skip
    return principal.resident_ids[0]


async def apps(session: AsyncSession, principal: Principal) -> list[App]:
    """The apps holding a live token for this resident."""
    rid = _self(principal)
    rows = await session.execute(
        select(Client.id, Client.name, ResidentToken.created_at, ResidentToken.expires_at)
        .join(Client, Client.id == ResidentToken.client_id)
        .where(ResidentToken.resident_id == rid, ResidentToken.revoked_at.is_(None),
               ResidentToken.expires_at > _now())
        .order_by(ResidentToken.created_at))  # fmt: skip
    latest: dict[int, App] = {}
    for cid, name, issued, expires in rows:
        latest[cid] = App(cid, name, _aware(issued), _aware(expires))
    return list(latest.values())


async def revoke(session: AsyncSession, principal: Principal, client_id: int | None) -> int:
    """Revoke every token `client_id` (default: the calling app) holds for this resident."""
    rid = _self(principal)
    target = client_id if client_id is not None else principal.client_id
    result = await session.execute(
        update(ResidentToken)
        .where(ResidentToken.resident_id == rid, ResidentToken.client_id == target,
               ResidentToken.revoked_at.is_(None))
        .values(revoked_at=_now()))  # fmt: skip
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def token_row(session: AsyncSession, token: str) -> ResidentToken | None:
    """The stored row of a resident token (live or not); None for anything else."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    return await session.get(ResidentToken, _hash(token))


def live(row: ResidentToken) -> bool:
    return row.revoked_at is None and _aware(row.expires_at) > _now()


async def revoke_hashes(session: AsyncSession, token_hashes: list[str]) -> None:
    """Revoke these tokens at once (every process checks revocation on each request)."""
    if token_hashes:
        await session.execute(
            update(ResidentToken)
            .where(ResidentToken.token_hash.in_(token_hashes), ResidentToken.revoked_at.is_(None))
            .values(revoked_at=_now()))  # fmt: skip


def hash_of(token: str) -> str:
    return _hash(token)
