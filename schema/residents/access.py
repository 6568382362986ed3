"""Resident login (居民登录) for vendor apps, and the resident's view of the apps it trusts."""

from __future__ import annotations

import datetime as dt
from typing import Any

import strawberry
from strawberry.types import Info

from hub.access import resident_tokens
from hub.access.sms import sender_from
from hub.errors import DomainError
from schema.context import Context
from schema.errors import UserError, user_errors
from schema.relay import int_id, to_global_id


@strawberry.input(description="The resident's ID number and name, as on the ID card.")
class StartResidentLoginInput:
    id_number: str
    name: str


@strawberry.type
class StartResidentLoginPayload:
    login_id: str | None = strawberry.field(
        description="Give it back with the code. The same answer whether or not the hub "
        "knows the person: the code goes to the phone on the record, if there is one."
    )
    user_errors: list[UserError]


@strawberry.type(description="Who the resident token stands for.")
class LoggedInResident:
    id: strawberry.ID = strawberry.field(description="The Resident's global id.")


@strawberry.type
class CompleteResidentLoginPayload:
    access_token: str | None = strawberry.field(
        description="A bearer token that sees this resident and their wards only."
    )
    expires_at: dt.datetime | None
    resident: LoggedInResident | None
    user_errors: list[UserError]


@strawberry.type(description="An app holding a live token for the resident.")
class ResidentApp:
    client_id: strawberry.ID
    name: str
    issued_at: dt.datetime
    expires_at: dt.datetime


@strawberry.type
class RevokeResidentAccessPayload:
    revoked: int = strawberry.field(description="Tokens revoked.")
    user_errors: list[UserError]


def _client_gid(client_id: int) -> strawberry.ID:
    return strawberry.ID(to_global_id("Client", client_id))


@strawberry.type
class ResidentAccessQuery:
    @strawberry.field(description="For a resident's token: the apps holding a token for them.")
    async def resident_apps(self, info: Info[Context, Any]) -> list[ResidentApp]:
        ctx = info.context
        if not ctx.principal.resident_ids:
            return []
        apps = await ctx.run(lambda s: resident_tokens.apps(s, ctx.principal))
        return [
            ResidentApp(client_id=_client_gid(a.client_id), name=a.name,
                        issued_at=a.issued_at, expires_at=a.expires_at)
            for a in apps
        ]  # fmt: skip


@strawberry.type
class ResidentAccessMutation:
    @strawberry.mutation(
        description="A vendor app (scope residents:delegate) starts a resident's login: a "
        "one-time code is sent to the phone on the record."
    )
    async def start_resident_login(
        self, info: Info[Context, Any], input: StartResidentLoginInput
    ) -> StartResidentLoginPayload:
        ctx = info.context
        settings = ctx.hub.settings
        login_id, errors = await ctx.write(lambda s: resident_tokens.start_login(
            s, ctx.principal, input.id_number, input.name,
            sender=sender_from(settings.sms_sender),
            code_minutes=settings.resident_code_minutes,
            limits=resident_tokens.LoginLimits.of(ctx.hub)))  # fmt: skip
        return StartResidentLoginPayload(login_id=login_id, user_errors=errors)

    @strawberry.mutation(
        description="The code the resident received → a short-lived resident token. Wrong "
        "code: WRONG_CODE; after 5 wrong codes the login is void (LOGIN_VOID)."
    )
    async def complete_resident_login(
        self, info: Info[Context, Any], login_id: str, code: str
    ) -> CompleteResidentLoginPayload:
        ctx = info.context
        failure: DomainError | None = None
        issued = None
        try:
            async with ctx.lock, ctx.hub.db.transaction() as session:
                try:
                    issued = await resident_tokens.complete_login(
                        session, ctx.principal, login_id, code,
                        token_minutes=ctx.hub.settings.resident_token_minutes)  # fmt: skip
                except resident_tokens.CommittedFailure as e:
                    failure = e.error  # the try is counted: the transaction commits
        except DomainError as e:
            failure = e
        if issued is None:
            return CompleteResidentLoginPayload(
                access_token=None, expires_at=None, resident=None,
                user_errors=user_errors(failure) if failure else [])  # fmt: skip
        return CompleteResidentLoginPayload(
            access_token=issued.token, expires_at=issued.expires_at,
            resident=LoggedInResident(id=strawberry.ID(to_global_id("Resident",
                                                                    issued.resident_id))),
            user_errors=[])  # fmt: skip

    @strawberry.mutation(
        description="For a resident's token: revoke an app's tokens (default: the calling "
        "app's), at once."
    )
    async def revoke_resident_access(
        self, info: Info[Context, Any], client_id: strawberry.ID | None = None
    ) -> RevokeResidentAccessPayload:
        ctx = info.context
        try:
            cid = int_id(client_id, "Client") if client_id is not None else None
        except DomainError as e:
            return RevokeResidentAccessPayload(revoked=0, user_errors=user_errors(e))
        n, errors = await ctx.write(lambda s: resident_tokens.revoke(s, ctx.principal, cid))
        return RevokeResidentAccessPayload(revoked=n or 0, user_errors=errors)
