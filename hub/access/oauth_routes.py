"""The OAuth 2.0 / SMART endpoints over HTTP (hub.access.oauth holds the rules):

- ``GET|POST /oauth/authorize`` — the resident's pages: ID number + name, then the
  one-time code sent to the phone on the record; then back to the app with ``code`` and
  ``state`` (or ``error``, RFC 6749 §4.1.2.1);
- ``POST /oauth/token`` — code + PKCE verifier → resident token (§4.1.3; errors §5.2);
- ``POST /oauth/revoke`` (RFC 7009), ``POST /oauth/introspect`` (RFC 7662, bearer token of
  the app's hub client);
- ``GET /fhir/.well-known/smart-configuration`` (and at the root) — SMART discovery.
"""

from __future__ import annotations

import html
import json
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from hub.access import oauth, resident_tokens
from hub.access.sms import sender_from
from hub.errors import DomainError

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
MAX_FORM = 16_384


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _hub(request: Request) -> Any:
    return request.app.state.hub


async def _form(request: Request) -> dict[str, str]:
    kind = request.headers.get("content-type", "").split(";")[0].strip()
    if kind != "application/x-www-form-urlencoded":
        raise oauth.OAuthError("invalid_request", "Send an application/x-www-form-urlencoded "
                               "body.")  # fmt: skip
    body = await request.body()
    if len(body) > MAX_FORM:
        raise oauth.OAuthError("invalid_request", "The form is too large.")
    try:
        items = parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=bool(body))
    except (UnicodeDecodeError, ValueError):
        raise oauth.OAuthError("invalid_request", "The body is not URL-encoded UTF-8.") from None
    out: dict[str, str] = {}
    for k, v in items:
        if k in out:  # §3.1: parameters must not be included more than once
            raise oauth.OAuthError("invalid_request", f"{k} is given more than once.")
        out[k] = v
    return out


def _json(body: dict[str, Any], status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=NO_STORE)


def _back(redirect_uri: str, **params: str | None) -> RedirectResponse:
    """Back to the app: the parameters added to the redirect URI's query (§4.1.2)."""
    parts = urlsplit(redirect_uri)
    extra = urlencode({k: v for k, v in params.items() if v is not None})
    query = f"{parts.query}&{extra}" if parts.query else extra
    return RedirectResponse(urlunsplit(parts._replace(query=query)), status_code=302,
                            headers=NO_STORE)  # fmt: skip


# -- the resident's pages ------------------------------------------------------------------

PAGE = """<!doctype html><html lang="zh"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>居民登录 · Sign in</title>
</head><body><main><h1>居民登录 · Resident sign-in</h1><p>{app} asks to read your health
record{scopes}.</p>{error}<form method="post" action="/oauth/authorize">{hidden}{fields}
<button name="step" value="{step}">{button}</button>
<button name="step" value="deny" formnovalidate>拒绝 · Deny</button></form></main></body></html>"""


def _page(req: oauth.AuthRequest, params: dict[str, str], *, step: str, error: str = "",
          login_id: str = "", status: int = 200) -> HTMLResponse:  # fmt: skip
    hidden = "".join(
        f'<input type="hidden" name="{k}" value="{html.escape(params[k])}">'
        for k in oauth.AUTHORIZE_PARAMS if params.get(k) is not None
    )  # fmt: skip
    if step == "start":
        fields = ('<label>身份证号 · ID number <input name="id_number" required maxlength="40">'
                  '</label><label>姓名 · Name <input name="name" required maxlength="100">'
                  "</label>")  # fmt: skip
        button = "发送验证码 · Send code"
    else:
        hidden += f'<input type="hidden" name="login_id" value="{html.escape(login_id)}">'
        fields = (
            '<label>验证码 · Code sent to your phone <input name="code" required '
            'inputmode="numeric" autocomplete="one-time-code" maxlength="10"></label>'
        )
        button = "登录 · Sign in"
    scopes = f" ({html.escape(req.scope.scope)})" if req.scope.scope else ""
    alert = f'<p role="alert">{html.escape(error)}</p>' if error else ""
    body = PAGE.format(app=html.escape(req.client.name), scopes=scopes, hidden=hidden,
                       fields=fields, step=step, button=button, error=alert)  # fmt: skip
    return HTMLResponse(body, status_code=status, headers=NO_STORE)


def _error_page(e: oauth.OAuthError) -> HTMLResponse:
    """Client or redirect URI in doubt: tell the resident, never redirect (§4.1.2.1)."""
    text = (f"<!doctype html><meta charset='utf-8'><title>{html.escape(e.error)}</title>"
            f"<h1>{html.escape(e.error)}</h1><p>{html.escape(e.description)}</p>")  # fmt: skip
    return HTMLResponse(text, status_code=400, headers=NO_STORE)


async def authorize(request: Request) -> Response:
    hub = _hub(request)
    if request.method == "GET":
        params = dict(request.query_params)
    else:
        try:
            params = await _form(request)
        except oauth.OAuthError as e:
            return _error_page(e)
    try:
        async with hub.db.reader() as session:
            req = await oauth.validate(session, params, _base(request) + "/fhir")
    except oauth.AuthorizeError as e:
        if not e.redirect:
            return _error_page(e)
        return _back(params.get("redirect_uri") or "", error=e.error,
                     error_description=e.description, state=params.get("state"))  # fmt: skip
    step = params.get("step") if request.method == "POST" else None
    if step is None:
        return _page(req, params, step="start")
    if step == "deny":
        return _back(req.redirect_uri, error="access_denied",
                     error_description="The resident declined.", state=req.state)  # fmt: skip
    if step == "start":
        return await _start(request, req, params)
    if step == "code":
        return await _complete(request, req, params)
    return _page(req, params, step="start", error="Unknown step.", status=400)


