"""OAuth 2.0 for resident-facing apps (RFC 6749 authorization code, PKCE S256 per RFC 7636,
revocation per RFC 7009, introspection per RFC 7662) with SMART on FHIR patient scopes.

A registered app is a hub client with `residents:delegate` plus its redirect URIs
(`hub client oauth NAME --redirect-uri URI`); its OAuth ``client_id`` is the client's name.
It is a public client (no secret): PKCE binds the code to the app instance that asked for
it. The resident proves who they are at the authorize endpoint with the one-time-code login
(hub.access.resident_tokens); the code obtained is exchanged once for a resident token that
carries the granted SMART scopes (hub.access.smart). The tokens are the same resident
tokens as the GraphQL login's: revocation holds at once in every process.

PKCE (the verifier and challenge syntax, the S256 comparison) is Authlib's; the flow's state
lives in the database.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from authlib.oauth2.rfc7636.challenge import (
    CODE_CHALLENGE_PATTERN,
    CODE_VERIFIER_PATTERN,
    compare_s256_code_challenge,
)
from sqlalchemy import JSON, ForeignKey, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from hub.access import resident_tokens, smart
from hub.access.models import Client
from hub.access.principal import Principal, Scope
from hub.db import Base, utcnow
from hub.errors import InvalidInput, NotFound


class OAuthApp(Base):
    """A hub client registered as an OAuth public client: where codes may be sent."""

    __tablename__ = "oauth_app"

    client_id: Mapped[int] = mapped_column(ForeignKey("client.id", ondelete="CASCADE"),
                                           primary_key=True)  # fmt: skip
    redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class OAuthCode(Base):
    """An authorization code (hashed): once, briefly, for the redirect URI and PKCE
    challenge it was issued with. ``token_hash``: the token it gave, revoked if the code is
    presented again (RFC 6749 §4.1.2)."""

    __tablename__ = "oauth_code"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client.id", ondelete="CASCADE"))
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"))
    redirect_uri: Mapped[str] = mapped_column(String(2000))
    scope: Mapped[str] = mapped_column(String(1000))
    code_challenge: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    token_hash: Mapped[str | None] = mapped_column(String(64), default=None)


class OAuthError(Exception):
    """An RFC 6749 §5.2 error: ``error`` is the stable code, ``status`` the HTTP status."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error, self.description, self.status = error, description, status

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


class AuthorizeError(OAuthError):
    """An authorize-endpoint error (§4.1.2.1). ``redirect``: whether it may go back to the
    app's redirect URI; never when the client or the redirect URI is in doubt."""

    def __init__(self, error: str, description: str, *, redirect: bool) -> None:
        super().__init__(error, description)
        self.redirect = redirect


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def check_redirect_uri(uri: str) -> str:
    """An absolute https URI without a fragment (http only on the loopback host), or a
    private-use scheme of a phone app (``com.example.app:/cb``, RFC 8252 §7.1)."""
    parts = urlsplit(uri)
    ok = (
        len(uri) <= 2000
        and not parts.fragment
        and (
            (parts.scheme == "https" and parts.netloc)
            or (parts.scheme == "http" and (parts.hostname or "") in
                ("localhost", "127.0.0.1", "::1"))
            or ("." in parts.scheme and parts.scheme not in ("http", "https"))
        )
    )  # fmt: skip
    if not ok:
        raise InvalidInput(
            f"Not a redirect URI an app may register: {uri!r}; give https://…, "
            "http://localhost…, or a reverse-domain scheme (com.example.app:/callback), "
            "without a fragment.", field="redirectUri", code="INVALID_REDIRECT_URI")  # fmt: skip
    return uri


async def register(session: AsyncSession, client_name: str, redirect_uris: list[str]) -> OAuthApp:
    """Register (or re-register, replacing its redirect URIs) a client as an OAuth app."""
    client = await session.scalar(select(Client).where(Client.name == client_name))
    if client is None:
        raise NotFound(f"No client named '{client_name}' (`hub client list`).", field="name")
    if Scope.RESIDENTS_DELEGATE not in client.scopes:
        raise InvalidInput("An OAuth app is a client with the residents:delegate scope "
                           f"(`hub client update {client_name} --scope residents:delegate …`).",
                           field="scope", code="NOT_A_VENDOR")  # fmt: skip
    if not redirect_uris:
        raise InvalidInput("Give at least one --redirect-uri.", field="redirectUri",
                           code="INVALID_REDIRECT_URI")  # fmt: skip
    uris = [check_redirect_uri(u) for u in dict.fromkeys(redirect_uris)]
    app = await session.get(OAuthApp, client.id)
    if app is None:
        app = OAuthApp(client_id=client.id, redirect_uris=uris)
        session.add(app)
    else:
        app.redirect_uris = uris
    await session.flush()
    return app


