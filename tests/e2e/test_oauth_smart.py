"""A SMART on FHIR app (an OAuth 2.0 public client) gets a resident token through the
authorization-code flow with PKCE, the one-time-code login as the resident's proof; the
token's patient scopes narrow what it reads; revocation ends it at once."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from hub.settings import Settings
from tests.conftest import Api, LiveServer, create_client_token
from tests.e2e.contract_support import run
from tests.e2e.test_resident_self_service import START, family, gid  # noqa: F401

REDIRECT = "https://app.example.cn/callback"
SCOPES = ["residents:delegate", "residents:read", "contracts:read", "contracts:write",
          "referrals:read", "referrals:write"]  # fmt: skip
READ = "query($id: ID!) { resident(id: $id) { residentId fhir } }"


@pytest.fixture(scope="module")
def sms(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sms") / "sms.log"


def _register(db_url: str, name: str, uris: list[str]) -> None:
    from hub.access.oauth import register

    async def go(session: AsyncSession) -> None:
        await register(session, name, uris)

    run(db_url, go, write=True)


@pytest.fixture(scope="module")
def server(db_url: str, sms: Path) -> Iterator[LiveServer]:
    from hub.app import create_app
    from hub.core import build_hub
    from hub.demo.load import load_demo

    assert asyncio.run(load_demo(db_url, scale=0.02, regions=("panyu",))).startswith("loaded")
    hub = build_hub(Settings(database_url=db_url, sms_sender=f"file:{sms}",
                             resident_codes_per_person=0))  # fmt: skip
    with LiveServer(create_app(hub)) as live:
        yield live


@pytest.fixture(scope="module")
def app_token(db_url: str, server: LiveServer) -> str:
    """The app's own hub client token (introspection); its OAuth client_id is its name."""
    token = create_client_token(db_url, "smart-app", SCOPES)
    _register(db_url, "smart-app", [REDIRECT, "com.example.app:/cb"])
    return token


@pytest.fixture(scope="module")
def http(server: LiveServer, app_token: str) -> httpx.Client:
    return httpx.Client(base_url=server.url, timeout=30, follow_redirects=False)


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _params(server: LiveServer, challenge: str, **over: str) -> dict[str, str]:
    p = {"response_type": "code", "client_id": "smart-app", "redirect_uri": REDIRECT,
         "scope": "launch/patient patient/*.read openid offline_access", "state": "st-42",
         "aud": f"{server.url}/fhir", "code_challenge": challenge,
         "code_challenge_method": "S256"}  # fmt: skip
    p.update(over)
    return p


def _sms_code(sms: Path, login_id: str) -> str:
    for line in sms.read_text().splitlines():
        lid, _, code = line.partition(" ")
        if lid == login_id:
            return code
    raise AssertionError("no code sent for this login")


def _hidden(page: str, name: str) -> str:
    m = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert m, page
    return m.group(1)


def authorize(http: httpx.Client, server: LiveServer, sms: Path, who: dict[str, Any],
              **over: str) -> tuple[str, str, dict[str, str]]:  # fmt: skip
    """The resident's walk through the pages: (code, verifier, the request's parameters)."""
    verifier, challenge = _pkce()
    params = _params(server, challenge, **over)
    first = http.get("/oauth/authorize", params=params)
    assert first.status_code == 200 and "身份证号" in first.text, first.text
    sent = http.post("/oauth/authorize", data={**params, "step": "start",
                                               "id_number": who["id_number"],
                                               "name": who["name"]})  # fmt: skip
    assert sent.status_code == 200, sent.text
    login_id = _hidden(sent.text, "login_id")
    done = http.post("/oauth/authorize", data={**params, "step": "code", "login_id": login_id,
                                               "code": _sms_code(sms, login_id)})  # fmt: skip
    assert done.status_code == 302, done.text
    back = urlsplit(done.headers["location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == params["redirect_uri"]
    query = {k: v[0] for k, v in parse_qs(back.query).items()}
    assert query["state"] == params["state"]
    return query["code"], verifier, params


def exchange(http: httpx.Client, code: str, verifier: str, **over: str) -> httpx.Response:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
            "client_id": "smart-app", "code_verifier": verifier, **over}  # fmt: skip
    return http.post("/oauth/token", data=form)


def fhir(server: LiveServer, token: str) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"},
                        timeout=30)  # fmt: skip