async def _start(request: Request, req: oauth.AuthRequest, params: dict[str, str]) -> Response:
    hub = _hub(request)
    s = hub.settings
    try:
        async with hub.db.transaction() as session:
            login_id = await resident_tokens.start_login(
                session, req.principal, params.get("id_number", ""), params.get("name", ""),
                sender=sender_from(s.sms_sender), code_minutes=s.resident_code_minutes,
                limits=resident_tokens.LoginLimits.of(hub))  # fmt: skip
    except DomainError as e:
        status = 429 if e.code == "LOGIN_RATE_LIMITED" else 400
        return _page(req, params, step="start", error=f"{e.code}: {e.message}", status=status)
    return _page(req, params, step="code", login_id=login_id)


async def _complete(request: Request, req: oauth.AuthRequest, params: dict[str, str]) -> Response:
    hub = _hub(request)
    login_id = params.get("login_id", "")
    failure: DomainError | None = None
    code = None
    try:
        async with hub.db.transaction() as session:
            try:
                rid = await resident_tokens.verify_code(session, req.client.id, login_id,
                                                        params.get("code", ""))  # fmt: skip
                code = await oauth.issue_code(session, req, rid,
                                              seconds=hub.settings.oauth_code_seconds)  # fmt: skip
            except resident_tokens.CommittedFailure as e:
                failure = e.error  # the try is counted: the transaction commits
    except DomainError as e:
        failure = e
    if code is None:
        assert failure is not None
        if failure.code == "WRONG_CODE":
            return _page(req, params, step="code", login_id=login_id, status=400,
                         error=f"{failure.code}: {failure.message}")  # fmt: skip
        return _page(req, params, step="start", status=400,
                     error=f"{failure.code}: {failure.message}")  # fmt: skip
    return _back(req.redirect_uri, code=code, state=req.state)


# -- the app's endpoints -------------------------------------------------------------------


async def token(request: Request) -> Response:
    hub = _hub(request)
    failure: oauth.OAuthError | None = None
    out: dict[str, Any] | None = None
    try:
        form = await _form(request)
        async with hub.db.transaction() as session:
            try:
                out = await oauth.exchange(
                    session, form, token_minutes=hub.settings.resident_token_minutes
                )
            except oauth.OAuthError as e:
                failure = e  # committed: a code presented is used up, whatever the outcome
    except oauth.OAuthError as e:
        failure = e
    if out is None:
        assert failure is not None
        return _json(failure.body(), failure.status)
    return _json(out)


async def revoke(request: Request) -> Response:
    hub = _hub(request)
    try:
        form = await _form(request)
        async with hub.db.transaction() as session:
            await oauth.revoke(session, form)
    except oauth.OAuthError as e:
        return _json(e.body(), e.status)
    return Response(status_code=200, headers=NO_STORE)


async def introspect(request: Request) -> Response:
    hub = _hub(request)
    try:
        form = await _form(request)
    except oauth.OAuthError as e:
        return _json(e.body(), e.status)
    if not form.get("token"):
        return _json(oauth.OAuthError("invalid_request", "token is required.").body(), 400)
    async with hub.db.reader() as session:
        out = await oauth.introspect(session, request.scope["principal"], form["token"])
    return _json(out)


# -- discovery -----------------------------------------------------------------------------

SCOPES_SUPPORTED = ["launch/patient", "patient/*.read", "patient/*.rs", "patient/*.write",
                    "patient/*.cruds", "patient/Patient.read", "patient/Patient.rs"]  # fmt: skip


def endpoints(base: str) -> dict[str, str]:
    return {"authorize": f"{base}/oauth/authorize", "token": f"{base}/oauth/token",
            "revoke": f"{base}/oauth/revoke", "introspect": f"{base}/oauth/introspect"}  # fmt: skip


def smart_configuration(base: str) -> dict[str, Any]:
    e = endpoints(base)
    return {
        "authorization_endpoint": e["authorize"],
        "token_endpoint": e["token"],
        "revocation_endpoint": e["revoke"],
        "introspection_endpoint": e["introspect"],
        "token_endpoint_auth_methods_supported": ["none"],
        "grant_types_supported": ["authorization_code"],
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": SCOPES_SUPPORTED,
        "capabilities": [
            "launch-standalone",
            "client-public",
            "context-standalone-patient",
            "permission-patient",
            "permission-v1",
            "permission-v2",
        ],  # fmt: skip
    }


def capability_security(base: str) -> dict[str, Any]:
    """The CapabilityStatement's rest.security: SMART-on-FHIR with its OAuth URIs."""
    e = endpoints(base)
    return {
        "extension": [{
            "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
            "extension": [{"url": k, "valueUri": v} for k, v in e.items()],
        }],
        "service": [{"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
            "code": "SMART-on-FHIR"}]}],
        "description": "Bearer token of a hub client, or a resident token from OAuth 2.0 "
        "(authorization code + PKCE S256) with SMART patient scopes; scopes and bindings "
        "apply.",
    }  # fmt: skip


async def smart_config(request: Request) -> Response:
    body = json.dumps(smart_configuration(_base(request)))
    return Response(body, media_type="application/json")


routes = [
    Route("/oauth/authorize", authorize, methods=["GET", "POST"]),
    Route("/oauth/token", token, methods=["POST"]),
    Route("/oauth/revoke", revoke, methods=["POST"]),
    Route("/oauth/introspect", introspect, methods=["POST"]),
    Route("/.well-known/smart-configuration", smart_config),
    Route("/fhir/.well-known/smart-configuration", smart_config),
]