async def client_of(session: AsyncSession, client_id: str | None) -> tuple[Client, OAuthApp]:
    """The active registered app named ``client_id``; invalid_client otherwise."""
    client = None
    if client_id and len(client_id) <= 100:
        client = await session.scalar(select(Client).where(Client.name == client_id,
                                                           Client.active.is_(True)))  # fmt: skip
    app = await session.get(OAuthApp, client.id) if client is not None else None
    if client is None or app is None:
        raise OAuthError("invalid_client", "Unknown client_id: not a registered app.", 401)
    if client.expires_at is not None and _aware(client.expires_at) <= _now():
        raise OAuthError("invalid_client", "This app's registration has expired.", 401)
    if Scope.RESIDENTS_DELEGATE not in client.scopes:
        raise OAuthError("invalid_client", "This client may not act for residents.", 401)
    return client, app


@dataclass(frozen=True, slots=True)
class AuthRequest:
    """A validated authorization request."""

    client: Client
    redirect_uri: str
    scope: smart.SmartScopes
    state: str | None
    code_challenge: str

    @property
    def principal(self) -> Principal:
        from hub.access.service import principal_of

        return principal_of(self.client)


AUTHORIZE_PARAMS = ("response_type", "client_id", "redirect_uri", "scope", "state",
                    "code_challenge", "code_challenge_method", "aud")  # fmt: skip


async def validate(session: AsyncSession, params: dict[str, str], fhir_base: str) -> AuthRequest:
    """Check an authorization request (§4.1.1, RFC 7636 §4.3, SMART's aud)."""
    try:
        client, app = await client_of(session, params.get("client_id"))
    except OAuthError as e:
        raise AuthorizeError(e.error, e.description, redirect=False) from None
    redirect_uri = params.get("redirect_uri") or ""
    if redirect_uri not in app.redirect_uris:  # exact match, no prefix matching
        raise AuthorizeError("invalid_request", "redirect_uri is not one registered for "
                             "this app.", redirect=False)  # fmt: skip

    def fail(error: str, text: str) -> AuthorizeError:
        return AuthorizeError(error, text, redirect=True)

    if params.get("response_type") != "code":
        raise fail("unsupported_response_type", "Only response_type=code is supported.")
    challenge = params.get("code_challenge") or ""
    if params.get("code_challenge_method") != "S256":
        raise fail("invalid_request", "PKCE is required with code_challenge_method=S256.")
    if not CODE_CHALLENGE_PATTERN.match(challenge):
        raise fail("invalid_request", "code_challenge is missing or malformed (RFC 7636).")
    aud = params.get("aud")
    if aud is not None and aud.rstrip("/") != fhir_base.rstrip("/"):
        raise fail("invalid_request", f"aud must be this server's FHIR base URL, {fhir_base}.")
    state = params.get("state")
    if state is not None and len(state) > 500:
        raise fail("invalid_request", "state is too long (500 characters at most).")
    scope = smart.parse((params.get("scope") or "")[:1000])
    if not smart.has_resource_scope(scope):
        raise fail("invalid_scope", "Ask for at least one patient-level scope, e.g. "
                   "patient/*.read or patient/Patient.rs.")  # fmt: skip
    return AuthRequest(client, redirect_uri, scope, state, challenge)


async def issue_code(
    session: AsyncSession, req: AuthRequest, resident_id: int, *, seconds: int
) -> str:
    code = secrets.token_urlsafe(32)
    session.add(OAuthCode(
        code_hash=_hash(code), client_id=req.client.id, resident_id=resident_id,
        redirect_uri=req.redirect_uri, scope=req.scope.scope, code_challenge=req.code_challenge,
        expires_at=_now() + dt.timedelta(seconds=seconds)))  # fmt: skip
    await session.flush()
    return code


