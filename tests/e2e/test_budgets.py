"""Budgets per client, over real HTTP: static cost, the per-request maximum, the cost budget,
the request rate (shared by two real server processes), introspection, FHIR REST."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer

ROOT = Path(__file__).resolve().parents[2]
PAGE = "residents(first: 100) { edges { node { id name } } }"  # 1 + 100 × (1 + 1 + 2) = 401


def make_client(url: str, name: str, scopes: list[str], **budgets: Any) -> str:
    from hub.access.service import create_client
    from hub.db import Database

    async def run() -> str:
        db = Database(url)
        try:
            async with db.transaction() as session:
                _, token = await create_client(session, name, scopes, **budgets)
                return token
        finally:
            await db.dispose()

    return asyncio.run(run())


def post(base: str, token: str, query: str, path: str = "/graphql") -> httpx.Response:
    return httpx.post(base + path, json={"query": query},
                      headers={"Authorization": f"Bearer {token}"}, timeout=30)  # fmt: skip


@pytest.fixture(scope="module")
def server(db_url: str) -> Iterator[LiveServer]:
    from hub.app import build_hub, create_app

    with LiveServer(create_app(build_hub(database_url=db_url))) as live:
        yield live


def test_static_cost_counts_fields_times_pages() -> None:
    from graphql import parse

    from schema import build_schema
    from schema.cost import operation_cost

    schema = build_schema()._schema
    assert operation_cost(schema, parse("{ " + PAGE + " }"))[0] == 401
    # no `first`: the default page (20); a variable's value is used when given
    assert operation_cost(schema, parse("{ residents { edges { node { id } } } }"))[0] == 61
    doc = parse("query($n: Int) { residents(first: $n) { edges { node { id } } } }")
    assert operation_cost(schema, doc, variables={"n": 5})[0] == 16
    # fragments count where they are spread; introspection is noticed
    doc = parse("fragment F on Resident { id name } { residents(first: 10) "
                "{ edges { node { ...F } } } __schema { queryType { name } } }")
    cost, introspects = operation_cost(schema, doc)
    assert cost == 1 + 10 * 4 + 3 and introspects


def test_every_response_carries_its_cost(db_url: str, server: LiveServer) -> None:
    token = make_client(db_url, "cost-reader", ["residents:read"], cost_per_minute=100_000)
    body = post(server.url, token, "{ " + PAGE + " }").json()
    cost = body["extensions"]["cost"]
    assert cost["requested"] == 401
    assert 0 <= cost["remaining"] <= 100_000 - 401 and cost["resetAt"].endswith("+00:00")
    # an invalid document costs nothing, and says so
    body = post(server.url, token, "{ nosuchfield }").json()
    assert body["errors"] and body["extensions"]["cost"]["requested"] == 0


def test_an_operation_over_the_maximum_is_refused_before_it_runs(
    db_url: str, server: LiveServer
) -> None:
    token = make_client(db_url, "greedy", ["residents:read"])
    fields = "id residentId name sex birthDate active age region signed categories fhir"
    aliases = " ".join(  # 20 × (1 + 100 × (1 + 1 + 20 + contracts' 1 + 3 × 1)) = 52,020
        f"a{i}: residents(first: 100) {{ edges {{ node {{ {fields} contracts {{ id }} }} }} }}"
        for i in range(20)
    )
    started = time.monotonic()
    response = post(server.url, token, "{ " + aliases + " }")
    assert response.status_code == 200
    body = response.json()
    error = body["errors"][0]
    assert error["extensions"]["code"] == "QUERY_TOO_COSTLY"
    assert error["extensions"]["cost"] > error["extensions"]["maximum"] == 50_000
    assert body["data"] is None and time.monotonic() - started < 2
    assert body["extensions"]["cost"]["requested"] == error["extensions"]["cost"]


def test_over_the_cost_budget_is_429_cost_limit(db_url: str, server: LiveServer) -> None:
    token = make_client(db_url, "small-budget", ["residents:read"], cost_per_minute=1000)
    codes = []
    for _ in range(4):
        response = post(server.url, token, "{ " + PAGE + " }")
        codes.append(response.status_code)
        if response.status_code == 429:
            body = response.json()
            assert body["errors"][0]["extensions"]["code"] == "COST_LIMIT"
            assert int(response.headers["Retry-After"]) >= 1
            assert body["extensions"]["cost"]["requested"] == 401
            break
    assert codes == [200, 200, 429]
    # over its whole budget in one operation: never possible, so refused as too costly
    body = post(server.url, token, "{ a: " + PAGE + " b: " + PAGE + " c: " + PAGE + " }").json()
    assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"


def test_fhir_rest_shares_the_rate_budget(db_url: str, server: LiveServer) -> None:
    token = make_client(db_url, "fhir-app", ["residents:read"], rate_per_minute=3)
    headers = {"Authorization": f"Bearer {token}"}
    statuses = [httpx.get(server.url + "/fhir/metadata", headers=headers).status_code
                for _ in range(3)]  # fmt: skip
    assert statuses == [200, 200, 200]
    response = httpx.get(server.url + "/fhir/metadata", headers=headers)
    assert response.status_code == 429 and int(response.headers["Retry-After"]) >= 1
    assert response.json()["issue"][0]["code"] == "throttled"
    body = post(server.url, token, "{ __typename }").json()  # GraphQL: the same bucket
    assert body["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    assert "cost" in body["extensions"]


def test_introspection_is_off_for_non_admins_in_production(db_url: str) -> None:
    from hub import crypto
    from hub.app import build_hub, create_app
    from hub.settings import Settings

    crypto.keyring()  # production needs a configured key: the one this test run uses
    key_file = crypto.DEV_KEY_FILE if crypto.keyring().source == str(crypto.DEV_KEY_FILE) else None
    settings = Settings(database_url=db_url, mode="production", key_file=key_file)
    query = "{ __schema { queryType { name } } }"
    plain = make_client(db_url, "prod-app", ["residents:read"])
    allowed = make_client(db_url, "prod-tool", ["residents:read"], introspection=True)
    admin = make_client(db_url, "prod-admin", ["admin"])
    with LiveServer(create_app(build_hub(settings))) as live:
        body = post(live.url, plain, query).json()
        assert body["errors"][0]["extensions"]["code"] == "INTROSPECTION_DISABLED"
        assert post(live.url, plain, "{ __typename }").json()["data"] == {"__typename": "Query"}
        for token in (allowed, admin):
            assert post(live.url, token, query).json()["data"]["__schema"]["queryType"]


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_a_rate_is_one_budget_across_two_processes(db_url: str, tmp_path: Path) -> None:
    """Two `hub serve` processes on one database: a 30/min client is refused within 40
    requests sent alternately to both, and never gets more than its allowance."""
    token = make_client(db_url, "two-proc", ["residents:read"], rate_per_minute=30)
    env = {**os.environ, "HUB_DATABASE_URL": db_url, "HUB_HIS_ENABLED": "false",
           "HUB_LOG_LEVEL": "WARNING"}  # fmt: skip
    ports = [_free_port(), _free_port()]
    logs = [tmp_path / f"serve-{p}.log" for p in ports]
    procs = [subprocess.Popen([sys.executable, "-m", "hub.cli", "serve", "--port", str(p)],
                              env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=log.open("wb")) for p, log in zip(ports, logs, strict=True)]  # fmt: skip
    try:
        deadline = time.monotonic() + 120  # two cold starts on a shared 2-core machine
        for port in ports:
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline and proc_alive(procs), [
                    log.read_text()[-2000:] for log in logs]
                time.sleep(0.1)
        started, ok, refused = time.monotonic(), 0, None
        for i in range(40):
            response = post(f"http://127.0.0.1:{ports[i % 2]}", token, "{ __typename }")
            if response.status_code == 429:
                refused = response
                break
            assert response.status_code == 200
            ok += 1
        assert refused is not None, "no 429 within 40 requests"
        assert int(refused.headers["Retry-After"]) >= 1
        assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        refill = (time.monotonic() - started) * 30 / 60
        assert ok <= 30 + refill + 1
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def proc_alive(procs: list[subprocess.Popen[bytes]]) -> bool:
    return all(p.poll() is None for p in procs)


def test_concurrent_first_requests_and_many_stores_share_one_bucket(db_url: str) -> None:
    """A client's first requests arriving together are not refused; four stores (as four
    processes would hold) together never admit more than the bucket holds."""
    from hub.access.budgets import RATE, BudgetStore
    from hub.access.service import get_client
    from hub.db import Database

    make_client(db_url, "bucket-a", ["residents:read"])
    make_client(db_url, "bucket-b", ["residents:read"])

    async def run() -> tuple[list[bool], int]:
        db = Database(db_url)
        try:
            async with db.reader() as session:
                a = (await get_client(session, "bucket-a")).id
                b = (await get_client(session, "bucket-b")).id
            store = BudgetStore(db)
            first = await asyncio.gather(*(store.charge(a, RATE, 1, 600) for _ in range(16)))
            stores = [BudgetStore(db) for _ in range(4)]
            many = await asyncio.gather(*(stores[i % 4].charge(b, RATE, 1, 30)
                                          for i in range(80)))  # fmt: skip
            return [c.allowed for c in first], sum(c.allowed for c in many)
        finally:
            await db.dispose()

    first, admitted = asyncio.run(run())
    assert all(first)
    assert 30 <= admitted <= 31  # the bucket, plus what refilled while the test ran


def test_budgets_are_set_from_the_command_line(db_url: str) -> None:
    import json

    from typer.testing import CliRunner

    from hub.cli import app

    def hub(*args: str) -> Any:
        return CliRunner().invoke(app, [*args, "--database", db_url])

    made = hub("client", "create", "cli-budgeted", "--scope", "residents:read",
               "--rate", "600/min", "--cost", "100000/min")  # fmt: skip
    assert made.exit_code == 0 and "rate=600/min cost=100000/min" in made.output, made.output
    assert hub("client", "update", "cli-budgeted", "--rate", "10/s", "--no-introspection"
               ).exit_code == 0  # fmt: skip
    shown = json.loads(hub("client", "show", "cli-budgeted", "--json").output)
    # 10/s is 600/min; the cost budget given at create stays
    assert (shown["rate_per_minute"], shown["cost_per_minute"], shown["introspection"]) == (
        600, 100000, False)
    bad = hub("client", "update", "cli-budgeted", "--rate", "many")
    assert bad.exit_code == 2 and "INVALID_BUDGET" in bad.output