def test_discovery_names_the_endpoints(http: httpx.Client, server: LiveServer,
                                       app_token: str) -> None:  # fmt: skip
    conf = http.get("/fhir/.well-known/smart-configuration")
    assert conf.status_code == 200
    body = conf.json()
    assert body["code_challenge_methods_supported"] == ["S256"]
    assert body["token_endpoint"] == f"{server.url}/oauth/token"
    assert body["revocation_endpoint"] == f"{server.url}/oauth/revoke"
    assert "permission-v2" in body["capabilities"]
    assert http.get("/.well-known/smart-configuration").json() == body
    meta = fhir(server, app_token).get("/fhir/metadata").json()
    security = meta["rest"][0]["security"]
    assert security["service"][0]["coding"][0]["code"] == "SMART-on-FHIR"
    uris = {e["url"]: e["valueUri"] for e in security["extension"][0]["extension"]}
    assert uris["authorize"] == body["authorization_endpoint"]
    assert uris["token"] == body["token_endpoint"]


def test_code_flow_with_pkce_reads_own_record_only(
    http: httpx.Client, server: LiveServer, sms: Path, family: dict[str, Any]  # noqa: F811
) -> None:
    code, verifier, _ = authorize(http, server, sms, family)
    got = exchange(http, code, verifier)
    assert got.status_code == 200, got.text
    assert got.headers["cache-control"] == "no-store"
    tok = got.json()
    assert tok["token_type"] == "Bearer" and tok["expires_in"] > 0
    assert tok["patient"] == str(family["head"])
    granted = set(tok["scope"].split())
    assert granted == {"launch/patient", "patient/*.read"}  # no openid, no refresh tokens
    me = fhir(server, tok["access_token"])
    assert me.get(f"/fhir/Patient/{family['head']}").status_code == 200
    assert me.get(f"/fhir/Patient/{family['child']}").status_code == 200
    other = me.get(f"/fhir/Patient/{family['other']}")
    nobody = me.get("/fhir/Patient/2147483000")
    assert other.status_code == nobody.status_code == 404
    strip = lambda r: re.sub(r"\d+", "N", r.json()["issue"][0]["diagnostics"])  # noqa: E731
    assert strip(other) == strip(nobody)  # another resident looks like nobody at all
    seen = me.get("/fhir/Patient", params={"_count": "50"}).json()
    ids = {e["resource"]["id"] for e in seen.get("entry", [])}
    assert str(family["head"]) in ids and ids <= {str(family["head"]), str(family["child"])}
    gql = Api(server.url, tok["access_token"])
    assert gql(READ, {"id": gid(family["head"])})["resident"]["residentId"] == family["head"]
    assert gql(READ, {"id": gid(family["other"])})["resident"] is None
    # the code works once; presented again it is refused and its token revoked
    again = exchange(http, code, verifier)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert me.get(f"/fhir/Patient/{family['head']}").status_code == 401


def test_wrong_verifier_is_invalid_grant_and_burns_the_code(
    http: httpx.Client, server: LiveServer, sms: Path, family: dict[str, Any]  # noqa: F811
) -> None:
    code, verifier, _ = authorize(http, server, sms, family)
    wrong = exchange(http, code, _pkce()[0])
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    assert "access_token" not in wrong.json()
    late = exchange(http, code, verifier)
    assert late.status_code == 400 and late.json()["error"] == "invalid_grant"
    missing = exchange(http, "x", "")
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    grant = exchange(http, code, verifier, grant_type="password")
    assert grant.json()["error"] == "unsupported_grant_type"
    client = exchange(http, code, verifier, client_id="nobody")
    assert client.status_code == 401 and client.json()["error"] == "invalid_client"


def test_redirect_uri_mismatch_is_refused(
    http: httpx.Client, server: LiveServer, sms: Path, family: dict[str, Any]  # noqa: F811
) -> None:
    _, challenge = _pkce()
    for uri in ("https://evil.example/callback", REDIRECT + "/more", ""):
        page = http.get("/oauth/authorize", params=_params(server, challenge, redirect_uri=uri))
        # never sent back to an unregistered address
        assert page.status_code == 400 and "location" not in page.headers
        assert "invalid_request" in page.text
    unknown = http.get("/oauth/authorize", params=_params(server, challenge, client_id="x"))
    assert unknown.status_code == 400 and "invalid_client" in unknown.text
    # at the token endpoint: a code issued for one registered URI, redeemed with another
    code, verifier, _ = authorize(http, server, sms, family)
    other = exchange(http, code, verifier, redirect_uri="com.example.app:/cb")
    assert other.status_code == 400 and other.json()["error"] == "invalid_grant"


