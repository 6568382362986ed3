"""Personal data never reaches a log line: known PHI goes through GraphQL and FHIR — valid
and invalid requests, bad ids, malformed bodies, over-long strings, a forced internal
error carrying the PHI in its message — with everything logged at DEBUG captured
(structlog, uvicorn's access and error logs, sqlalchemy, asyncio)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from hub.logs import client_mistake, get_logger, redact
from tests.conftest import Api, create_client_token
from tests.phi_support import (
    ADDRESS,
    ID_NUMBER,
    NAME,
    PHI,
    PHONE,
    LoggedServer,
    assert_no_phi,
    captured_logs,
    phi_record,
)

SUBMIT = """
mutation($input: ResidentRecordInput!) { submitResidentRecord(input: $input) {
  outcome resident { id name idNumber } userErrors { code field message } } }"""
BY_ID_NUMBER = """
query($v: String!) { residentByIdentifier(system: ID_CARD, value: $v) { id name } }"""
INTERNAL = f"lookup failed for {NAME} {ID_NUMBER} {PHONE} at {ADDRESS}"


@pytest.fixture(scope="module")
def logged(db_url: str) -> Iterator[tuple[Any, Any, Api]]:
    from hub.app import build_hub, create_app
    from hub.settings import Settings

    hub = build_hub(Settings(log_level="DEBUG"), database_url=db_url)
    token = create_client_token(db_url, "privacy", ["admin"])
    with captured_logs("DEBUG") as logs, LoggedServer(create_app(hub)) as server:
        api = Api(server.url, token)
        api.http.headers["X-Request-ID"] = PHONE  # a client's header is logged too
        yield hub, logs, api


def _wait_for(logs: Any, text: str) -> str:
    deadline = time.monotonic() + 5
    while text not in logs.getvalue() and time.monotonic() < deadline:
        time.sleep(0.02)
    return logs.getvalue()


def test_graphql_with_phi_logs_none_of_it(logged: tuple[Any, Any, Api]) -> None:
    _, logs, api = logged
    stored = api(SUBMIT, {"input": phi_record()})["submitResidentRecord"]
    assert stored["resident"]["name"] == NAME, stored
    rid = stored["resident"]["id"]
    assert api(BY_ID_NUMBER, {"v": ID_NUMBER})["residentByIdentifier"]["id"] == rid
    assert api("query($n: String) { residents(filter: {name: $n}) { totalCount } }", {"n": NAME})
    # invalid input carrying PHI: userErrors, GraphQL errors, refused bodies
    bad = api(SUBMIT, {"input": phi_record("PHI-2", idNumber=ID_NUMBER[:-1] + "0", sex="x")})
    assert bad["submitResidentRecord"]["userErrors"]
    api.raw(SUBMIT, {"input": phi_record("PHI-3", name=NAME * 100, address=ADDRESS * 20)})
    api.raw(SUBMIT, {"input": {**phi_record("PHI-4"), "birthDate": f"{NAME}{PHONE}"}})
    api.raw(f'{{ resident(id: "{ID_NUMBER}") {{ id }} }}')
    api.raw(f'{{ node(id: "{NAME}") {{ id }} }}')
    api.raw(f'{{ residentByIdentifier(system: ID_CARD, value: "{NAME}{PHONE}") {{ id }}')
    api.raw("query($v: Int) { __typename }", {"v": f"{NAME} {ID_NUMBER}"})
    headers = {"content-type": "application/json"}
    variables = {"v": ID_NUMBER, "n": NAME}
    broken = json.dumps({"query": BY_ID_NUMBER, "variables": variables}, ensure_ascii=False)
    for body in (broken[:-3].encode(), broken.encode("gbk"), broken.encode()[:-2] + b"\xff}"):
        assert api.http.post("/graphql", content=body, headers=headers).status_code == 400
    text = _wait_for(logs, "http.refused")
    assert "graphql.client_error" in text or "graphql.rejected" in text
    assert_no_phi(text)


def test_an_internal_error_with_phi_in_its_message(
    logged: tuple[Any, Any, Api], monkeypatch: pytest.MonkeyPatch
) -> None:
    hub, logs, api = logged

    async def broken(*_: Any, **__: Any) -> Any:
        local_name, local_phone = NAME, PHONE  # noqa: F841 - locals must not be printed
        raise RuntimeError(INTERNAL)

    monkeypatch.setattr(hub.registry, "find_by_identifier", broken)
    from hub.fhir import search as fhir_search

    monkeypatch.setattr(fhir_search, "run", broken)  # FHIR search's one entry
    started = time.monotonic()
    body = api.raw(BY_ID_NUMBER, {"v": ID_NUMBER}).json()
    assert time.monotonic() - started < 1  # no seconds-long rich traceback
    assert body["errors"][0]["message"] == "Internal error; it has been logged."
    response = api.http.get("/fhir/Patient", params={"identifier": f"ID_CARD|{ID_NUMBER}"})
    assert response.status_code == 500  # Starlette's own page; the hub logs it once
    text = _wait_for(logs, "http.unhandled")
    assert "graphql.error" in text and "RuntimeError" in text and "Traceback" in text
    assert "local_name" not in text and "local_phone" not in text  # no locals
    assert_no_phi(text)


def test_fhir_with_phi_logs_none_of_it(logged: tuple[Any, Any, Api]) -> None:
    _, logs, api = logged
    http: httpx.Client = api.http
    for path in (
        f"/fhir/Patient/{ID_NUMBER}",
        "/fhir/Patient/99999999999999999999999",
        f"/fhir/Patient/{quote(NAME)}",
        f"/fhir/Organization/{quote(ADDRESS)}",
    ):
        assert http.get(path).status_code == 404
    for token in (f"ID_CARD|{ID_NUMBER}", f"{NAME}|{PHONE}", f"ID_CARD|{NAME}{ADDRESS}"):
        assert http.get("/fhir/Patient", params={"identifier": token}).status_code < 500
    text = _wait_for(logs, "/fhir/Organization/")
    assert "GET /fhir/Patient" in text  # uvicorn's access lines were captured
    assert_no_phi(text)


def test_every_log_path_is_scrubbed() -> None:
    from hub import logs as hub_logs

    hub_logs._CLIENT_LIMIT._state.clear()  # earlier tests' windows (the limiter is per process)
    with captured_logs("DEBUG") as logs:
        log = get_logger("tests.privacy")
        log.info(f"event with {NAME}", detail=f"{ADDRESS} {PHONE}", number=int(ID_NUMBER[:17]))
        log.debug("dict", data={"who": NAME}, items=[PHONE, ID_NUMBER])
        try:
            secret_local = ADDRESS  # noqa: F841
            raise ValueError(f"bad {ID_NUMBER} for {NAME}")
        except ValueError:
            started = time.monotonic()
            log.exception("failed")
            assert time.monotonic() - started < 0.05
        logging.getLogger("sqlalchemy.engine").warning("params %r", (NAME, PHONE, ID_NUMBER))
        try:
            raise KeyError(ADDRESS)
        except KeyError:
            logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
        for _ in range(50):
            client_mistake("graphql.client_error", "INVALID_ID_NUMBER")
    text = logs.getvalue()
    assert "failed" in text and "params" in text and "Exception in ASGI application" in text
    assert "secret_local" not in text and "[redacted]" in text
    assert text.count("INVALID_ID_NUMBER") <= 6  # rate-limited, not 50 lines
    mistakes = [line for line in text.splitlines() if "INVALID_ID_NUMBER" in line]
    assert mistakes and all("[info" in line for line in mistakes)  # not errors
    assert "client.mistakes_suppressed" not in text  # the count comes with the next window
    assert_no_phi(text)


def test_redact_covers_escaped_and_grouped_forms() -> None:
    samples = [
        quote(NAME),
        json.dumps(NAME),
        repr(NAME.encode()),
        repr(NAME.encode("gbk")),
        f"{ID_NUMBER[:6]} {ID_NUMBER[6:14]} {ID_NUMBER[14:]}",
        "139-1234-5678",
        f"+86{PHONE}",
        ID_NUMBER.lower(),
    ]
    for sample in samples:
        clean = redact(sample)
        assert "[redacted]" in clean and not any(p in clean for p in PHI), (sample, clean)
    assert redact("hub.start database=sqlite port=8000 count=12") == (
        "hub.start database=sqlite port=8000 count=12"
    )


def test_settings_are_logged_without_secrets() -> None:
    from hub.settings import Settings

    settings = Settings(database_url="postgresql+asyncpg://hub:s3cret-pw@db.local/hub")
    shown = json.dumps(settings.sanitized())
    assert "s3cret-pw" not in shown and "db.local" in shown