async def exchange(
    session: AsyncSession, form: dict[str, str], *, token_minutes: int
) -> dict[str, Any]:
    """The token response for an authorization code (§4.1.3, RFC 7636 §4.6). A failed
    exchange still burns the code: the caller commits before answering the error."""
    grant = form.get("grant_type")
    if not grant:
        raise OAuthError("invalid_request", "grant_type is required.")
    if grant != "authorization_code":
        raise OAuthError("unsupported_grant_type", "Only grant_type=authorization_code.")
    client, _ = await client_of(session, form.get("client_id"))
    code, verifier = form.get("code") or "", form.get("code_verifier") or ""
    if not code:
        raise OAuthError("invalid_request", "code is required.")
    if not verifier:
        raise OAuthError("invalid_request", "code_verifier is required (PKCE).")
    row = await session.get(OAuthCode, _hash(code[:200]), with_for_update=True)
    if row is None or row.client_id != client.id:
        raise OAuthError("invalid_grant", "The code is unknown or was not issued to this app.")
    if row.used_at is not None:
        # presented again: a stolen code; the token it gave is revoked (§4.1.2, §10.5)
        await resident_tokens.revoke_hashes(session, [row.token_hash] if row.token_hash else [])
        raise OAuthError("invalid_grant", "The code was used already.")
    row.used_at = _now()  # from here on, once: whatever follows
    if _aware(row.expires_at) <= _now():
        raise OAuthError("invalid_grant", "The code has expired.")
    if form.get("redirect_uri") != row.redirect_uri:
        raise OAuthError("invalid_grant", "redirect_uri differs from the authorization "
                         "request's.")  # fmt: skip
    if not CODE_VERIFIER_PATTERN.match(verifier) or not compare_s256_code_challenge(
        verifier, row.code_challenge
    ):
        raise OAuthError("invalid_grant", "code_verifier does not match the code_challenge.")
    issued = await resident_tokens.issue(session, client.id, row.resident_id,
                                         token_minutes=token_minutes, scope=row.scope)  # fmt: skip
    row.token_hash = resident_tokens.hash_of(issued.token)
    expires_in = max(0, int((issued.expires_at - _now()).total_seconds()))
    out: dict[str, Any] = {"access_token": issued.token, "token_type": "Bearer",
                           "expires_in": expires_in, "scope": row.scope}  # fmt: skip
    out["patient"] = str(row.resident_id)  # SMART launch context: the FHIR Patient id
    return out


async def revoke(session: AsyncSession, form: dict[str, str]) -> None:
    """RFC 7009 §2.1: revoke a token the calling app holds. An unknown, expired or foreign
    kind of token is no error (§2.2); another app's token is invalid_grant."""
    client, _ = await client_of(session, form.get("client_id"))
    token = form.get("token")
    if not token:
        raise OAuthError("invalid_request", "token is required.")
    row = await resident_tokens.token_row(session, token)
    if row is None:
        return
    if row.client_id != client.id:
        raise OAuthError("invalid_grant", "The token was not issued to this app.")
    await resident_tokens.revoke_hashes(session, [row.token_hash])


async def introspect(session: AsyncSession, caller: Principal, token: str) -> dict[str, Any]:
    """RFC 7662: for the app the token was issued to (or an admin), what it stands for;
    ``{"active": false}`` for anything else, telling nothing more."""
    inactive = {"active": False}
    if caller.resident_ids or caller.client_id is None:
        return inactive
    row = await resident_tokens.token_row(session, token)
    if row is None or not resident_tokens.live(row):
        return inactive
    if row.client_id != caller.client_id and not caller.is_admin:
        return inactive
    client = await session.get(Client, row.client_id)
    if client is None or not client.active:
        return inactive
    out: dict[str, Any] = {
        "active": True, "token_type": "Bearer", "client_id": client.name,
        "sub": f"Patient/{row.resident_id}", "patient": str(row.resident_id),
        "iat": int(_aware(row.created_at).timestamp()),
        "exp": int(_aware(row.expires_at).timestamp()),
    }  # fmt: skip
    if row.scope is not None:
        out["scope"] = row.scope
    return out
