"""Fuzzing: schemathesis generates operations for every query and mutation of the schema and
sends them to the running app over HTTP; no answer may be a server error or break the
schema. Webhooks registered by the fuzzer point at a local receiver (never the internet)."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from tests.conftest import LiveServer, create_client_token

TOTAL = 1008  # operations, spread evenly over every query and mutation (≥ 1,000)
URL_ARGUMENT = re.compile(r'url: "(?:[^"\\]|\\.)*"')
# Operations another part of the hub still answers with an internal error, with why; they
# are fuzzed and reported (printed), and fail nothing until they are fixed.
KNOWN_BROKEN: dict[str, str] = {}


class _Receiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def receiver() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()


@pytest.fixture(scope="module")
def fuzz_target(sqlite_url: str) -> Iterator[tuple[LiveServer, str]]:
    from hub.app import build_hub, create_app
    from hub.settings import get_settings

    # the fuzzer's own client is unlimited: it should reach resolvers, not its budget
    settings_ = get_settings().model_copy(update=dict(default_cost_per_minute=0,
                                                      default_rate_per_minute=0))  # fmt: skip
    token = create_client_token(sqlite_url, "fuzzer", ["admin"])
    with LiveServer(create_app(build_hub(settings_, database_url=sqlite_url))) as live:
        yield live, token


@pytest.fixture(scope="module")
def fuzz_schema(fuzz_target: tuple[LiveServer, str]) -> Any:
    from graphql import get_introspection_query

    live, token = fuzz_target
    response = httpx.post(live.url + "/graphql", json={"query": get_introspection_query()},
                          headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    loaded = schemathesis.graphql.from_dict(response.json()["data"])
    loaded.location = live.url + "/graphql"
    return loaded


def check(label: str, response: Any, sent: str = "") -> None:
    """No 5xx; a GraphQL-shaped JSON object; no field breaking its schema type (a null for a
    non-null field); every error typed with a stable code, none an unexpected (masked) one.
    (schemathesis' own check counts every GraphQL error as a server error; here a typed
    refusal of bad input is the expected answer.)"""
    from schemathesis.specs.graphql.validation import is_schema_violation

    where = (label, sent[:300], response.text[:300])
    assert response.status_code < 500, where
    body = response.json()
    assert isinstance(body, dict) and ("data" in body or "errors" in body), where
    for error in body.get("errors") or []:
        assert not is_schema_violation([error]), where
        assert (error.get("extensions") or {}).get("code"), where
        assert not error["message"].startswith("Internal error"), where
    assert "cost" in (body.get("extensions") or {}) or response.status_code != 200, where


def _fuzz(operation: Any, examples: int, send: Any, receiver: str,
          sent: dict[str, int], broken: dict[str, str]) -> None:  # fmt: skip
    from hypothesis import given

    label = operation.label

    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(case=operation.as_strategy())
    def run(case: Any) -> None:
        if isinstance(case.body, str):
            case.body = URL_ARGUMENT.sub(f'url: "{receiver}"', case.body)
        response = send(case)
        sent[label] = sent.get(label, 0) + 1
        try:
            check(label, response, str(case.body))
        except AssertionError as e:
            if label not in KNOWN_BROKEN:
                raise
            broken[label] = str(e)[:300]

    run()


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
def test_no_operation_breaks_the_server_or_the_schema(
    fuzz_schema: Any, fuzz_target: tuple[LiveServer, str], receiver: str
) -> None:
    """Every root field of Query and Mutation, TOTAL generated operations in all."""
    import requests

    live, token = fuzz_target
    headers = {"Authorization": f"Bearer {token}"}
    sent: dict[str, int] = {}
    broken: dict[str, str] = {}
    http = requests.Session()  # one connection for all cases

    def send(case: Any) -> Any:
        return case.call(base_url=live.url + "/graphql", headers=headers, session=http)

    operations = [result.ok() for result in fuzz_schema.get_all_operations()]
    examples = -(-TOTAL // len(operations))
    for operation in operations:
        _fuzz(operation, examples, send, receiver, sent, broken)
    assert set(sent) == {o.label for o in operations}  # every query and mutation was reached
    print(f"fuzzed {sum(sent.values())} operations over {len(sent)} root fields")
    for label, failure in broken.items():
        print(f"KNOWN BROKEN {label} ({KNOWN_BROKEN[label]}): {failure}")
    assert sum(sent.values()) >= 1000, sum(sent.values())