def test_request_errors_go_back_to_the_app(http: httpx.Client, server: LiveServer) -> None:
    _, challenge = _pkce()
    cases = {
        "invalid_request": {"code_challenge_method": "plain"},  # S256 only
        "unsupported_response_type": {"response_type": "token"},
        "invalid_scope": {"scope": "openid user/*.read"},
    }
    for error, over in cases.items():
        r = http.get("/oauth/authorize", params=_params(server, challenge, **over))
        assert r.status_code == 302, (error, r.text)
        q = parse_qs(urlsplit(r.headers["location"]).query)
        assert q["error"] == [error] and q["state"] == ["st-42"]
    missing = http.get("/oauth/authorize", params=_params(server, "short"))
    assert parse_qs(urlsplit(missing.headers["location"]).query)["error"] == ["invalid_request"]
    aud = http.get("/oauth/authorize", params=_params(server, challenge, aud="https://x/fhir"))
    assert parse_qs(urlsplit(aud.headers["location"]).query)["error"] == ["invalid_request"]
    deny = http.post("/oauth/authorize", data={**_params(server, challenge), "step": "deny"})
    assert parse_qs(urlsplit(deny.headers["location"]).query)["error"] == ["access_denied"]


def test_revoked_token_is_refused_at_once_and_introspection_follows(
    http: httpx.Client, server: LiveServer, sms: Path, family: dict[str, Any],  # noqa: F811
    app_token: str, db_url: str,
) -> None:  # fmt: skip
    code, verifier, _ = authorize(http, server, sms, family)
    token = exchange(http, code, verifier).json()["access_token"]
    me = fhir(server, token)
    assert me.get(f"/fhir/Patient/{family['head']}").status_code == 200
    app = fhir(server, app_token)
    seen = app.post("/oauth/introspect", data={"token": token}).json()
    assert seen["active"] is True and seen["client_id"] == "smart-app"
    assert seen["patient"] == str(family["head"]) and "patient/*.read" in seen["scope"]
    stranger = fhir(server, create_client_token(db_url, "other-app", SCOPES))
    assert stranger.post("/oauth/introspect", data={"token": token}).json() == {"active": False}
    _register(db_url, "other-app", ["https://other.example/cb"])
    foreign = http.post("/oauth/revoke", data={"token": token, "client_id": "other-app"})
    assert foreign.status_code == 400 and foreign.json()["error"] == "invalid_grant"
    assert me.get(f"/fhir/Patient/{family['head']}").status_code == 200
    out = http.post("/oauth/revoke", data={"token": token, "token_type_hint": "access_token",
                                           "client_id": "smart-app"})  # fmt: skip
    assert out.status_code == 200
    assert me.get(f"/fhir/Patient/{family['head']}").status_code == 401
    assert Api(server.url, token).raw(READ, {"id": gid(family["head"])}).status_code == 401
    assert app.post("/oauth/introspect", data={"token": token}).json() == {"active": False}
    # revoking again, or a token nobody issued: 200 (RFC 7009 §2.2)
    assert http.post("/oauth/revoke", data={"token": token, "client_id": "smart-app"}
                     ).status_code == 200  # fmt: skip
    assert http.post("/oauth/revoke", data={"token": "hubr_nothing", "client_id": "smart-app"}
                     ).status_code == 200  # fmt: skip
    no_client = http.post("/oauth/revoke", data={"token": token})
    assert no_client.status_code == 401 and no_client.json()["error"] == "invalid_client"


@pytest.mark.parametrize("scope", ["patient/Patient.read", "patient/Patient.rs"])
def test_narrower_scope_limits_what_is_readable(
    http: httpx.Client, server: LiveServer, sms: Path, family: dict[str, Any],  # noqa: F811
    scope: str,
) -> None:  # fmt: skip
    code, verifier, _ = authorize(http, server, sms, family, scope=f"launch/patient {scope}")
    tok = exchange(http, code, verifier).json()
    assert set(tok["scope"].split()) == {"launch/patient", scope}
    me = fhir(server, tok["access_token"])
    assert me.get(f"/fhir/Patient/{family['head']}").status_code == 200
    assert me.get("/fhir/Patient", params={"_id": str(family["head"])}).status_code == 200
    for rtype in ("Immunization", "Contract", "ServiceRequest", "Appointment"):
        refused = me.get(f"/fhir/{rtype}", params={"patient": str(family["head"])})
        assert refused.status_code == 403, (rtype, refused.text)
        assert refused.json()["issue"][0]["code"] == "forbidden"
    everything = me.get(f"/fhir/Patient/{family['head']}/$everything").json()
    assert {e["resource"]["resourceType"] for e in everything.get("entry", [])} <= {
        "Patient", "Organization", "Practitioner", "CareTeam"}  # fmt: skip
    # GraphQL: residents:read reaches more than Patient (immunizations, pregnancies...), so
    # this token holds no hub read scope: refused, where patient/*.read reads
    full_code, full_verifier, _ = authorize(http, server, sms, family)
    full = Api(server.url, exchange(http, full_code, full_verifier).json()["access_token"])
    narrow = Api(server.url, tok["access_token"])
    assert "birthDate" in full(READ, {"id": gid(family["head"])})["resident"]["fhir"]
    for query in (READ, "{ contracts(first: 5) { totalCount } }"):
        refused = narrow.raw(query, {"id": gid(family["head"])}).json()
        assert refused["errors"][0]["extensions"]["code"] == "MISSING_SCOPE"


def test_v2_read_without_search_refuses_a_search(
    http: httpx.Client, server: LiveServer, sms: Path, family: dict[str, Any]  # noqa: F811
) -> None:
    code, verifier, _ = authorize(http, server, sms, family, scope="patient/Patient.r")
    me = fhir(server, exchange(http, code, verifier).json()["access_token"])
    assert me.get(f"/fhir/Patient/{family['head']}").status_code == 200
    assert me.get("/fhir/Patient", params={"_id": str(family["head"])}).status_code == 403


def test_wrong_code_on_the_page_and_a_private_scheme_redirect(
    http: httpx.Client, server: LiveServer, sms: Path, family: dict[str, Any]  # noqa: F811
) -> None:
    verifier, challenge = _pkce()
    params = _params(server, challenge, redirect_uri="com.example.app:/cb")
    sent = http.post("/oauth/authorize", data={**params, "step": "start",
                                               "id_number": family["id_number"],
                                               "name": family["name"]})  # fmt: skip
    login_id = _hidden(sent.text, "login_id")
    right = _sms_code(sms, login_id)
    bad = http.post("/oauth/authorize", data={**params, "step": "code", "login_id": login_id,
                                              "code": "000000" if right != "000000" else "1"})
    assert bad.status_code == 400 and "WRONG_CODE" in bad.text
    ok = http.post("/oauth/authorize", data={**params, "step": "code", "login_id": login_id,
                                             "code": right})  # fmt: skip
    assert ok.status_code == 302 and ok.headers["location"].startswith("com.example.app:/cb?")
    code = parse_qs(urlsplit(ok.headers["location"]).query)["code"][0]
    got = exchange(http, code, verifier, redirect_uri="com.example.app:/cb")
    assert got.status_code == 200 and got.json()["patient"] == str(family["head"])


def test_login_codes_are_limited_per_person_and_per_client(
    db_url: str, server: LiveServer, sms: Path, family: dict[str, Any]  # noqa: F811
) -> None:
    from hub.app import create_app
    from hub.core import build_hub

    hub = build_hub(Settings(database_url=db_url, sms_sender=f"file:{sms}",
                             resident_codes_per_person=2, resident_codes_per_client=6))  # fmt: skip
    vendor = create_client_token(db_url, "limited-app", SCOPES)
    with LiveServer(create_app(hub)) as live:
        api = Api(live.url, vendor)

        def start(id_number: str, name: str) -> list[str]:
            out = api(START, {"i": id_number, "n": name})["startResidentLogin"]
            return [e["code"] for e in out["userErrors"]]

        assert start(family["id_number"], family["name"]) == []
        assert start(family["id_number"], family["name"]) == []
        assert start(family["id_number"], family["name"]) == ["LOGIN_RATE_LIMITED"]
        # a number nobody holds is limited alike: the limit tells nothing about the registry
        ghost = "11010519491231002X"
        assert start(ghost, "无名") == [] and start(ghost, "无名") == []
        assert start(ghost, "无名") == ["LOGIN_RATE_LIMITED"]
        # the app's own limit (6 codes asked for in the window) holds for any further person
        assert start("110105194912310037", "某人") == ["LOGIN_RATE_LIMITED"]
